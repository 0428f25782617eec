"""Shared fixtures: app, a clean database per test, a CSRF-on client, login_as(role), factories.

The database comes from DMS_TEST_DATABASE_URL (default: an SQLite file in a temporary folder). The
schema is built once per run with the real migrations; each test then starts from the state those
migrations leave (their seed rows restored, everything else emptied).
"""

import os
import re
import socket
from contextlib import contextmanager
from urllib.parse import urlparse

import pytest
from sqlalchemy import MetaData, delete, insert, select, text

os.environ["DMS_ENV"] = "testing"
IN_CI = os.environ.get("CI", "").lower() == "true"
# Reference data the migrations load and the application never writes: left in place between tests
# (reloading 3,000+ regions per test would cost ~100 ms on PostgreSQL). A session check guards it.
READ_ONLY_TABLES = {"alembic_version", "regions"}

# Property tests (Hypothesis): a fixed budget of examples; in CI derandomized, so a run is repeatable
# and a failure shows the same falsifying example on every rerun. Locally each run explores afresh.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("dms", max_examples=int(os.environ.get("DMS_HYPOTHESIS_EXAMPLES", "100")),
                          deadline=None, derandomize=IN_CI, print_blob=True,
                          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.load_profile("dms")


def pytest_collection_modifyitems(config, items):
    """On SQLite, leave out (deselect, not skip) the tests marked postgresql: the PostgreSQL run has them."""
    if os.environ.get("DMS_TEST_DATABASE_URL", "").startswith("postgresql"):
        return
    kept = [item for item in items if item.get_closest_marker("postgresql") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


def service_reachable(url: str, default_port: int) -> bool:
    """True when a TCP connection to the URL's host and port opens."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, port: int):
    """Skip when a service is missing, except in CI, where a missing service fails loudly."""
    if service_reachable(url, port):
        return
    if IN_CI:
        pytest.fail(f"{name} is not reachable at {url}: in CI this suite must run", pytrace=False)
    pytest.skip(f"{name} is not reachable at {url}")


def postgres_server_url(purpose: str) -> str:
    """DMS_TEST_DATABASE_URL, which must name a PostgreSQL server: for tests that make databases of their own."""
    url = os.environ.get("DMS_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        pytest.fail(f"{purpose} needs DMS_TEST_DATABASE_URL pointing at PostgreSQL", pytrace=False)
    require_service("PostgreSQL", url.replace("+psycopg", ""), 5432)
    return url


@contextmanager
def flushed_redis_db(number: int):
    """The URL of database `number` on the test Redis (DMS_TEST_REDIS_URL's server), flushed before and after."""
    from redis import Redis

    from tests.scaleout.cluster import with_redis_db

    url = with_redis_db(os.environ.get("DMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), number)
    require_service("Redis", url, 6379)
    connection = Redis.from_url(url)
    connection.flushdb()
    try:
        yield url
    finally:
        connection.flushdb()
        connection.close()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("DMS_TEST_DATABASE_URL")
    if url:
        require_service("PostgreSQL", url.replace("+psycopg", ""), 5432)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def app(database_url):
    from dms import create_app
    from dms.extensions import db

    os.environ["DMS_TEST_DATABASE_URL"] = database_url
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        if database_url.startswith("postgresql"):
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        from flask_migrate import upgrade

        upgrade()
        # What the migrations leave behind (roles, their permissions) is the starting state of every test.
        meta = MetaData()
        meta.reflect(bind=db.engine)
        with db.engine.connect() as conn:
            app.config["_SEED_ROWS"] = {t.name: [dict(r._mapping) for r in conn.execute(select(t))]
                                        for t in meta.sorted_tables if t.name not in READ_ONLY_TABLES}
            read_only_counts = _read_only_counts(conn, meta)
        app.config["_META"] = meta
    yield app
    with app.app_context(), db.engine.connect() as conn:
        assert _read_only_counts(conn, app.config["_META"]) == read_only_counts, (
            "a test changed a read-only reference table; the tests after it saw altered data")


def _read_only_counts(conn, meta) -> dict:
    from sqlalchemy import func

    return {t.name: conn.scalar(select(func.count()).select_from(t))
            for t in meta.sorted_tables if t.name in READ_ONLY_TABLES}


def _reset_database(app):
    from dms.extensions import db

    meta = app.config["_META"]
    seeds = app.config["_SEED_ROWS"]
    tables = [t for t in meta.sorted_tables if t.name not in READ_ONLY_TABLES]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for t in reversed(tables):
                conn.execute(delete(t))
            if conn.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first():
                conn.execute(text("DELETE FROM sqlite_sequence"))
        for t in tables:
            if seeds.get(t.name):
                conn.execute(insert(t), seeds[t.name])
                if conn.dialect.name == "postgresql" and "id" in t.c:
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), "
                                      f"(SELECT max(id) FROM \"{t.name}\"))"))


@pytest.fixture(autouse=True)
def _clean_state(request, app):
    """Every test starts with the migrated database, no rate-limit counters, no leftovers."""
    from dms.extensions import db, limiter

    ctx = app.app_context()
    ctx.push()
    _reset_database(app)
    limiter.reset()
    yield
    db.session.remove()
    ctx.pop()


@pytest.fixture
def db_session(app):
    from dms.extensions import db

    return db.session


class Client:
    """A test client that behaves like a browser: it reads CSRF tokens from pages (CSRF stays on)."""

    TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')

    def __init__(self, app, flask_client):
        self.app = app
        self.http = flask_client
        self.csrf = None

    def _send(self, method: str, *args, **kw):
        # Each request gets its own application context (its own `g` and database session), as in
        # production; otherwise the test's context would be reused and leak state between requests.
        from dms.extensions import db

        with self.app.app_context():
            response = getattr(self.http, method)(*args, **kw)
        db.session.expire_all()  # the test's own session sees what the request committed
        return response

    def _remember_token(self, response):
        if response.mimetype == "text/html":
            match = self.TOKEN_RE.search(response.get_data(as_text=True))
            if match:
                self.csrf = match.group(1) or match.group(2)
        return response

    def get(self, url, htmx=False, **kw):
        headers = kw.pop("headers", {})
        if htmx:
            headers["HX-Request"] = "true"
        return self._remember_token(self._send("get", url, headers=headers, **kw))

    def post(self, url, data=None, htmx=False, csrf=True, **kw):
        """POST a form; the CSRF token of the last page is added unless csrf=False."""
        headers = kw.pop("headers", {})
        data = dict(data or {})
        if csrf:
            if self.csrf is None:
                self.get("/login")
            if htmx:
                headers["X-CSRFToken"] = self.csrf
            else:
                data.setdefault("csrf_token", self.csrf)
        if htmx:
            headers["HX-Request"] = "true"
        return self._remember_token(self._send("post", url, data=data, headers=headers, **kw))

    def __getattr__(self, name):
        return getattr(self.http, name)


@pytest.fixture
def client(app):
    return Client(app, app.test_client())


@pytest.fixture
def english(client):
    """The English interface for `client`, so pages' messages are checked as their msgids."""
    client.http.set_cookie("dms_locale", "en")


@pytest.fixture
def make_user(app):
    """Factory: make_user(role="admin", username=None, password=..., **fields) -> User (committed)."""
    from dms.accounts import services
    from dms.core.jobs import commit

    counter = {"n": 0}

    def make(role="admin", username=None, password="correct-horse-battery", **fields):
        counter["n"] += 1
        roles = [role] if isinstance(role, str) else list(role)
        user = services.create_user(None, username=username or f"{roles[0] if roles else 'user'}{counter['n']}",
                                    password=password, roles=roles, **fields)
        commit()
        return user

    return make


@pytest.fixture
def login_as(client, make_user):
    """login_as(role or user, password=...) -> the logged-in user; the client keeps the session."""

    def login(who="admin", password="correct-horse-battery"):
        user = make_user(who, password=password) if isinstance(who, str) else who
        client.get("/login")
        response = client.post("/login", {"username": user.username, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        client.get(response.headers["Location"])  # as a browser would; also picks up the new CSRF token
        return user

    return login


# Factories of the distributors area, usable by every area's tests.
from tests.factories import grant, hq_warehouse, login_distributor, make_distributor, make_product  # noqa: E402, F401
