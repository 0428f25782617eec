"""Plumbing of the service-fault drills (tests/faults/test_redis_outage.py, test_commit_enqueue_crash.py).

Each drill builds its own world, as the scale-out test does: a scratch PostgreSQL database `hb_<what>_<pid>`
(migrated, dropped after), its own redis-server process on a free port (so it can be stopped and started
again without touching the shared Redis), and a small distributor network seeded through the app's
services: a county seller under a city upline, stock of one product, a published two-level commission rule,
an API client and users. The processes (gunicorn, worker.py, redis-server) are tests/scaleout/cluster.py's.
"""

import os
import secrets
import shutil
import subprocess
import uuid
from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.conftest import postgres_server_url
from tests.factories import id_number, publish_backdated_rules
from tests.scaleout.cluster import Http, Process, free_port, python, scratch_database, wait_until

PASSWORD = "correct-horse-battery"
PRICE = Decimal("10.00")
RATES = (Decimal("10"), Decimal("5"))  # the seller, its upline
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
ACTIVE_JOB = ("pending", "queued", "running", "retrying")


@pytest.fixture
def field_keys():
    """A Fernet key of this run, shared by the seeding app and the processes (encrypted fields must read back)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def drill_app(name: str, field_keys: str):
    """A context manager: the app on a fresh scratch database `hb_<name>_<pid>`, migrated; dropped after."""
    from contextlib import contextmanager

    @contextmanager
    def scope():
        from flask_migrate import upgrade

        from dms import create_app
        from dms.extensions import db

        with scratch_database(postgres_server_url("the fault drills"), f"hb_{name}_{os.getpid()}") as url:
            app = create_app({"SQLALCHEMY_DATABASE_URI": url, "DMS_FIELD_KEYS": [field_keys]})
            with app.app_context():
                upgrade()
                db.session.remove()
            try:
                yield app, url
            finally:
                with app.app_context():
                    db.engine.dispose()  # no pooled connection may keep the database from being dropped

    return scope()


class RedisServer:
    """A redis-server of the test's own (no persistence), which the drill may stop and start again on its port."""

    def __init__(self, log_dir):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_dir = log_dir
        self.process: Process | None = None
        self.starts = 0

    def start(self) -> "RedisServer":
        """Start it on its port and wait until it answers PING."""
        if not os.path.exists(REDIS_SERVER):
            pytest.fail(f"{REDIS_SERVER} is not installed", pytrace=False)
        self.starts += 1
        self.process = Process(f"redis{self.starts}", [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                                                        "--save", "", "--appendonly", "no"],
                               dict(os.environ), self.log_dir).start()
        wait_until(self.ping, 10, 0.05, what="redis-server to answer")
        return self

    def ping(self) -> bool:
        """Whether it answers."""
        from redis import Redis
        from redis.exceptions import RedisError

        try:
            return bool(Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except RedisError:
            return False

    def kill(self):
        """SIGKILL it: Redis disappears at once, as in a crash (its data goes with it: no persistence)."""
        if self.process is not None:
            self.process.kill()

    def stop(self):
        """Stop it if it still runs."""
        if self.process is not None and self.process.alive():
            self.process.kill()


def node_env(database_url: str, redis_url: str, field_keys: str, tmp_path) -> dict:
    """The environment of every process: production settings, this drill's database, Redis and keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DMS_", "GUNICORN_", "WEB_CONCURRENCY"))}
    env.update({"DMS_ENV": "production", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                "SECRET_KEY": secrets.token_hex(32), "DMS_FIELD_KEYS": field_keys, "TZ": "Asia/Shanghai",
                "DMS_REPORT_FOLDER": str(tmp_path / "reports"), "PYTHONUNBUFFERED": "1", "FLASK_APP": "wsgi"})
    return env


def web_node(env: dict, tmp_path, name: str = "web") -> tuple[Process, str]:
    """A gunicorn node as production runs it (deploy/gunicorn.conf.py, two workers); (process, base URL)."""
    port = free_port()
    process = Process(name, python("-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"),
                      {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}, tmp_path)
    return process, f"http://127.0.0.1:{port}"


def wait_for_node(base: str, process: Process, timeout: float = 40):
    """Wait until the node answers /healthz (any answer: it is up), or fail with its log."""
    def answers():
        try:
            return Http(base, timeout=2).get("/healthz").status in (200, 503) or not process.alive()
        except OSError:
            return not process.alive()

    wait_until(answers, timeout, what=f"{process.name} to answer /healthz")
    assert process.alive(), process.log_tail()


def seed(app) -> dict:
    """A city upline and a county seller with stock, users, an API client and a published two-level rule."""

    from dms.accounts.services import create_user
    from dms.api.services import create_client
    from dms.catalog.models import Price, Product
    from dms.core.jobs import commit
    from dms.distributors import services
    from dms.extensions import db
    from dms.inventory import services as inventory

    def distributor(region_code, level, name, upline=None):
        return services.create_distributor(None, {
            "kind": "person", "name": name, "id_number": id_number(area="110105"),
            "phone": f"139{secrets.randbelow(10**8):08d}", "region_code": region_code, "level": level,
            "exclusive": True, "profit_share": "10", "upline_id": upline.id if upline else None})

    with app.app_context():
        city = distributor("110100", "city", "北京市代")
        seller = distributor("110105", "county", "朝阳县代", upline=city)
        product = Product(name="桶装水", sku="FAULT-WATER", tracking="none", status="available")
        db.session.add(product)
        db.session.flush()
        db.session.add(Price(product_id=product.id, kind="retail", amount=PRICE))
        inventory.receive(None, seller.warehouse, [{"product": product, "quantity": 1000}])
        create_user(None, username="hq_admin", password=PASSWORD, roles=["admin"])
        create_user(None, username="manager", password=PASSWORD, roles=["distributor"], distributor_id=seller.id)
        courier = create_user(None, username="courier", password=PASSWORD, roles=["courier"],
                              distributor_id=seller.id)
        api_client, secret = create_client(None, name="小程序", distributor_id=seller.id)
        commit()
        publish_backdated_rules(RATES)
        return {"seller": seller.id, "city": city.id, "region": seller.region_code, "product": product.id,
                "courier": courier.id, "client_id": api_client.client_id, "secret": secret}


def token(http: Http, **grant) -> dict:
    """Bearer headers from the token endpoint (password or client_credentials grant)."""
    response = http.post_form("/api/auth/token", grant)
    assert response.status == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def place_order(http: Http, world: dict, client: dict, quantity: int) -> dict:
    """Place one order over the API (with an Idempotency-Key); the response body (201 asserted)."""
    body = {"customer": {"name": "顾客", "phone": f"138{secrets.randbelow(10**8):08d}",
                         "region_code": world["region"], "address": "幸福路 1 号"},
            "lines": [{"product_id": world["product"], "quantity": quantity}]}
    response = http.post_json("/api/orders", body, {**client, "Idempotency-Key": str(uuid.uuid4())})
    assert response.status == 201, response.text
    return response.json()


def deliver(http: Http, world: dict, manager: dict, order: dict):
    """Move an order paid -> assigned -> shipped -> delivered over the API."""
    url = f"/api/orders/{order['order_id']}/transitions"
    for body in ({"to": "paid", "payment": {"method": "wechat", "reference": f"WX{order['order_id']}",
                                            "amount": order["total_price"]}},
                 {"to": "assigned", "courier_id": world["courier"]}, {"to": "shipped"}, {"to": "delivered"}):
        response = http.post_json(url, body, manager)
        assert response.status == 200, (body, response.text)


def expected_commissions(world: dict, orders: dict[int, Decimal]) -> dict:
    """(order id, beneficiary, level) -> amount, computed here from the orders' totals and the rule's rates."""
    expected = {}
    for order_id, total in orders.items():
        for level, (beneficiary, rate) in enumerate(zip((world["seller"], world["city"]), RATES, strict=True), 1):
            expected[(order_id, beneficiary, level)] = (total * rate / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return expected


def in_app(app, work):
    """work() inside an app context with a fresh session (removed after): for reading the drill's database."""
    from dms.extensions import db

    with app.app_context():
        try:
            return work()
        finally:
            db.session.remove()


def job_rows(app) -> list[tuple]:
    """(id, name, status, attempts, key) of every job, by id."""
    from sqlalchemy import select

    from dms.core.models import Job
    from dms.extensions import db

    return in_app(app, lambda: [tuple(r) for r in db.session.execute(
        select(Job.id, Job.name, Job.status, Job.attempts, Job.key).order_by(Job.id))])


def commission_entries(app) -> list[tuple]:
    """(order id, beneficiary, level, amount, kind) of every commission entry."""
    from sqlalchemy import select

    from dms.commissions.models import CommissionEntry
    from dms.extensions import db

    return in_app(app, lambda: [tuple(r) for r in db.session.execute(select(
        CommissionEntry.order_id, CommissionEntry.beneficiary_id, CommissionEntry.level, CommissionEntry.amount,
        CommissionEntry.kind))])


def flask_cli(env: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run `flask <args>` (e.g. `dms relay-outbox`) as its own process with the drill's environment."""
    return subprocess.run(python("-m", "flask", *args), cwd=str(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))), env=env, capture_output=True, text=True, timeout=timeout)
