"""Benchmark 1: order placement over HTTP (gunicorn) against the same transaction in raw SQL (psycopg).

    .venv/bin/python bench/order_placement.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_orders

Use a scratch PostgreSQL database: it is migrated, and distributors, batch-tracked products with
stock, API clients and orders are added to it (each run adds its own, so runs can be repeated).
Two scenarios, each run through the app and through the ceiling with the same number of clients:

- spread: every order is one random product of one random distributor (its own integration
  client's token), quantity 1-3, with `total_price` — the seed body of POST /api/orders;
- hot: every client buys one unit of the same product from the same warehouse; the stock equals
  the orders, and `--short` more attempts must all answer 409 insufficient_stock.

The app is gunicorn (`.venv/bin/gunicorn wsgi:app`, 2 x cores workers, sync and/or gthread) with
DATABASE_URL set and, by default, REDIS_URL so the stock-alert jobs each order enqueues go to RQ as
in production (`--redis-url ''`: no Redis, jobs run in-process after each commit). Clients are
threads using http.client with keep-alive where the worker allows it.

The ceiling is the same transaction done directly through psycopg with as many connections: read
the distributor's status and warehouse and the product's status and retail price, insert the order,
its line, its 'placed' event, its audit entry and the outbox row of the stock-alert check, then
reserve FEFO (the non-expired batches earliest expiry first, each taken by a conditional UPDATE of
stock_balances, re-allocated in a savepoint when a concurrent order took the stock) and insert the
reserve movements; commit. What the app does beyond that — authentication, JSON, pushing the job to
Redis after commit — is its overhead.

At the end every order is checked: units sold against stock received for every warehouse and
product of the run (oversold must be 0), the count of orders against the 201 answers, and the app's
invariant checks (`flask dms check`: dms.core.cli.CHECKS). Exit status 1 when any of these fails.
"""

import argparse
import itertools
import json
import os
import random
import secrets
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from http.client import HTTPConnection
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._gunicorn import Gunicorn  # noqa: E402

AUDIT_ACTION = "order.place"
CHECK_JOB = "dms.inventory.jobs.check_stock_alerts"
BUSINESS_ZONE = ZoneInfo(os.environ.get("DMS_TIMEZONE", "Asia/Shanghai"))  # what FEFO calls today


# --- fixtures, made through the app's services ---------------------------------------------------

@dataclass
class Fixture:
    """One side's distributors (with tokens and API clients), their warehouses and the stock received."""

    distributors: list = field(default_factory=list)  # (distributor id, warehouse id, client pk, token, label)
    products: list = field(default_factory=list)  # (product id, price)
    received: dict = field(default_factory=dict)  # (warehouse id, product id) -> units


class Setup:
    """Make distributors, products, stock and API clients through the services, committed."""

    def __init__(self, app):
        self.app = app
        self.stamp = f"{int(time.time()) % 10**6:06d}"
        self.serial = itertools.count(1)
        self.rng = random.Random()

    def distributor(self, label: str):
        """A new active distributor (a person with a valid ID number) and its warehouse."""
        from stdnum.cn import ric

        from dms.core.errors import Conflict
        from dms.distributors import services as distributors
        from dms.extensions import db

        n = next(self.serial)
        for _attempt in range(20):
            # A random birth date and sequence: runs add distributors, and an ID number is unique among them.
            born = date(1950, 1, 1) + timedelta(days=self.rng.randrange(20000))
            body = f"110105{born:%Y%m%d}{self.rng.randrange(1000):03d}"
            try:
                with db.session.begin_nested():
                    return distributors.create_distributor(None, {
                        "kind": "person", "name": f"压测{label}{self.stamp}-{n}",
                        "id_number": body + ric.calc_check_digit(body + "0"),
                        "phone": f"139{self.rng.randrange(10**8):08d}", "region_code": "440605", "level": "county",
                        "exclusive": False, "profit_share": "10"})
            except Conflict:
                continue
        raise RuntimeError("no free ID number found")

    def products(self, count: int, label: str) -> list:
        """`count` batch-tracked products with a retail price."""
        from dms.catalog import services as catalog

        made = []
        for n in range(count):
            price = Decimal(random.randint(500, 9999)) / 100
            made.append(catalog.create_product(None, {
                "name": f"压测商品{label}{self.stamp}-{n}", "sku": f"B{label}{self.stamp}{n:04d}", "tracking": "batch",
                "price": str(price)}))
        return made

    def client_token(self, distributor) -> tuple[int, str]:
        """An integration client of `distributor` and a token for it (signed with the app's SECRET_KEY)."""
        from dms.api import services as api

        client, _secret = api.create_client(None, name=f"bench {distributor.id}", distributor_id=distributor.id)
        token, _granted = api.issue_client_token(client)
        return client.id, token

    def fixture(self, distributors: int, products: list, units: int, batches: int, label: str) -> Fixture:
        """Distributors with `units` of every product in their warehouse, spread over `batches` batches."""
        from dms.catalog.services import current_price
        from dms.core.jobs import commit
        from dms.core.time import business_today
        from dms.inventory import services as inventory

        fixture = Fixture(products=[(p.id, current_price(p)) for p in products])
        today = business_today()
        for _n in range(distributors):
            d = self.distributor(label)
            client_pk, token = self.client_token(d)
            lines = []
            for product in products:
                share = [units // batches + (1 if b < units % batches else 0) for b in range(batches)]
                for b, quantity in enumerate(share):
                    if quantity:
                        # Later batches expire later: FEFO must take batch 0 first.
                        lines.append({"product": product, "quantity": quantity, "batch_code": f"L{b}",
                                      "expiry_date": today + timedelta(days=200 + 30 * b)})
                fixture.received[(d.warehouse.id, product.id)] = units
            inventory.receive(None, d.warehouse, lines)
            fixture.distributors.append((d.id, d.warehouse.id, client_pk, token, f"API client bench {d.id}"))
            commit()
        return fixture


# --- driving clients ----------------------------------------------------------------------------

@dataclass
class Run:
    """What one driven run saw."""

    name: str
    elapsed: float = 0.0
    latencies: list = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)

    @property
    def ok(self) -> int:
        return self.statuses.get(201, 0)

    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def drive(name: str, clients: int, tasks: list, make_state, do_one) -> Run:
    """Run `tasks` on `clients` threads (each with its own state); time each call and count its status."""
    run, lock, cursor = Run(name), threading.Lock(), itertools.count()
    barrier = threading.Barrier(clients + 1)

    def worker():
        state = make_state()
        latencies, statuses, failures = [], Counter(), []
        barrier.wait()
        while True:
            i = next(cursor)  # itertools.count is atomic under the GIL
            if i >= len(tasks):
                break
            started = time.perf_counter()
            try:
                status = do_one(state, tasks[i])
            except Exception as exc:  # noqa: BLE001 - counted and shown, the run goes on
                status = type(exc).__name__
                failures.append(repr(exc)[:200])
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1
        with lock:
            run.latencies.extend(latencies)
            run.statuses.update(statuses)
            run.failures.extend(failures)

    threads = [threading.Thread(target=worker) for _n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    run.elapsed = time.perf_counter() - started
    return run


def http_state(port: int):
    """A keep-alive connection for one client thread (http.client reopens it when the server closes)."""
    return lambda: HTTPConnection("127.0.0.1", port, timeout=120)


def post_order(connection: HTTPConnection, task) -> int:
    """POST /api/orders with the task's token and body; the status (error bodies kept for the report)."""
    token, body = task
    connection.request("POST", "/api/orders", body=body, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Accept": "application/json"})
    response = connection.getresponse()
    payload = response.read()
    if response.status not in (201, 409):
        raise RuntimeError(f"{response.status}: {payload[:200]!r}")
    return response.status


# --- the ceiling: the same transaction in raw SQL -----------------------------------------------

class Short(Exception):
    """Not enough stock (the ceiling's 409)."""


SQL_DISTRIBUTOR = ("SELECT d.status, w.id FROM distributors d JOIN warehouses w ON w.distributor_id = d.id "
                   "WHERE d.id = %s")
SQL_PRODUCT = ("SELECT p.status, (SELECT amount FROM prices WHERE product_id = p.id AND kind = 'retail' "
               "AND level IS NULL AND effective_from <= %s ORDER BY effective_from DESC, id DESC LIMIT 1) "
               "FROM products p WHERE p.id = %s")
SQL_ORDER = ("INSERT INTO orders (status, distributor_id, warehouse_id, ship_name, ship_phone, ship_street, "
             "ship_address, subtotal, discount, total, currency, refund_due, source, api_client_id, note, "
             "created_at, updated_at) VALUES ('pending', %s, %s, '', '', '', '', %s, 0, %s, 'CNY', 0, 'api', %s, "
             "'', %s, %s) RETURNING id")
SQL_LINE = ("INSERT INTO order_lines (order_id, product_id, quantity, unit_price, discount, amount) "
            "VALUES (%s, %s, %s, %s, 0, %s)")
SQL_EVENT = ("INSERT INTO order_events (order_id, at, kind, to_status, note, actor_label) "
             "VALUES (%s, %s, 'placed', 'pending', '', %s)")
SQL_AUDIT = ("INSERT INTO audit_log (at, actor_label, ip, request_id, action, record_type, record_id, summary) "
             "VALUES (%s, %s, '127.0.0.1', %s, 'order.place', 'order', %s, %s)")
SQL_JOB = ("INSERT INTO jobs (name, args, queue, status, progress, message, attempts, created_at) "
           "VALUES (%s, %s, 'alerts', 'pending', 0, '', 0, %s)")
SQL_FEFO = ("SELECT b.id, sb.on_hand - sb.reserved FROM batches b JOIN stock_balances sb ON sb.batch_id = b.id "
            "WHERE sb.warehouse_id = %s AND sb.product_id = %s AND sb.on_hand > sb.reserved "
            "AND (b.expiry_date IS NULL OR b.expiry_date >= %s) "
            "ORDER BY b.expiry_date IS NULL, b.expiry_date, b.id")
SQL_TAKE = ("UPDATE stock_balances SET reserved = reserved + %s, updated_at = %s WHERE warehouse_id = %s "
            "AND product_id = %s AND batch_id = %s AND reserved + %s <= on_hand")
SQL_MOVEMENT = ("INSERT INTO stock_movements (at, warehouse_id, product_id, batch_id, kind, on_hand_delta, "
                "reserved_delta, reason, source_type, source_id, actor_label) "
                "VALUES (%s, %s, %s, %s, 'reserve', 0, %s, '', 'order', %s, %s)")


def ceiling_state(url: str):
    """One psycopg connection per client thread."""
    import psycopg

    return lambda: psycopg.connect(url)


def ceiling_order(connection, task) -> int:
    """Place one order in one transaction, as the app does; 201, or 409 when the stock is short."""
    from datetime import UTC, datetime

    distributor_id, product_id, quantity, client_pk, label = task
    now = datetime.now(UTC).replace(tzinfo=None)
    today = datetime.now(BUSINESS_ZONE).date()
    try:
        with connection.transaction():
            status, warehouse_id = connection.execute(SQL_DISTRIBUTOR, (distributor_id,)).fetchone()
            product_status, price = connection.execute(SQL_PRODUCT, (now, product_id)).fetchone()
            if status != "active" or product_status != "available" or price is None:
                raise RuntimeError("fixture not orderable")
            amount = (price * quantity).quantize(Decimal("0.01"))
            order_id = connection.execute(SQL_ORDER, (distributor_id, warehouse_id, amount, amount, client_pk,
                                                      now, now)).fetchone()[0]
            connection.execute(SQL_LINE, (order_id, product_id, quantity, price, amount))
            connection.execute(SQL_EVENT, (order_id, now, label))
            connection.execute(SQL_AUDIT, (now, label, secrets.token_hex(16), str(order_id),
                                           f"DD{order_id:06d} {amount:.2f}"))
            connection.execute(SQL_JOB, (CHECK_JOB, json.dumps([warehouse_id, product_id]), now))
            for _attempt in range(5):
                candidates = connection.execute(SQL_FEFO, (warehouse_id, product_id, today)).fetchall()
                if sum(a for _b, a in candidates) < quantity:
                    raise Short()
                taken, remaining = [], quantity
                for batch_id, available in candidates:
                    if remaining <= 0:
                        break
                    taken.append((batch_id, min(available, remaining)))
                    remaining -= taken[-1][1]
                try:
                    with connection.transaction():  # a savepoint: a lost race leaves nothing half-taken
                        for batch_id, qty in taken:
                            if connection.execute(SQL_TAKE, (qty, now, warehouse_id, product_id, batch_id,
                                                             qty)).rowcount != 1:
                                raise Short()
                            connection.execute(SQL_MOVEMENT, (now, warehouse_id, product_id, batch_id, qty,
                                                              str(order_id), label))
                    break
                except Short:
                    continue
            else:
                raise Short()
    except Short:
        return 409
    return 201


# --- checks ---------------------------------------------------------------------------------------

def verify(app, fixture: Fixture, placed: int) -> dict:
    """Units sold vs received per warehouse and product, orders vs 201 answers, and `flask dms check`."""
    from sqlalchemy import func, select

    from dms.core.cli import CHECKS
    from dms.extensions import db
    from dms.inventory.models import StockBalance
    from dms.orders.models import Order, OrderLine

    with app.app_context():
        warehouses = [w for _d, w, *_rest in fixture.distributors]
        sold = dict(((w, p), int(q)) for w, p, q in db.session.execute(
            select(Order.warehouse_id, OrderLine.product_id, func.sum(OrderLine.quantity))
            .join(OrderLine, OrderLine.order_id == Order.id).where(Order.warehouse_id.in_(warehouses))
            .group_by(Order.warehouse_id, OrderLine.product_id)))
        reserved = dict(((w, p), int(r)) for w, p, r in db.session.execute(
            select(StockBalance.warehouse_id, StockBalance.product_id, func.sum(StockBalance.reserved))
            .where(StockBalance.warehouse_id.in_(warehouses))
            .group_by(StockBalance.warehouse_id, StockBalance.product_id)))
        orders = db.session.scalar(select(func.count()).select_from(Order).where(Order.warehouse_id.in_(warehouses)))
        oversold = sum(max(0, q - fixture.received.get(key, 0)) for key, q in sold.items())
        mismatched = sum(1 for key in set(sold) | set(reserved) if sold.get(key, 0) != reserved.get(key, 0))
        violations = [problem for check in CHECKS for problem in check()]
        db.session.remove()
    return {"oversold": oversold, "reserved_mismatch": mismatched, "orders": orders, "placed": placed,
            "violations": violations}


# --- scenarios ------------------------------------------------------------------------------------

def spread_shapes(fixture: Fixture, count: int, rng: random.Random) -> list:
    """`count` random one-line orders as (distributor index, product index, quantity); every side gets these."""
    return [(rng.randrange(len(fixture.distributors)), rng.randrange(len(fixture.products)), rng.randint(1, 3))
            for _n in range(count)]


def http_tasks(fixture: Fixture, shapes) -> list:
    """The seed body (distributor, product, quantity, total_price) with the distributor's client token."""
    tasks = []
    for d, p, quantity in shapes:
        distributor_id, _w, _client, token, _label = fixture.distributors[d]
        product_id, price = fixture.products[p]
        body = {"distributor_id": distributor_id, "product_id": product_id, "quantity": quantity,
                "total_price": f"{price * quantity:.2f}"}
        tasks.append((token, json.dumps(body).encode()))
    return tasks


def sql_tasks(fixture: Fixture, shapes) -> list:
    """The same orders as tuples for the ceiling."""
    return [(fixture.distributors[d][0], fixture.products[p][0], quantity, fixture.distributors[d][2],
             fixture.distributors[d][4]) for d, p, quantity in shapes]


def summary_row(scenario: str, side: str, run: Run, checked: dict) -> dict:
    """One row of the figures table."""
    errors = {str(k): v for k, v in sorted(run.statuses.items(), key=str) if k != 201}
    return {"scenario": scenario, "side": side, "orders": run.ok, "seconds": run.elapsed, "rate": run.rate(),
            "p50": run.percentile(50), "p99": run.percentile(99), "errors": errors,
            "oversold": checked["oversold"], "ok": checked}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                        help="a scratch PostgreSQL database (default: $DATABASE_URL)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11",
                        help="Redis for the app's job queue ('' = no Redis: jobs run in-process)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (HTTP and SQL alike)")
    parser.add_argument("--orders", type=int, default=1000, help="orders per scenario and side")
    parser.add_argument("--short", type=int, default=50, help="hot: attempts beyond the stock (must all be 409)")
    parser.add_argument("--distributors", type=int, default=10, help="spread: distributors per side")
    parser.add_argument("--products", type=int, default=20, help="spread: products")
    parser.add_argument("--batches", type=int, default=2, help="batches per product and warehouse (FEFO)")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1), help="gunicorn workers")
    parser.add_argument("--worker-class", choices=("sync", "gthread", "both"), default="both")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--scenarios", default="spread,hot", help="comma-separated: spread, hot")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args()
    url = args.database_url
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    if not url.startswith("postgresql+psycopg://"):
        print("usage: bench/order_placement.py --database-url postgresql+psycopg://USER@HOST:PORT/SCRATCH_DB "
              "(or DATABASE_URL): a scratch PostgreSQL database", file=sys.stderr)
        return 2
    raw_url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    classes = ["sync", "gthread"] if args.worker_class == "both" else [args.worker_class]
    rng = random.Random(args.seed)

    # One SECRET_KEY for this process (which signs the tokens) and gunicorn (which checks them).
    env = {"DATABASE_URL": url, "REDIS_URL": args.redis_url, "SECRET_KEY": os.environ.get("SECRET_KEY")
           or secrets.token_hex(32), "DMS_ENV": os.environ.get("DMS_ENV", "development")}
    os.environ.update({k: v for k, v in env.items() if k != "REDIS_URL"})
    os.environ["REDIS_URL"] = ""  # the setup runs its own jobs in-process

    from flask_migrate import upgrade

    from dms import create_app

    app = create_app()
    with app.app_context():
        upgrade()
    setup = Setup(app)
    rows, problems = [], []
    sides = [f"app ({c})" for c in classes] + ["ceiling"]
    total_hot = args.orders + args.short
    for scenario in scenarios:
        fixtures = {}
        started = time.perf_counter()
        with app.app_context():
            if scenario == "spread":
                products = setup.products(args.products, "S")
                for side in sides:
                    fixtures[side] = setup.fixture(args.distributors, products, units=10**6, batches=args.batches,
                                                   label="S")
            elif scenario == "hot":
                products = setup.products(1, "H")
                for side in sides:
                    fixtures[side] = setup.fixture(1, products, units=args.orders, batches=args.batches, label="H")
            else:
                print(f"unknown scenario {scenario!r}", file=sys.stderr)
                return 2
            from dms.extensions import db
            db.session.remove()
        print(f"[{scenario}] fixtures for {len(sides)} sides made in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
        if scenario == "spread":
            shapes = spread_shapes(fixtures[sides[0]], args.orders, rng)
        else:
            shapes = [(0, 0, 1)] * total_hot
        for side in sides:
            fixture = fixtures[side]
            if side == "ceiling":
                run = drive(f"{scenario} ceiling", args.clients, sql_tasks(fixture, shapes), ceiling_state(raw_url),
                            ceiling_order)
            else:
                worker_class = side[5:-1]
                with Gunicorn(env, args.workers, worker_class, args.threads if worker_class == "gthread" else 1) \
                        as server:
                    run = drive(f"{scenario} {side}", args.clients, http_tasks(fixture, shapes),
                                http_state(server.port), post_order)
            checked = verify(app, fixture, run.ok)
            row = summary_row(scenario, side, run, checked)
            rows.append(row)
            expected_short = args.short if scenario == "hot" else 0
            bad = []
            if checked["oversold"]:
                bad.append(f"{checked['oversold']} units oversold")
            if checked["reserved_mismatch"]:
                bad.append(f"{checked['reserved_mismatch']} balances whose reserved differs from units sold")
            if checked["orders"] != run.ok:
                bad.append(f"{checked['orders']} orders in the database for {run.ok} answered 201")
            if run.statuses.get(409, 0) != expected_short or run.ok != len(shapes) - expected_short:
                bad.append(f"statuses {dict(run.statuses)}, expected {expected_short} x 409")
            if checked["violations"]:
                bad.append(f"{len(checked['violations'])} invariant violations, e.g. {checked['violations'][:3]}")
            for failure in run.failures[:5]:
                bad.append(f"failure: {failure}")
            problems.extend(f"{scenario} {side}: {b}" for b in bad)
            print(f"[{scenario}] {side}: {run.ok} orders in {run.elapsed:.2f} s = {run.rate():.1f}/s, "
                  f"p50 {row['p50']:.1f} ms, p99 {row['p99']:.1f} ms, statuses {dict(run.statuses)}, "
                  f"oversold {checked['oversold']}, invariant violations {len(checked['violations'])}",
                  file=sys.stderr)
    if args.redis_url:
        _empty_queues(args.redis_url)
    _print_table(rows, args)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


def _empty_queues(redis_url: str) -> None:
    """Drop the RQ messages this run left (no worker ran them; their rows stay `queued` in the scratch db)."""
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(redis_url)
    for name in ("default", "alerts", "reports"):
        Queue(name, connection=connection).empty()


def _print_table(rows: list, args) -> None:
    """The figures as a markdown table, with the app/ceiling ratio per scenario."""
    print()
    print(f"Order placement over HTTP: {args.clients} clients, gunicorn {args.workers} workers "
          f"(gthread: {args.threads} threads), jobs {'to RQ (Redis)' if args.redis_url else 'in-process'}, "
          f"{args.orders} orders per scenario and side, {os.cpu_count()} cores")
    print()
    print("| scenario | side | orders | orders/s | p50 ms | p99 ms | errors | oversold | app/ceiling |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    ceilings = {r["scenario"]: r["rate"] for r in rows if r["side"] == "ceiling"}
    for r in rows:
        ratio = r["rate"] / ceilings[r["scenario"]] if r["side"] != "ceiling" and ceilings.get(r["scenario"]) else None
        errors = ", ".join(f"{k}: {v}" for k, v in r["errors"].items()) or "0"
        print(f"| {r['scenario']} | {r['side']} | {r['orders']} | {r['rate']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} "
              f"| {errors} | {r['oversold']} | {'' if ratio is None else f'{ratio:.2f}'} |")
    print()
    print("(hot: the 409s are the attempts beyond the stock, expected.)")


if __name__ == "__main__":
    sys.exit(main())
