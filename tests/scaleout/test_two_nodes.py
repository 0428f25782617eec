"""Two gunicorn nodes and two RQ workers on one PostgreSQL and one Redis: nothing oversold, nothing doubled.

The test builds its own world: a fresh database (migrated), Redis database 13, a four-distributor
network (province > city > two counties), a hot product with fewer units than buyers, and a published
three-level commission rule. It then starts what production runs (docs/deploy.md) — two web nodes
from deploy/gunicorn.conf.py with DMS_ENV=production, two `worker.py --no-cron` workers and the one
`worker.py --cron-only` scheduler — and drives them over HTTP from many threads, alternating nodes:

1. orders race for the hot product's last units (some must be refused) and spread over the two
   sellers; a few are retried with the same Idempotency-Key on the other node; each order then
   moves paid -> assigned -> shipped -> delivered (a few are cancelled instead), each move on the
   other node than the one before, while the workers run the stock-alert jobs those moves enqueue;
2. the workers are stopped (a warm shutdown must exit 0), and every delivered order is completed on
   both nodes at once (one must win); the order.completed jobs wait in Redis. The orders' timestamps
   are then moved into last month, as the commission tests write past orders directly: a month can
   only be settled once it is over, and an order accrues in the month it completed;
3. two fresh workers drain the accruals, and HQ (logged in on one node, its session cookie used on
   both) starts last month's settlement on both nodes at once; the workers run it.

Then, in-process against that database: every `flask dms check` invariant holds, the hot product sold
exactly its stock, the commission entries and statements are exactly those computed here from the
orders, and every job row ran once. Every process must exit 0 on SIGTERM; the finally block kills
what is left, and the fixtures drop the database and flush Redis.
"""

import os
import secrets
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.factories import id_number, publish_backdated_rules
from tests.scaleout.cluster import Http, Process, free_port, healthy, python, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.redis]

D = Decimal
CENT = D("0.01")
PASSWORD = "correct-horse-battery"
HOT_STOCK, HOT_BUYERS = 10, 24  # more buyers than units: exactly HOT_BUYERS - HOT_STOCK are refused
SPREAD_ORDERS = 32  # half for each seller, 1-3 units of water
RATES = (D("10"), D("5"), D("2"))  # seller, its upline (city), the city's upline (province)
PRICES = {"hot": D("18.00"), "water": D("10.00")}
ACTIVE_JOB = ("pending", "queued", "running", "retrying")


def _distributor(region_code: str, level: str, name: str, upline=None):
    from dms.distributors import services

    return services.create_distributor(None, {
        "kind": "person", "name": name, "id_number": id_number(area="110105"),
        "phone": f"139{secrets.randbelow(10**8):08d}", "region_code": region_code, "level": level,
        "exclusive": True, "profit_share": "10",
        "upline_id": upline.id if upline else None})


def _product(name: str, sku: str, price: Decimal):
    from dms.catalog.models import Price, Product
    from dms.extensions import db

    product = Product(name=name, sku=sku, tracking="none", status="available")
    db.session.add(product)
    db.session.flush()
    db.session.add(Price(product_id=product.id, kind="retail", amount=price))
    return product


def seed(app) -> dict:
    """The network, stock, users, API clients and the rule version, made through the app's services."""

    from dms.accounts.services import create_user
    from dms.api.services import create_client
    from dms.core.jobs import commit
    from dms.inventory import services as inventory

    with app.app_context():
        province = _distributor("110000", "province", "北京省代")
        city = _distributor("110100", "city", "北京市代", upline=province)
        seller_a = _distributor("110105", "county", "朝阳县代", upline=city)
        seller_b = _distributor("110108", "county", "海淀县代", upline=city)
        hot = _product("限量礼盒", "SCALE-HOT", PRICES["hot"])
        water = _product("桶装水", "SCALE-WATER", PRICES["water"])
        inventory.receive(None, seller_a.warehouse, [{"product": hot, "quantity": HOT_STOCK},
                                                     {"product": water, "quantity": 500}])
        inventory.receive(None, seller_b.warehouse, [{"product": water, "quantity": 500}])
        create_user(None, username="hq_admin", password=PASSWORD, roles=["admin"])
        sellers = {}
        for key, seller in (("a", seller_a), ("b", seller_b)):
            create_user(None, username=f"manager_{key}", password=PASSWORD, roles=["distributor"],
                        distributor_id=seller.id)
            courier = create_user(None, username=f"courier_{key}", password=PASSWORD, roles=["courier"],
                                  distributor_id=seller.id)
            api_client, secret = create_client(None, name=f"小程序-{key}", distributor_id=seller.id)
            sellers[key] = {"id": seller.id, "region": seller.region_code, "courier_id": courier.id,
                            "client_id": api_client.client_id, "secret": secret, "manager": f"manager_{key}"}
        commit()
        publish_backdated_rules(RATES)  # three levels, no hold: last month's orders are payable now
        return {"sellers": sellers, "hot": hot.id, "water": water.id, "city": city.id, "province": province.id,
                "uplines": {seller_a.id: [seller_a.id, city.id, province.id],
                            seller_b.id: [seller_b.id, city.id, province.id]}}


def node_env(database_url: str, redis_url: str, field_keys: str, tmp_path) -> dict:
    """The environment of every process: production settings, this run's database, Redis and keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DMS_", "GUNICORN_", "WEB_CONCURRENCY"))}
    env.update({"DMS_ENV": "production", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                "SECRET_KEY": secrets.token_hex(32), "DMS_FIELD_KEYS": field_keys, "TZ": "Asia/Shanghai",
                "DMS_REPORT_FOLDER": str(tmp_path / "reports"), "PYTHONUNBUFFERED": "1",
                "FLASK_APP": "wsgi"})
    return env


def token(http: Http, **grant) -> dict:
    """Bearer headers from the token endpoint (password or client_credentials grant)."""
    response = http.post_form("/api/auth/token", grant)
    assert response.status == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def parallel(count: int, work, threads: int = 12) -> list:
    """work(i) for i in range(count) on a thread pool; the results in order (an exception fails the test)."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(work, range(count)))


def job_states(app) -> dict:
    """status -> count over the jobs table."""
    from sqlalchemy import func, select

    from dms.core.models import Job
    from dms.extensions import db

    with app.app_context():
        try:
            return dict(db.session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        finally:
            db.session.remove()


def test_two_nodes_two_workers_sell_and_settle_exactly_once(scaleout_app, scaleout_database_url, scaleout_redis_url,
                                                             field_keys, tmp_path):
    started = time.monotonic()
    phases = {}  # phase -> seconds since the start, printed at the end

    def phase(name):
        phases[name] = round(time.monotonic() - started, 1)

    app = scaleout_app
    world = seed(app)
    env = node_env(scaleout_database_url, scaleout_redis_url, field_keys, tmp_path)
    ports = [free_port(), free_port()]
    web = [Process(f"web{n}", python("-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"),
                   {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}, tmp_path)
           for n, port in enumerate(ports)]

    def worker(name):
        return Process(name, python("worker.py", "--no-cron"), env, tmp_path)

    workers = [worker("worker1"), worker("worker2")]
    scheduler = Process("scheduler", python("worker.py", "--cron-only"), env, tmp_path)
    everything = [*web, *workers, scheduler]
    try:
        for process in everything:
            process.start()
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, process in zip(bases, web, strict=True):
            wait_until(lambda b=base, p=process: healthy(b) or not p.alive(), 40, what=f"{process.name} /healthz")
            assert process.alive(), process.log_tail()
        phase("seeded, 5 processes up")
        nodes = [Http(base) for base in bases]
        sellers = world["sellers"]
        clients = {k: token(nodes[0], grant_type="client_credentials", client_id=s["client_id"],
                            client_secret=s["secret"]) for k, s in sellers.items()}
        # A token issued by one node is honoured by the other: tokens live in the shared database.
        managers = {k: token(nodes[1], grant_type="password", username=s["manager"], password=PASSWORD)
                    for k, s in sellers.items()}

        # --- 1. place: HOT_BUYERS race for HOT_STOCK units, then orders spread over both sellers ---------
        gate = threading.Barrier(HOT_BUYERS)

        def place(key: str, product: str, quantity: int, node: int, wait=None) -> dict:
            seller = sellers[key]
            body = {"customer": {"name": "顾客", "phone": f"138{secrets.randbelow(10**8):08d}",
                                 "region_code": seller["region"], "address": "幸福路 1 号"},
                    "lines": [{"product_id": world[product], "quantity": quantity}]}
            idempotency = str(uuid.uuid4())
            if wait is not None:
                wait.wait(30)
            response = nodes[node].post_json("/api/orders", body, {**clients[key], "Idempotency-Key": idempotency})
            return {"key": key, "product": product, "quantity": quantity, "node": node, "status": response.status,
                    "body": response.json(), "request": (body, idempotency)}

        hot = parallel(HOT_BUYERS, lambda i: place("a", "hot", 1, i % 2, gate), threads=HOT_BUYERS)
        assert sorted({r["status"] for r in hot}) == [201, 409], [(r["status"], r["body"]) for r in hot]
        won = [r for r in hot if r["status"] == 201]
        refused = [r for r in hot if r["status"] == 409]
        assert len(won) == HOT_STOCK and len(refused) == HOT_BUYERS - HOT_STOCK
        assert {r["body"]["error"]["code"] for r in refused} == {"insufficient_stock"}
        spread = parallel(SPREAD_ORDERS, lambda i: place("ab"[i % 2], "water", 1 + i % 3, (i // 2) % 2))
        assert [r["status"] for r in spread] == [201] * SPREAD_ORDERS, [r["body"] for r in spread if r["status"] != 201]
        placed = won + spread
        phase("orders placed")

        # The same request retried on the other node is answered from the first, not placed again.
        for r in spread[:4]:
            body, idempotency = r["request"]
            again = nodes[1 - r["node"]].post_json("/api/orders", body, {**clients[r["key"]],
                                                                        "Idempotency-Key": idempotency})
            assert again.status == 201 and again.json()["order_id"] == r["body"]["order_id"], again.text
            assert again.headers.get("Idempotent-Replayed") == "true"

        # --- move each order to delivered (every 8th spread order is cancelled), alternating nodes -------
        cancelled_ids = {r["body"]["order_id"] for r in spread[::8]}

        def move(i: int) -> int:
            r = placed[i]
            order_id, seller = r["body"]["order_id"], sellers[r["key"]]
            url = f"/api/orders/{order_id}/transitions"
            steps = ([{"to": "cancelled", "reason": "客户取消"}] if order_id in cancelled_ids else [
                {"to": "paid", "payment": {"method": "wechat", "reference": f"WX{order_id}",
                                           "amount": r["body"]["total_price"]}},
                {"to": "assigned", "courier_id": seller["courier_id"]}, {"to": "shipped"}, {"to": "delivered"}])
            for step, body in enumerate(steps):
                response = nodes[(i + step) % 2].post_json(url, body, managers[r["key"]])
                assert response.status == 200, (body, response.text)
                assert response.json()["status"] == body["to"]
            return order_id

        parallel(len(placed), move)
        delivered = [r for r in placed if r["body"]["order_id"] not in cancelled_ids]
        phase("orders delivered")
        wait_until(lambda: not set(job_states(app)) & set(ACTIVE_JOB), 45, what="the stock-alert jobs")
        phase("stock-alert jobs done")

        # --- 2. stop the workers (warm shutdown), complete every order on both nodes at once --------------
        for process in workers:
            assert process.stop() == 0, process.log_tail()

        def complete(i: int) -> list[int]:
            r = delivered[i]
            url = f"/api/orders/{r['body']['order_id']}/transitions"
            both = threading.Barrier(2)

            def attempt(node):
                both.wait(10)
                return nodes[node].post_json(url, {"to": "completed"}, managers[r["key"]]).status

            with ThreadPoolExecutor(max_workers=2) as pool:
                return sorted(pool.map(attempt, (0, 1)))

        outcomes = parallel(len(delivered), complete, threads=8)
        assert outcomes == [[200, 409]] * len(delivered), outcomes
        period, shift = backdate_orders(app)
        phase("orders completed")

        # --- 3. two new workers drain the accruals; HQ settles last month on both nodes at once ----------
        workers += [worker("worker3"), worker("worker4")]
        everything += workers[2:]
        for process in workers[2:]:
            process.start()
        wait_until(lambda: not set(job_states(app)) & set(ACTIVE_JOB), 40, what="the accrual jobs")
        phase("accruals done")
        hq = [Http(base) for base in bases]
        hq[1].cookies = hq[0].cookies  # one session for both nodes: nothing of it is kept by a node
        hq[0].get("/login")
        login = hq[0].post_form("/login", {"username": "hq_admin", "password": PASSWORD, "csrf_token": hq[0].csrf})
        assert login.status == 302, login.text[:500]
        for client in hq:
            assert client.get("/commissions/settlements").status == 200
        both = threading.Barrier(2)

        def settle(node):
            both.wait(10)
            return hq[node].post_form("/commissions/settlements", {"period": period, "csrf_token": hq[node].csrf})

        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(settle, (0, 1)))
        statuses = sorted(a.status for a in answers)
        assert statuses in ([302, 302], [302, 409]), [(a.status, a.text[:300]) for a in answers]
        wait_until(lambda: settled(app, period), 40, what="the settlement run")
        wait_until(lambda: not set(job_states(app)) & set(ACTIVE_JOB), 20, what="the settlement jobs")
        phase("month settled")

        # --- every process stops cleanly ------------------------------------------------------------------
        running = [process for process in everything if process.alive()]
        for process in running:
            process.terminate()
        codes = {process.name: process.wait() for process in running}
        assert codes == dict.fromkeys(codes, 0), [f"{p.name}:\n{p.log_tail()}" for p in running if codes[p.name]]
        assert sorted(codes) == ["scheduler", "web0", "web1", "worker3", "worker4"]  # nothing died on its own
    except BaseException:
        for process in everything:
            if process.log_tail():
                print(f"--- {process.name} ---\n{process.log_tail(60)}")
        raise
    finally:
        for process in everything:
            if process.alive():
                process.kill()

    phase("processes stopped")
    check_outcome(app, world, won, delivered, cancelled_ids, placed, period, scaleout_redis_url)
    phase("checked")
    # A figure, not an assertion: timings on a shared CI machine vary (run with -s to see it).
    print(f"scale-out: {len(placed)} orders placed, {len(delivered)} completed; phases (s): {phases}")


def backdate_orders(app) -> tuple[str, timedelta]:
    """Move every order's timestamps into the middle of last month; (that month's name, the shift)."""
    from sqlalchemy import update

    from dms.core.periods import current_month, month_name, previous_month, utc_start
    from dms.core.time import utcnow
    from dms.extensions import db
    from dms.orders.models import Order, OrderEvent, OrderPayment

    with app.app_context():
        last_month = previous_month(current_month())
        shift = utcnow() - (utc_start(last_month.replace(day=15)) + timedelta(hours=4))
        columns = ("created_at", "updated_at", "paid_at", "assigned_at", "shipped_at", "delivered_at", "completed_at",
                   "cancelled_at", "refunded_at")
        db.session.execute(update(Order).values({c: getattr(Order, c) - shift for c in columns}))
        db.session.execute(update(OrderEvent).values(at=OrderEvent.at - shift))
        db.session.execute(update(OrderPayment).values(at=OrderPayment.at - shift))
        db.session.commit()
        db.session.remove()
        return month_name(last_month), shift


def settled(app, period: str) -> bool:
    """Whether the month's settlement run has finished."""
    from sqlalchemy import select

    from dms.commissions.models import SettlementRun
    from dms.extensions import db

    with app.app_context():
        try:
            return db.session.scalar(select(SettlementRun.status).where(SettlementRun.period == period)) == "finished"
        finally:
            db.session.remove()


def check_outcome(app, world, won, delivered, cancelled_ids, placed, period, redis_url):
    """The database after the run, against figures computed here from the orders the clients placed."""
    from redis import Redis
    from rq import Queue
    from rq.registry import FailedJobRegistry
    from sqlalchemy import func, select

    from dms.commissions.models import CommissionEntry, SettlementRun, Statement
    from dms.core.cli import CHECKS
    from dms.core.jobs import QUEUES
    from dms.core.models import AuditLog, Job
    from dms.extensions import db
    from dms.inventory.models import StockBalance, StockMovement
    from dms.orders.models import Order, OrderEvent, OrderPayment

    with app.app_context():
        # Every `flask dms check` invariant: stock balances = ledger, statements = entries, job states, grants.
        problems = [str(p) for check in CHECKS for p in check()]
        assert problems == []

        # Nothing oversold: the hot product sold exactly its stock, and no balance went negative.
        orders = {o.id: o for o in db.session.scalars(select(Order))}
        assert len(orders) == len(placed)  # the idempotent retries placed nothing
        assert sum(line.quantity for o in orders.values() for line in o.lines
                   if line.product_id == world["hot"]) == HOT_STOCK == len(won)
        for balance in db.session.scalars(select(StockBalance)):
            assert 0 <= balance.reserved <= balance.on_hand, (balance.product_id, balance.on_hand, balance.reserved)
        # Each delivered order took its units out exactly once; cancelled orders took none.
        issued = {}
        for source_id, delta in db.session.execute(select(StockMovement.source_id, StockMovement.on_hand_delta).where(
                StockMovement.source_type == "order", StockMovement.on_hand_delta != 0)):
            issued[int(source_id)] = issued.get(int(source_id), 0) - delta
        assert issued == {r["body"]["order_id"]: r["quantity"] for r in delivered}
        hot_left = db.session.scalar(select(func.sum(StockBalance.on_hand)).where(
            StockBalance.product_id == world["hot"]))
        assert hot_left == 0

        # Orders and their once-only side effects: one payment, one completion event and audit row each.
        for r in placed:
            order = orders[r["body"]["order_id"]]
            expected_total = PRICES[r["product"]] * r["quantity"]
            assert order.total == expected_total
            assert order.status == ("cancelled" if order.id in cancelled_ids else "completed")
        completed_ids = {r["body"]["order_id"] for r in delivered}
        per_order = dict(db.session.execute(select(OrderEvent.order_id, func.count()).where(
            OrderEvent.to_status == "completed").group_by(OrderEvent.order_id)).all())
        assert per_order == dict.fromkeys(completed_ids, 1)
        paid = dict(db.session.execute(select(OrderPayment.order_id, func.count()).group_by(
            OrderPayment.order_id)).all())
        assert paid == dict.fromkeys(completed_ids, 1)
        audited = db.session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "order.completed"))
        assert audited == len(completed_ids)

        # Commission entries: exactly those computed here, each once (by the unique key and by count).
        expected = {}
        for order_id in completed_ids:
            order = orders[order_id]
            for level, (beneficiary, rate) in enumerate(zip(world["uplines"][order.distributor_id], RATES,
                                                            strict=True), start=1):
                expected[(order_id, beneficiary, level)] = (order.total * rate / 100).quantize(CENT, ROUND_HALF_UP)
        entries = db.session.scalars(select(CommissionEntry)).all()
        assert all(e.kind == "accrual" and e.period == period for e in entries)
        assert {(e.order_id, e.beneficiary_id, e.level): e.amount for e in entries} == expected
        assert len(entries) == len(expected) == 3 * len(completed_ids)

        # Statements: one per beneficiary for the month, totalling its entries; every entry on one.
        statements = db.session.scalars(select(Statement).where(Statement.period == period)).all()
        by_beneficiary = {}
        for (_, beneficiary, _), amount in expected.items():
            by_beneficiary[beneficiary] = by_beneficiary.get(beneficiary, D("0.00")) + amount
        assert {s.distributor_id: s.accruals for s in statements} == by_beneficiary
        assert len(statements) == 4 == len({s.number for s in statements})
        assert all(e.statement_id is not None for e in entries)
        assert sum(s.entry_count for s in statements) == len(entries)
        runs = db.session.scalars(select(SettlementRun)).all()
        assert [(r.period, r.status, r.statements_created) for r in runs] == [(period, "finished", 4)]

        # Every job row ran exactly once: finished at its first attempt, and the events one per order.
        jobs = db.session.scalars(select(Job)).all()
        assert {(j.status, j.attempts) for j in jobs} == {("finished", 1)}, [
            (j.id, j.name, j.status, j.attempts, j.error) for j in jobs if (j.status, j.attempts) != ("finished", 1)]
        completions = [j for j in jobs if (j.key or "").startswith("event:order.completed:")]
        assert sorted(j.args[1] for j in completions) == sorted(completed_ids)
        assert all(j.result["handlers"] == ["dms.commissions.jobs.on_order_completed"] for j in completions)
        settlements = [j for j in jobs if j.name == "dms.commissions.settlement.settle_period"]
        assert 1 <= len(settlements) <= 2 and sum(j.result["new_statements"] for j in settlements) == 4
        assert any(j.queue == "alerts" for j in jobs)  # the stock-alert checks ran through the workers too
        db.session.remove()

    connection = Redis.from_url(redis_url)
    for name in QUEUES:
        assert Queue(name, connection=connection).count == 0
        assert FailedJobRegistry(name, connection=connection).count == 0
