"""Commission accrual and a month's settlement at scale (issue 9, benchmark 4), against INSERT ... SELECT ceilings.

    .venv/bin/python bench/commission_settlement.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_comm4

Use a scratch PostgreSQL database of its own (DATABASE_URL works too): it is migrated, a network of
--distributors distributors in a 5-level tree (backdated upline links), products and one published
rule version (5 levels, 10/5/3/2/1 % of the net amount, no qualification, no cap, no rewards) are added
once; then, for each size (--sizes, orders completed in --month), the orders, commission tables and
settlement runs are emptied (TRUNCATE) and the month is made again by COPY, and:
(a) accrual — the ceiling: one INSERT ... SELECT (a recursive CTE over upline_links for each order's
    chain as it stood at completion, the version's rates, rounded half up to the cent per level); its
    entries are kept aside and removed; then the app: the order.completed job
    (dms.commissions.jobs.on_order_completed, then the job's commit) for every order, in a fresh
    process. Both must give the same entries (count, sum, and row by row);
(b) settlement — the ceiling: release due entries, INSERT ... SELECT the statements (aggregated per
    distributor, with carry-in), UPDATE the entries onto them, link carried statements; kept aside and
    undone; then the app: dms.commissions.settlement.run_now in a fresh process. Same statements?
Peak memory of the app's processes: ru_maxrss from os.wait4 (the whole process: Flask and the app
included), and its growth over the RSS just before the work started.
"""

import argparse
import io
import json
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import child_figures, rss_kib  # noqa: E402

PREFIX = "佣金压测"
RATES = ("10", "5", "3", "2", "1")
LEVEL_SIZES = (0.0025, 0.01, 0.05, 0.1875)  # shares of provinces, cities, ... ; the rest are the 5th level
TABLES = "commission_entries, commission_statements, commission_settlement_runs, order_lines, orders"


def _app(url: str):
    from dms import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None})


def _connect(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1))


# --- the data --------------------------------------------------------------------------------------------

def _network(conn, count: int, seed: int) -> None:
    """`count` distributors in a 5-level tree with links backdated to 2025, 50 products, the rule version."""
    have = conn.execute("SELECT count(*) FROM distributors WHERE name LIKE %s", (PREFIX + "%",)).fetchone()[0]
    if have:
        return
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    since = datetime(2025, 1, 1)  # noqa: DTZ001 - naive UTC, as stored
    sizes = [max(1, round(count * share)) for share in LEVEL_SIZES]
    sizes.append(count - sum(sizes))
    levels, ids = ("province", "city", "county", "county", "county"), []
    for depth, size in enumerate(sizes):
        above = ids[-1] if ids else []
        rows = []
        for n in range(size):
            upline = rng.choice(above) if above else None
            rows.append(conn.execute(
                "INSERT INTO distributors (kind, name, level, status, status_reason, exclusive, profit_share, "
                "created_at, updated_at, upline_id) VALUES ('person', %s, %s, 'active', '', false, 0, %s, %s, %s) "
                "RETURNING id", (f"{PREFIX}{depth + 1}-{n:05d}", levels[depth], now, now, upline)).fetchone()[0])
            conn.execute("INSERT INTO upline_links (distributor_id, upline_id, effective_from, note, created_at) "
                         "VALUES (%s, %s, %s, '', %s)", (rows[-1], upline, since, now))
        ids.append(rows)
    for n in range(50):
        conn.execute("INSERT INTO products (sku, name, description, unit, status, tracking, low_stock_threshold, "
                     "created_at, updated_at) VALUES (%s, %s, '', '件', 'available', 'none', 0, %s, %s)",
                     (f"COMM-BENCH-{n:03d}", f"佣金压测商品{n:03d}", now, now))
    number = (conn.execute("SELECT coalesce(max(number), 0) FROM commission_rule_versions").fetchone()[0]) + 1
    version = conn.execute(
        "INSERT INTO commission_rule_versions (number, name, status, mode, max_levels, base, compression, hold_days, "
        "effective_from, note, created_at, published_at) VALUES (%s, 'bench', 'published', 'multi', 5, 'net', "
        "false, 7, %s, '', %s, %s) RETURNING id", (number, since, now, since)).fetchone()[0]
    for level, rate in enumerate(RATES, start=1):
        conn.execute("INSERT INTO commission_rule_levels (version_id, level, rate, min_personal_volume) "
                     "VALUES (%s, %s, %s, 0)", (version, level, Decimal(rate)))
    conn.commit()


def _month_bounds(month: date) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a business month (Asia/Shanghai is UTC+8 all year)."""
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return (datetime.combine(month, datetime.min.time()) - timedelta(hours=8),
            datetime.combine(following, datetime.min.time()) - timedelta(hours=8))


def _month(conn, month: date, orders: int, seed: int) -> None:
    """Empty the orders and commission tables, then COPY `orders` completed orders (1-3 lines) of the month."""
    rng = random.Random(seed)
    conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    sellers = [r[0] for r in conn.execute("SELECT id FROM distributors WHERE name LIKE %s ORDER BY id",
                                          (PREFIX + "%",))]
    products = [r[0] for r in conn.execute("SELECT id FROM products WHERE sku LIKE 'COMM-BENCH-%' ORDER BY id")]
    start, end = _month_bounds(month)
    span = int((end - start).total_seconds())
    order_rows, line_rows = io.StringIO(), io.StringIO()
    for order_id in range(1, orders + 1):
        at = start + timedelta(seconds=rng.randrange(span))
        total = Decimal(0)
        for product in rng.sample(products, rng.randint(1, 3)):
            quantity = rng.randint(1, 5)
            price = Decimal(rng.randrange(1000, 50000)) / 100
            amount = price * quantity
            total += amount
            line_rows.write(f"{order_id}\t{product}\t{quantity}\t{price}\t0\t{amount}\n")
        order_rows.write(f"{order_id}\tcompleted\t{rng.choice(sellers)}\t客户\t13800000000\t\t\t{total}\t0\t{total}\t"
                         f"CNY\t0\tweb\t\t{at}\t{at}\t{at}\n")
    with conn.cursor() as cursor:
        with cursor.copy("COPY orders (id, status, distributor_id, ship_name, ship_phone, ship_street, ship_address, "
                         "subtotal, discount, total, currency, refund_due, source, note, created_at, updated_at, "
                         "completed_at) FROM STDIN") as copy:
            copy.write(order_rows.getvalue())
        with cursor.copy("COPY order_lines (order_id, product_id, quantity, unit_price, discount, amount) "
                         "FROM STDIN") as copy:
            copy.write(line_rows.getvalue())
        cursor.execute("SELECT setval('orders_id_seq', %s)", (orders,))
    conn.commit()
    conn.execute("ANALYZE orders")
    conn.execute("ANALYZE order_lines")
    conn.commit()


# --- the ceilings ----------------------------------------------------------------------------------------

CEILING_ACCRUAL = """
WITH RECURSIVE sale AS (
    SELECT o.id AS order_id, o.distributor_id AS seller, o.completed_at AS at, sum(l.amount) AS base
    FROM orders o JOIN order_lines l ON l.order_id = o.id
    WHERE o.completed_at >= %(start)s AND o.completed_at < %(end)s AND o.distributor_id IS NOT NULL
    GROUP BY o.id
), chain AS (
    SELECT order_id, at, base, seller AS beneficiary_id, 1 AS level FROM sale
    UNION ALL
    SELECT c.order_id, c.at, c.base, u.upline_id, c.level + 1
    FROM chain c JOIN upline_links u ON u.distributor_id = c.beneficiary_id AND u.effective_from <= c.at
         AND (u.effective_to IS NULL OR u.effective_to > c.at)
    WHERE c.level < %(levels)s AND u.upline_id IS NOT NULL
), local AS (
    SELECT c.*, r.rate, round(c.base * r.rate / 100, 2) AS amount,
           (c.at AT TIME ZONE 'UTC' AT TIME ZONE %(tz)s) AS local_at
    FROM chain c JOIN commission_rule_levels r ON r.version_id = %(version)s AND r.level = c.level
)
INSERT INTO commission_entries (order_id, beneficiary_id, level, kind, amount, base, rate, rule_version_id, period,
                                status, available_on, reason, hold_reason, created_at)
SELECT order_id, beneficiary_id, level, 'accrual', amount, base, rate, %(version)s, to_char(local_at, 'YYYY-MM'),
       CASE WHEN local_at::date + %(hold)s > %(today)s THEN 'accrued' ELSE 'payable' END,
       local_at::date + %(hold)s, '', '', now() AT TIME ZONE 'UTC'
FROM local WHERE amount > 0
ON CONFLICT DO NOTHING
"""

CEILING_SETTLEMENT = [
    "INSERT INTO commission_settlement_runs (period, status, attempts, distributors_total, distributors_done, "
    "statements_created, created_at, started_at) SELECT %(period)s, 'running', 1, count(*), 0, 0, now(), now() "
    "FROM distributors",
    "UPDATE commission_entries SET status = 'payable' WHERE status = 'accrued' AND available_on <= %(today)s",
    """
    WITH open AS (
        SELECT beneficiary_id AS d, count(*) AS n,
               coalesce(sum(amount) FILTER (WHERE kind = 'accrual'), 0) AS accruals,
               coalesce(sum(amount) FILTER (WHERE kind = 'clawback'), 0) AS clawbacks,
               coalesce(sum(amount) FILTER (WHERE kind = 'reward'), 0) AS rewards,
               coalesce(sum(amount) FILTER (WHERE kind = 'adjustment'), 0) AS adjustments
        FROM commission_entries
        WHERE statement_id IS NULL AND status IN ('accrued', 'payable') AND available_on <= %(last_day)s
        GROUP BY beneficiary_id
    ), carried AS (
        SELECT distributor_id AS d, sum(carried_out) AS c FROM commission_statements
        WHERE period < %(period)s AND carried_out < 0 AND carried_into_id IS NULL GROUP BY distributor_id
    ), todo AS (
        SELECT coalesce(o.d, c.d) AS d, coalesce(o.n, 0) AS n, coalesce(o.accruals, 0) AS accruals,
               coalesce(o.clawbacks, 0) AS clawbacks, coalesce(o.rewards, 0) AS rewards,
               coalesce(o.adjustments, 0) AS adjustments, coalesce(c.c, 0) AS carried_in
        FROM open o FULL JOIN carried c ON c.d = o.d
    )
    INSERT INTO commission_statements (number, distributor_id, period, run_id, status, entry_count, accruals,
        clawbacks, rewards, adjustments, carried_in, total, payout, carried_out, created_at, payment_reference)
    SELECT %(prefix)s || lpad(d::text, 6, '0'), d, %(period)s,
           (SELECT id FROM commission_settlement_runs WHERE period = %(period)s), 'draft', n, accruals, clawbacks,
           rewards, adjustments, carried_in, t, greatest(t, 0), least(t, 0), now() AT TIME ZONE 'UTC', ''
    FROM (SELECT *, accruals + clawbacks + rewards + adjustments + carried_in AS t FROM todo) s
    WHERE NOT EXISTS (SELECT 1 FROM commission_statements x WHERE x.distributor_id = s.d AND x.period = %(period)s)
    """,
    """
    UPDATE commission_entries e SET statement_id = s.id, status = 'payable' FROM commission_statements s
    WHERE s.period = %(period)s AND s.distributor_id = e.beneficiary_id AND e.statement_id IS NULL
      AND e.status IN ('accrued', 'payable') AND e.available_on <= %(last_day)s
    """,
    """
    UPDATE commission_statements old SET carried_into_id = s.id FROM commission_statements s
    WHERE s.period = %(period)s AND old.distributor_id = s.distributor_id AND old.period < %(period)s
      AND old.carried_out < 0 AND old.carried_into_id IS NULL AND old.id <> s.id
    """,
    "UPDATE commission_settlement_runs SET status = 'finished', finished_at = now(), "
    "distributors_done = distributors_total, statements_created = (SELECT count(*) FROM commission_statements "
    "WHERE period = %(period)s) WHERE period = %(period)s",
]

ENTRY_COLUMNS = ("order_id, beneficiary_id, level, kind, amount, base, rate, rule_version_id, period, status, "
                 "available_on")
STATEMENT_COLUMNS = ("number, distributor_id, period, status, entry_count, accruals, clawbacks, rewards, adjustments, "
                     "carried_in, total, payout, carried_out")


def _differ(conn, table: str, kept: str, columns: str) -> int:
    """Rows of `table` and `kept` that the other lacks (both ways)."""
    return conn.execute(f"SELECT (SELECT count(*) FROM (SELECT {columns} FROM {table} EXCEPT ALL "
                        f"SELECT {columns} FROM {kept}) a) + (SELECT count(*) FROM (SELECT {columns} FROM {kept} "
                        f"EXCEPT ALL SELECT {columns} FROM {table}) b)").fetchone()[0]


def _entries_figures(conn, table: str = "commission_entries") -> tuple[int, Decimal]:
    return tuple(conn.execute(f"SELECT count(*), coalesce(sum(amount), 0) FROM {table}").fetchone())


# --- the app, in fresh processes --------------------------------------------------------------------------

def _child(args) -> None:
    """The app's work in this fresh process: `accrue` every order of the month, or `settle` it; prints JSON."""
    app = _app(args.database_url)
    app.app_context().push()
    from sqlalchemy import select

    from dms.commissions import jobs as commission_jobs
    from dms.commissions import settlement
    from dms.extensions import db
    from dms.orders.models import Order

    before = rss_kib()
    started = time.perf_counter()
    if args.child == "accrue":
        start, end = _month_bounds(date.fromisoformat(args.month + "-01"))
        ids = list(db.session.scalars(select(Order.id).where(Order.completed_at >= start, Order.completed_at < end)
                                      .order_by(Order.id)))
        db.session.rollback()
        started = time.perf_counter()
        for order_id in ids:
            commission_jobs.on_order_completed(order_id)  # what the order.completed job runs
            db.session.commit()  # and the job's commit (dms.core.jobs)
        result = {"orders": len(ids)}
    else:
        result = settlement.run_now(args.month)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rss_before_kib": before, "hwm_kib": rss_kib("VmHWM"),
                      "result": result}, default=str))


def _run_child(args, what: str) -> dict:
    """Run the app's `what` in a fresh subprocess; its figures plus its peak RSS (ru_maxrss from os.wait4)."""
    command = [sys.executable, __file__, "--child", what, "--database-url", args.database_url, "--month", args.month]
    return child_figures(command, ROOT, f"the app's {what}")


def _today_business() -> date:
    return (datetime.now(UTC) + timedelta(hours=8)).date()


def _size(conn, args, orders: int) -> dict:
    """One size: make the month, then accrual and settlement, ceiling then app; their figures."""
    month = date.fromisoformat(args.month + "-01")
    start, end = _month_bounds(month)
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    version, hold = conn.execute("SELECT id, hold_days FROM commission_rule_versions WHERE name = 'bench' "
                                 "AND status = 'published' ORDER BY number DESC LIMIT 1").fetchone()
    started = time.perf_counter()
    _month(conn, month, orders, args.seed + orders)
    made = time.perf_counter() - started
    figures = {"orders": orders, "made_s": made}

    # (a) accrual: the ceiling, kept aside, then the app
    conn.execute("DROP TABLE IF EXISTS bench_ceiling_entries, bench_ceiling_statements")
    conn.commit()
    started = time.perf_counter()
    conn.execute(CEILING_ACCRUAL, {"start": start, "end": end, "levels": len(RATES), "tz": "Asia/Shanghai",
                                   "version": version, "hold": hold, "today": _today_business()})
    conn.commit()
    figures["ceiling_accrual_s"] = time.perf_counter() - started
    figures["ceiling_entries"] = _entries_figures(conn)
    conn.execute("CREATE TABLE bench_ceiling_entries AS SELECT * FROM commission_entries")
    conn.execute("TRUNCATE commission_entries RESTART IDENTITY CASCADE")
    conn.commit()
    app = _run_child(args, "accrue")
    figures["app_accrual"] = app
    figures["app_entries"] = _entries_figures(conn)
    figures["accrual_differences"] = _differ(conn, "commission_entries", "bench_ceiling_entries", ENTRY_COLUMNS)
    conn.execute("ANALYZE commission_entries")
    conn.commit()

    # (b) settlement: the ceiling, kept aside and undone, then the app
    conn.execute("CREATE TEMP TABLE bench_status AS SELECT id, status FROM commission_entries")
    conn.commit()
    params = {"period": args.month, "today": _today_business(), "last_day": following - timedelta(days=1),
              "prefix": f"ST{month.year:04d}{month.month:02d}-"}
    started = time.perf_counter()
    for statement in CEILING_SETTLEMENT:
        conn.execute(statement, params)
    conn.commit()
    figures["ceiling_settlement_s"] = time.perf_counter() - started
    conn.execute(f"CREATE TABLE bench_ceiling_statements AS SELECT {STATEMENT_COLUMNS} FROM commission_statements")
    figures["ceiling_settled"] = conn.execute("SELECT count(*) FROM commission_entries WHERE statement_id IS NOT NULL"
                                              ).fetchone()[0]
    conn.execute("UPDATE commission_entries e SET statement_id = NULL, status = b.status FROM bench_status b "
                 "WHERE b.id = e.id")
    conn.execute("DELETE FROM commission_statements")
    conn.execute("DELETE FROM commission_settlement_runs")
    conn.execute("DROP TABLE bench_status")
    conn.commit()
    app = _run_child(args, "settle")
    figures["app_settlement"] = app
    figures["statements"] = conn.execute("SELECT count(*) FROM commission_statements").fetchone()[0]
    figures["app_settled"] = conn.execute("SELECT count(*) FROM commission_entries WHERE statement_id IS NOT NULL"
                                          ).fetchone()[0]
    figures["settlement_differences"] = _differ(conn, "commission_statements", "bench_ceiling_statements",
                                                STATEMENT_COLUMNS)
    return figures


def _same(differences: int) -> str:
    return "yes" if not differences else f"NO: {differences} rows differ"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--distributors", type=int, default=2000)
    parser.add_argument("--sizes", default="4000,40000", help="orders of the month, one run per size")
    parser.add_argument("--month", default="2026-11", help="the month (finished, YYYY-MM) the orders complete in")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--child", choices=("accrue", "settle"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.database_url.startswith("postgresql://"):
        args.database_url = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    if not args.database_url.startswith("postgresql"):
        print("usage: bench/commission_settlement.py --database-url "
              "postgresql+psycopg://USER@HOST:PORT/SCRATCH_DB (or DATABASE_URL): a scratch PostgreSQL database "
              "of its own (its orders and commission tables are emptied)", file=sys.stderr)
        return 2
    if args.child:
        _child(args)
        return 0

    from flask_migrate import upgrade

    with _app(args.database_url).app_context():
        upgrade()
    results = []
    with _connect(args.database_url) as conn:
        _network(conn, args.distributors, args.seed)
        for orders in (int(n) for n in args.sizes.split(",")):
            figures = _size(conn, args, orders)
            results.append(figures)
            print(json.dumps(figures, default=str), file=sys.stderr)

    def mib(kib):
        return f"{kib / 1024:.0f}"

    print()
    print(f"Commission accrual and settlement of {args.month}, PostgreSQL ({args.database_url.rsplit('/', 1)[-1]}), "
          f"{args.distributors} distributors in a 5-level tree; app processes' peak RSS by os.wait4 (ru_maxrss)")
    print()
    print("| orders | entries (app / ceiling) | sum (app / ceiling) | same entries | app accrual s | entries/s "
          "| ceiling accrual s | entries/s | ratio | app accrual peak RSS MiB (growth) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for f in results:
        (n_app, s_app), (n_ceil, s_ceil) = f["app_entries"], f["ceiling_entries"]
        a, c = f["app_accrual"]["seconds"], f["ceiling_accrual_s"]
        print(f"| {f['orders']} | {n_app} / {n_ceil} | {s_app} / {s_ceil} | "
              f"{_same(f['accrual_differences'])} "
              f"| {a:.1f} | {n_app / a:.0f} | {c:.2f} | {n_ceil / c:.0f} | {a / c:.1f}x "
              f"| {mib(f['app_accrual']['maxrss_kib'])} "
              f"({mib(f['app_accrual']['hwm_kib'] - f['app_accrual']['rss_before_kib'])}) |")
    print()
    print("| entries | statements | settled (app / ceiling) | same statements | app settlement s | ceiling s | ratio "
          "| app peak RSS MiB | app RSS growth MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in results:
        a, c = f["app_settlement"]["seconds"], f["ceiling_settlement_s"]
        print(f"| {f['app_entries'][0]} | {f['statements']} | {f['app_settled']} / {f['ceiling_settled']} | "
              f"{_same(f['settlement_differences'])} "
              f"| {a:.2f} | {c:.2f} | {a / c:.1f}x | {mib(f['app_settlement']['maxrss_kib'])} "
              f"| {mib(f['app_settlement']['hwm_kib'] - f['app_settlement']['rss_before_kib'])} |")
    ok = all(not f["accrual_differences"] and not f["settlement_differences"] for f in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
