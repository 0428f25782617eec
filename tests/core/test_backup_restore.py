"""Backup and restore, as docs/operations.md tells an operator to do it: real pg_dump and pg_restore.

A scratch database gets the demo data through the real `flask` commands; it is dumped (custom
format), restored into a second, new database, and the restored copy must pass `flask dms check`,
hold the same rows in every table, and read back its encrypted fields with the same keys.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import postgres_server_url
from tests.scaleout.cluster import ROOT, scratch_database

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]


@pytest.fixture(autouse=True)
def _clean_state():
    """No reset of the shared test database: this test works on databases of its own."""
    yield


@pytest.fixture
def server_url():
    url = postgres_server_url("the backup test")
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed (Debian: postgresql-client)", pytrace=False)
    return url


def _flask(url: str, keys: str, *args: str) -> subprocess.CompletedProcess:
    """Run `flask <args>` against the database `url` with in-process jobs, as an operator would."""
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": "", "DMS_FIELD_KEYS": keys, "FLASK_APP": "wsgi",
           "DMS_ENV": "development", "SECRET_KEY": "backup-test"}
    env.pop("DMS_TEST_DATABASE_URL", None)
    flask = str(Path(sys.executable).with_name("flask"))
    return subprocess.run([flask, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _national_ids(url: str, keys: str) -> list[str]:
    """The decrypted national ID numbers of every distributor, read through the app's own model."""
    from dms import create_app
    from dms.distributors.models import Distributor
    from dms.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DMS_FIELD_KEYS": [keys], "REDIS_URL": ""})
    with app.app_context():
        try:
            return sorted(str(d.id_number or "") for d in db.session.scalars(db.select(Distributor)))
        finally:
            db.session.remove()
            db.engine.dispose()


def test_dump_restore_into_a_new_database_passes_the_check(server_url, tmp_path):
    from cryptography.fernet import Fernet

    keys = Fernet.generate_key().decode()
    pid = os.getpid()
    with scratch_database(server_url, f"dms_backup_src_{pid}") as source, \
            scratch_database(server_url, f"dms_backup_dst_{pid}") as restored:
        for step in (("db", "upgrade"), ("dms", "seed-demo")):
            done = _flask(source, keys, *step)
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

        dump = tmp_path / "dms.dump"
        libpq_source = source.replace("+psycopg", "")
        subprocess.run(["pg_dump", "-Fc", "-Z", "6", "-f", str(dump), libpq_source], check=True, timeout=120)
        listing = subprocess.run(["pg_restore", "-l", str(dump)], check=True, capture_output=True, text=True)
        assert "TABLE DATA public orders" in listing.stdout
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "-d", restored.replace("+psycopg", ""),
                        str(dump)], check=True, timeout=120)

        check = _flask(restored, keys, "dms", "check")
        assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-2000:]
        counts = _table_counts(source)
        assert counts["orders"] > 1000 and counts["commission_entries"] > 0  # the demo's year of history
        assert _table_counts(restored) == counts
        ids = _national_ids(restored, keys)
        assert any(ids) and ids == _national_ids(source, keys)

        # The field keys are part of the backup: without them the restored ID numbers cannot be read.
        with pytest.raises(ValueError, match="cannot be decrypted"):
            _national_ids(restored, Fernet.generate_key().decode())
