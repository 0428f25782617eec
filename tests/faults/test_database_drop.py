"""Drill: the request's own PostgreSQL backend is terminated mid-request, after some of its rows were flushed.

A hook on the engine waits for a chosen statement of the request (its order lines' INSERT, when the customer
and the order are already written in the open transaction) and, from a second connection, has the server
terminate the backend serving that request (`pg_terminate_backend`), as a restart, a failover or an admin's
kill would. The request must then answer a clean 503 `service_unavailable` with Retry-After (API.md's JSON
error for the API, the error page for the web form), log it, and leave no partial write behind. The next
requests work: the broken connection was discarded, and `pool_pre_ping` replaces pooled connections the
server closed meanwhile (every other backend of the app is terminated too before them).

The app under drill is built from the production configuration (dms/config.py with DATABASE_URL set, as
gunicorn loads it), so it has the engine options production has; TestingConfig's app does not ping.
"""

import logging
import uuid

import psycopg
import pytest
from sqlalchemy import event

from dms.core.models import AuditLog, Job
from dms.customers.models import Customer
from dms.extensions import db
from dms.inventory.models import StockMovement
from dms.orders.models import Order, OrderEvent, OrderLine
from tests.conftest import Client
from tests.orders.form_data import customer_form, lines_form

pytestmark = pytest.mark.postgresql

DRILL_APP_NAME = "hb-db-drop-drill"
COUNTED = (Order, OrderLine, OrderEvent, Customer, StockMovement, Job, AuditLog)


def counts() -> dict:
    """Rows per table of everything placing an order writes, and the stock reserved (read on a connection of
    its own: the drill terminates the pools' connections, and the test's app does not ping them)."""
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        found = {model.__tablename__: conn.execute(f'SELECT count(*) FROM "{model.__tablename__}"').fetchone()[0]
                 for model in COUNTED}
        found["reserved"] = conn.execute("SELECT coalesce(sum(reserved), 0) FROM stock_balances").fetchone()[0]
    return found


def admin_url() -> str:
    """The test database as a plain psycopg URL (for the second, killing connection)."""
    return db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def prod_app(app, monkeypatch):
    """An app on the test database configured as production configures it (engine options included)."""
    from dms import create_app
    from dms.config import load_config
    from dms.extensions import db as extension

    monkeypatch.setenv("DMS_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", app.config["SQLALCHEMY_DATABASE_URI"])
    monkeypatch.setenv("SECRET_KEY", app.config["SECRET_KEY"])
    monkeypatch.setenv("DMS_FIELD_KEYS", ",".join(app.config["DMS_FIELD_KEYS"]))
    monkeypatch.delenv("REDIS_URL", raising=False)
    config = load_config()
    config.SESSION_COOKIE_SECURE = False  # the test client speaks plain HTTP (TLS ends at the load balancer)
    # Named, so that the drill terminates this app's pooled connections and not the test fixtures' own.
    config.SQLALCHEMY_ENGINE_OPTIONS["connect_args"] = {"application_name": DRILL_APP_NAME}
    monkeypatch.setenv("DMS_ENV", "testing")
    drilled = create_app(config)
    assert drilled.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping") is True
    yield drilled
    with drilled.app_context():
        extension.engine.dispose()


def engine_of(some_app):
    """The SQLAlchemy engine of that app."""
    with some_app.app_context():
        return db.engine


class BackendKiller:
    """Terminate the backend that is about to run the first statement starting with `prefix` (once)."""

    def __init__(self, engine, prefix: str):
        self.engine = engine
        self.prefix = prefix.upper()
        self.killed: list[int] = []
        self.seen_before: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        """before_cursor_execute: kill this connection's backend just before it sends the chosen statement."""
        if self.killed:
            return
        text = statement.lstrip().upper()
        if not text.startswith(self.prefix):
            self.seen_before.append(text.split("(")[0][:40])
            return
        pid = conn.connection.dbapi_connection.info.backend_pid
        with psycopg.connect(admin_url(), autocommit=True) as killer:
            # The second argument makes the server wait until the backend is gone (PostgreSQL 14+).
            assert killer.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,)).fetchone()[0] is True
        self.killed.append(pid)

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self)


def terminate_idle_backends() -> int:
    """Terminate every backend of the drilled app (its pool's idle connections); how many."""
    with psycopg.connect(admin_url(), autocommit=True) as killer:
        return len(killer.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s", (DRILL_APP_NAME,)).fetchall())


@pytest.fixture
def shop(make_distributor, make_product, make_user):
    """A county distributor (番禺区) with 50 bottles of water, an API client and a manager with a password."""
    from dms.api.services import create_client
    from dms.core.jobs import commit
    from dms.inventory import services as inventory

    distributor = make_distributor("440113")
    water = make_product(name="桶装水", price="18.00")
    inventory.receive(None, distributor.warehouse, [{"product": water, "quantity": 50}])
    api_client, secret = create_client(None, name="小程序", distributor_id=distributor.id)
    commit()
    manager = make_user("distributor", distributor_id=distributor.id)
    return {"distributor": distributor, "water": water, "client_id": api_client.client_id, "secret": secret,
            "manager": manager}


def api_order(http, water: int, bearer: str, key: str):
    """POST /api/orders (two units of water for a new customer) with an Idempotency-Key."""
    body = {"customer": {"name": "顾客", "phone": "13800138000", "region_code": "440113", "address": "幸福路 1 号"},
            "lines": [{"product_id": water, "quantity": 2}]}
    return http.post("/api/orders", json=body, headers={"Authorization": f"Bearer {bearer}", "Idempotency-Key": key})


def test_api_order_whose_connection_drops_answers_503_saves_nothing_and_the_retry_works(prod_app, shop, caplog):
    http = prod_app.test_client()
    water = shop["water"].id
    granted = http.post("/api/auth/token", data={"grant_type": "client_credentials", "client_id": shop["client_id"],
                                                 "client_secret": shop["secret"]})
    assert granted.status_code == 200, granted.get_data(as_text=True)
    bearer = granted.get_json()["access_token"]
    before = counts()
    key = str(uuid.uuid4())

    with caplog.at_level(logging.ERROR), BackendKiller(engine_of(prod_app), "INSERT INTO order_lines") as killer:
        response = api_order(http, water, bearer, key)
    assert killer.killed, "the hook never fired: the drill did not drop a connection"
    assert any(s.startswith("INSERT INTO CUSTOMERS") for s in killer.seen_before)
    assert any(s.startswith("INSERT INTO ORDERS") for s in killer.seen_before)  # written, then lost
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert response.headers["Retry-After"].isdigit()
    error = response.get_json()["error"]
    assert error["code"] == "service_unavailable" and error["message"]
    assert "Traceback" not in response.get_data(as_text=True) and "psycopg" not in response.get_data(as_text=True)
    assert any("database unavailable" in r.getMessage() and r.exc_info for r in caplog.records)
    assert counts() == before  # no partial write: customer, order, lines, stock, outbox, audit

    # The pool's other connections die too; pre-ping replaces them, so the same request with the same
    # Idempotency-Key (its marker was released) now places the order, once.
    assert terminate_idle_backends() >= 1
    again = api_order(http, water, bearer, key)
    assert again.status_code == 201, again.get_data(as_text=True)[:500]
    replay = api_order(http, water, bearer, key)
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    after = counts()
    assert (after["orders"], after["order_lines"], after["customers"]) == (1, 1, 1)
    assert after["reserved"] == before["reserved"] + 2


def test_web_order_form_whose_connection_drops_shows_an_error_page_and_the_next_page_works(prod_app, shop, caplog):
    client = Client(prod_app, prod_app.test_client())
    client.http.set_cookie("dms_locale", "en")
    client.get("/login")
    login = client.post("/login", {"username": shop["manager"].username, "password": "correct-horse-battery"})
    assert login.status_code == 302, login.get_data(as_text=True)[:500]
    client.get("/orders/new")
    form = {**customer_form(), **lines_form({"product_id": str(shop["water"].id), "quantity": "3"})}
    before = counts()

    with caplog.at_level(logging.ERROR), BackendKiller(engine_of(prod_app), "INSERT INTO order_lines") as killer:
        response = client.post("/orders/new", form)
    assert killer.killed
    html = response.get_data(as_text=True)
    assert response.status_code == 503, html[:500]
    assert response.mimetype == "text/html" and response.headers["Retry-After"].isdigit()
    assert "Nothing was saved" in html, html[:1000]
    assert "Traceback" not in html and "OperationalError" not in html and "psycopg" not in html
    assert any("database unavailable" in r.getMessage() for r in caplog.records)
    assert counts() == before

    # The same htmx request gets the error as a fragment aimed at the flash area, not a page.
    with BackendKiller(engine_of(prod_app), "INSERT INTO order_lines"):
        fragment = client.post("/orders/new", form, htmx=True)
    assert fragment.status_code == 503 and fragment.headers["HX-Retarget"] == "#flash"
    assert counts() == before

    assert terminate_idle_backends() >= 1
    assert client.get("/orders").status_code == 200  # the next page works on a fresh connection
    placed = client.post("/orders/new", form)
    assert placed.status_code == 302, placed.get_data(as_text=True)[:500]
    after = counts()
    assert (after["orders"], after["order_lines"]) == (before["orders"] + 1, before["order_lines"] + 1)
    assert after["reserved"] == before["reserved"] + 3


def test_a_database_error_that_is_a_bug_is_still_a_500(app, client, login_as, monkeypatch):
    from sqlalchemy.exc import IntegrityError

    from dms.orders import views

    login_as("admin")

    def broken(*args, **kwargs):
        raise IntegrityError("INSERT ...", {}, Exception("duplicate key"))

    monkeypatch.setattr(views, "render", broken)
    response = client.get("/orders")
    assert response.status_code == 500 and "Retry-After" not in response.headers
