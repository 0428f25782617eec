"""List pages at depth (orders, customers, stock movements) against a hand-written keyset query (benchmark 3).

    .venv/bin/python bench/list_pages.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_lists [--requests 30] [--explain]

Point it at a scratch copy of a database bench/generate.py filled (createdb -h 127.0.0.1 -U postgres
-T bench_large bench_lists): it adds two users (bench-hq, an admin; bench-dist, the user of the distributor
with the most orders) and their login sessions, nothing else.

For each list, HQ (every row) and the distributor (its rows), page 1 and page --depth (5,000) are requested
through the Flask test client, logged in, so the time is the server's whole path (session, permission, the
list's queries, the filters' choices, template render): 3 warm-ups, then --requests timed requests, p50 and
p95. The deep page is reached as a user reaches it, by the Next links' cursor (?after=<id of the last row of
the page before>&page=N); a distributor with fewer pages gets its last one (the table says which page).
The ceiling is the same rows fetched by one hand-written keyset query through psycopg (the row, the names
the page shows), timed the same way; before timing, the script checks the app shows exactly those rows.
Also printed: the SQL statements per request, and that the same page at per_page 100 takes as many.
Target: every page under 50 ms. --explain prints EXPLAIN ANALYZE of every query the app runs for each case.
"""

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import bench_users, logged_in_client, pct  # noqa: E402

WARMUP = 3
PER_PAGE = 25  # the lists' default page size


@dataclass
class Case:
    """One list page for one user: its URL, the ids the page must show, the ceiling query."""

    name: str
    who: str  # "hq" | "dist"
    path: str
    sql: str
    args: dict
    row_ids: object  # (html) -> list of ids shown
    page: int = 1
    app_ms: list = field(default_factory=list)
    sql_ms: list = field(default_factory=list)
    queries: int = 0
    queries_big: int = 0
    cpu_ms: float = 0.0  # this process's CPU per request (Python: ORM, template), less noisy than wall time


# ---------------------------------------------------------------- setup


# ---------------------------------------------------------------- the lists and their ceilings

ORDERS_SQL = """
SELECT o.id, o.status, o.total, o.created_at, o.ship_name, o.ship_phone, c.name, d.name, d.company_name, u.display_name
FROM orders o LEFT JOIN customers c ON c.id = o.customer_id LEFT JOIN distributors d ON d.id = o.distributor_id
LEFT JOIN users u ON u.id = o.courier_id
WHERE o.id < %(after)s {scope} ORDER BY o.id DESC LIMIT %(n)s"""
CUSTOMERS_SQL = """
SELECT c.id, c.name, c.phone, c.region_code, c.street, c.address, c.tier, c.rfm_score, c.last_order_at,
       d.name, d.company_name, u.display_name, r.name,
       (SELECT array_agg(t.name) FROM customer_tags ct JOIN customer_tag_names t ON t.id = ct.tag_id
        WHERE ct.customer_id = c.id) AS tags
FROM customers c LEFT JOIN distributors d ON d.id = c.distributor_id LEFT JOIN users u ON u.id = c.owner_id
LEFT JOIN regions r ON r.code = c.region_code
WHERE c.id < %(after)s {scope} ORDER BY c.id DESC LIMIT %(n)s"""
MOVEMENTS_SQL = """
SELECT m.id, m.at, m.kind, m.on_hand_delta, m.reserved_delta, m.reason, m.source_type, m.source_id, m.actor_label,
       w.name, p.name, p.sku, b.code, s.serial
FROM stock_movements m JOIN warehouses w ON w.id = m.warehouse_id JOIN products p ON p.id = m.product_id
JOIN batches b ON b.id = m.batch_id LEFT JOIN serial_units s ON s.id = m.serial_unit_id
WHERE m.id < %(after)s {scope} ORDER BY m.id DESC LIMIT %(n)s"""
LISTS = [  # name, path, ceiling, the ceiling's scope clause, the scoped table and column, the page's row ids
    ("orders", "/orders", ORDERS_SQL, "AND o.distributor_id = %(d)s", "orders", "distributor_id = %(d)s",
     lambda html: [int(m) for m in re.findall(r'data-order="DD0*(\d+)"', html)]),
    ("customers", "/customers", CUSTOMERS_SQL, "AND c.distributor_id = %(d)s", "customers", "distributor_id = %(d)s",
     lambda html: [int(m) for m in re.findall(r'data-customer="(\d+)"', html)]),
    # The distributor's warehouse ids are read first (as the app does), so the index on (warehouse_id, id) serves.
    ("movements", "/inventory/movements", MOVEMENTS_SQL, "AND m.warehouse_id IN ({w})", "stock_movements",
     "warehouse_id IN ({w})",
     lambda html: [int(m) for m in re.findall(r'data-movement="(\d+)"', html)]),
]


def cases(conn, distributor_id: int, depth: int) -> list[Case]:
    """Page 1 and page `depth` of every list, for HQ and for the distributor; the cursors from the data."""
    found = []
    warehouses = [r[0] for r in conn.execute("SELECT id FROM warehouses WHERE distributor_id = %(d)s",
                                             {"d": distributor_id}).fetchall()]
    for name, path, sql, scope, table, where, row_ids in LISTS:
        ids = ", ".join(str(w) for w in warehouses) or "NULL"  # values, not = ANY(array): that plan scans by id
        for who, clause, cond in (("hq", "", "TRUE"), ("dist", scope.format(w=ids), where.format(w=ids))):
            rows = conn.execute(f"SELECT count(*) FROM {table} WHERE {cond}",
                                {"d": distributor_id, "w": warehouses}).fetchone()[0]
            deep = max(1, min(depth, -(-rows // PER_PAGE)))
            label = "HQ" if who == "hq" else f"distributor #{distributor_id}"
            found.append(Case(f"{name}, {label}, page 1", who, path, sql.format(scope=clause),
                              {"after": 2**31, "d": distributor_id, "w": warehouses, "n": PER_PAGE}, row_ids))
            if deep > 1:
                # The cursor the Next link of page deep - 1 carries: the id of that page's last row.
                after = conn.execute(f"SELECT id FROM {table} WHERE {cond} ORDER BY id DESC OFFSET %(k)s LIMIT 1",
                                     {"d": distributor_id, "w": warehouses, "k": (deep - 1) * PER_PAGE - 1}
                                     ).fetchone()[0]
                found.append(Case(f"{name}, {label}, page {deep:,}", who, f"{path}?after={after}&page={deep}",
                                  sql.format(scope=clause),
                                  {"after": after, "d": distributor_id, "w": warehouses, "n": PER_PAGE},
                                  row_ids, page=deep))
    return found


# ---------------------------------------------------------------- measuring

def _time(fn, n: int) -> list[float]:
    """Milliseconds of n calls of fn after WARMUP untimed ones."""
    for _n in range(WARMUP):
        fn()
    out = []
    for _n in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def _statements(app, client, path: str) -> list:
    """The SQL statements (with their parameters) one request of `path` runs."""
    from sqlalchemy import event

    from dms.extensions import db

    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code}")
    return seen


def _verify(client, case: Case, conn) -> None:
    """Stop unless the app's page shows exactly the rows the ceiling query fetches, in its order."""
    html = client.get(case.path).get_data(as_text=True)
    shown = case.row_ids(html)
    expected = [row[0] for row in conn.execute(case.sql, case.args).fetchall()]
    if shown != expected:
        raise SystemExit(f"{case.name}: the app shows {shown[:5]}... but the SQL fetches {expected[:5]}...")


def _explain(app, client, case: Case) -> None:
    """EXPLAIN ANALYZE of each query the app runs for the page (the plan's top lines and the time)."""
    from dms.extensions import db

    print(f"\n### {case.name}: {case.path}")
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            for statement, parameters in _statements(app, client, case.path):
                if not statement.lstrip().upper().startswith("SELECT"):
                    continue
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
                plan = [row[0] for row in cur.fetchall()]
                took = next((p.split(":")[1].strip() for p in plan if p.startswith("Execution Time")), "?")
                print(f"  [{took}] " + " ".join(statement.split())[:150])
                # The lines that say how rows are found (scans, joins, sorts): what an index changes.
                for line in [p for p in plan if any(w in p for w in ("Scan", "Sort Key", "Join", "Cond"))][:8]:
                    print("      " + line.strip()[:170])
        finally:
            raw.rollback()
            raw.close()


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (after 3 warm-ups)")
    parser.add_argument("--depth", type=int, default=5000, help="the deep page's number")
    parser.add_argument("--only", default="", help="only the cases whose name contains this")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the app's queries")
    args = parser.parse_args()
    url = args.database_url
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    if not url.startswith("postgresql+psycopg://"):
        print("usage: list_pages.py --database-url postgresql+psycopg://USER@HOST:PORT/SCRATCH_DB "
              "(or DATABASE_URL): a scratch copy of a database bench/generate.py filled.", file=sys.stderr)
        return 2

    import psycopg

    from dms import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None, "DMS_CACHE": False})
    hq_id, dist_id, distributor_id = bench_users(app)
    clients = {"hq": logged_in_client(app, hq_id), "dist": logged_in_client(app, dist_id)}
    conn = psycopg.connect(_psycopg_url(url), autocommit=True)
    sizes = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
             for t in ("orders", "customers", "stock_movements")}
    print(", ".join(f"{t}: {n:,}" for t, n in sizes.items()) + f"; distributor #{distributor_id}; "
          f"{args.requests} requests per page after {WARMUP} warm-ups")
    chosen = [c for c in cases(conn, distributor_id, args.depth) if args.only.lower() in c.name.lower()]
    for case in chosen:
        client = clients[case.who]
        _verify(client, case, conn)
        if args.explain:
            _explain(app, client, case)
        case.queries = len(_statements(app, client, case.path))
        big = case.path + ("&" if "?" in case.path else "?") + "per_page=100"
        case.queries_big = len(_statements(app, client, big))

        def get(client=client, path=case.path):
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")

        cpu = time.process_time()
        case.app_ms = _time(get, args.requests)
        case.cpu_ms = (time.process_time() - cpu) * 1000 / (args.requests + WARMUP)
        case.sql_ms = _time(lambda case=case: conn.execute(case.sql, case.args).fetchall(), args.requests)
        print(f"  {case.name}: app p50 {pct(case.app_ms, .5):.1f} ms p95 {pct(case.app_ms, .95):.1f} ms "
              f"(CPU {case.cpu_ms:.1f} ms; {case.queries} queries; {case.queries_big} at per_page 100), "
              f"SQL p50 {pct(case.sql_ms, .5):.2f} ms", flush=True)
    _table(chosen)
    return 0


def _table(chosen: list[Case]) -> None:
    print()
    print("| page | app p50 / p95 (ms) | app CPU (ms) | SQL p50 / p95 (ms) | ratio p50 (p95) | "
          "queries (per_page 25 / 100) | target < 50 ms |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for c in chosen:
        a50, a95, s50, s95 = pct(c.app_ms, .5), pct(c.app_ms, .95), pct(c.sql_ms, .5), pct(c.sql_ms, .95)
        ok = "met" if a95 < 50 else f"missed by {a95 - 50:.0f} ms (p95)"
        print(f"| {c.name} | {a50:.1f} / {a95:.1f} | {c.cpu_ms:.1f} | {s50:.2f} / {s95:.2f} | "
              f"{a50 / s50:.0f}x ({a95 / s95:.0f}x) | {c.queries} / {c.queries_big} | {ok} |")


if __name__ == "__main__":
    sys.exit(main())
