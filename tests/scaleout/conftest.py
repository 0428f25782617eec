"""Scale-out fixtures: a database and a Redis database of the test's own, and the app bound to them.

The test brings up real processes against its own database, so the shared test database (and the
per-test reset of tests/conftest.py) is not used here: `_clean_state` is replaced by a no-op.
"""

import os

import pytest

from tests.conftest import flushed_redis_db, postgres_server_url
from tests.scaleout.cluster import scratch_database

REDIS_DB = 13  # no other test uses it (the Redis tests use DMS_TEST_REDIS_URL, database 15)


@pytest.fixture(autouse=True)
def _clean_state():
    """No reset of the shared test database: this test never touches it."""
    yield


@pytest.fixture
def scaleout_database_url():
    """A fresh, empty PostgreSQL database (dms_scaleout_<pid>) on the server of DMS_TEST_DATABASE_URL; dropped after."""
    url = postgres_server_url("the scale-out test")
    with scratch_database(url, f"dms_scaleout_{os.getpid()}") as scratch:
        yield scratch


@pytest.fixture
def scaleout_redis_url():
    """Database 13 of the test Redis, flushed before and after."""
    with flushed_redis_db(REDIS_DB) as url:
        yield url


@pytest.fixture
def field_keys():
    """A Fernet key of this run, shared by the seeding app and the nodes (encrypted fields must read back)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


@pytest.fixture
def scaleout_app(scaleout_database_url, field_keys):
    """The app on the scratch database, migrated; jobs run in-process (no REDIS_URL) while seeding."""
    from flask_migrate import upgrade

    from dms import create_app
    from dms.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": scaleout_database_url, "DMS_FIELD_KEYS": [field_keys]})
    with app.app_context():
        upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()  # no pooled connection may keep the database from being dropped
