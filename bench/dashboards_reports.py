"""Dashboards and the main reports at scale against hand-written SQL for the same figures (benchmark 2).

    .venv/bin/python bench/dashboards_reports.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_dash [--requests 30] [--cache]

Point it at a scratch copy of a database bench/generate.py filled (createdb -h 127.0.0.1 -U postgres
-T bench_large bench_dash): it adds two users (bench-hq, an admin; bench-dist, the user of the distributor
with the most orders) and their login sessions, nothing else.

Each page is requested through the Flask test client, logged in, so the time is the server's whole path
(session, permission, queries, template render): 3 warm-ups, then --requests timed requests; p50 and p95.
The ceiling is the same figures computed by hand-written SQL through psycopg on the same database, timed
the same way; before timing, the script checks the app's figures (its build functions) equal the SQL's
(totals, counts, first rows) and stops on a difference. Targets: dashboards p95 under 100 ms, every
report within 2x of its SQL.

--cache runs the dashboards a second time with the Redis cache of dms/core/cache.py on (REDIS_URL or
--redis-url) and prints what it gained. --explain NAME prints EXPLAIN ANALYZE of every query the app runs
for that page (to review plans). The last block is a markdown table for bench/README.md.
"""

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import bench_users, logged_in_client, pct  # noqa: E402

WARMUP = 3
SALE = "o.status IN ('delivered', 'completed') AND o.refunded_at IS NULL"
MOMENT = "coalesce(o.delivered_at, o.completed_at)"
REGION = "coalesce(o.ship_region_code, d.region_code)"


@dataclass
class Case:
    """One page: its URL and user, the app figures to check, and the ceiling (SQL -> the same figures)."""

    name: str
    path: str
    who: str  # "hq" | "dist"
    app_figures: object  # () -> dict, run in a request context logged in as `who`
    sql: object  # (cursor) -> dict
    kind: str = "report"  # "dashboard" | "report"
    app_ms: list = field(default_factory=list)
    sql_ms: list = field(default_factory=list)
    cached_ms: list = field(default_factory=list)
    queries: int = 0


def money(value) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(Decimal("0.01"))


# ---------------------------------------------------------------- setup


# ---------------------------------------------------------------- the ceilings


def _dashboard_sql(cur, periods, distributor_id, hq: bool) -> dict:
    """Every tile of a dashboard in hand-written SQL (one statement; HQ: plus ranking and coverage)."""
    day0, day1 = periods.day_bounds
    w0, w1 = periods.week_bounds
    m0, m1 = periods.month_bounds
    own = "" if hq else "AND distributor_id = %(d)s"
    own_w = "" if hq else "AND w.distributor_id = %(d)s"
    own_c = "" if hq else "AND c.distributor_id = %(d)s"
    args = {"d": distributor_id, "day0": day0, "day1": day1, "w0": w0, "w1": w1, "m0": m0, "m1": m1,
            "month": periods.month, "today": periods.today}
    if hq:
        volume = """(SELECT coalesce(sum(o.total), 0) FROM orders o JOIN distributor_targets t
                     ON t.distributor_id = o.distributor_id AND t.period = 'month' AND t.period_start = %(month)s
                     AND t.amount IS NOT NULL
                     WHERE o.completed_at >= %(m0)s AND o.completed_at < %(m1)s
                     AND (o.refunded_at IS NULL OR o.refunded_at > %(m1)s))"""
        target = """(SELECT coalesce(sum(amount), 0) FROM distributor_targets WHERE period = 'month'
                     AND period_start = %(month)s AND amount IS NOT NULL)"""
        payable = "(SELECT coalesce(sum(amount), 0) FROM commission_entries WHERE status = 'payable')"
    else:
        volume = f"""(SELECT coalesce(sum(total), 0) FROM orders WHERE completed_at >= %(m0)s
                      AND completed_at < %(m1)s AND (refunded_at IS NULL OR refunded_at > %(m1)s) {own})"""
        target = """(SELECT amount FROM distributor_targets WHERE distributor_id = %(d)s AND period = 'month'
                     AND period_start = %(month)s)"""
        payable = """(SELECT coalesce(sum(amount), 0) FROM commission_entries WHERE beneficiary_id = %(d)s
                      AND status = 'payable')"""
    cur.execute(f"""SELECT
        (SELECT count(*) FROM orders WHERE created_at >= %(day0)s AND created_at < %(day1)s {own}),
        (SELECT coalesce(sum(total), 0) FROM orders WHERE status IN ('delivered', 'completed')
            AND delivered_at >= %(w0)s AND delivered_at < %(w1)s {own}),
        (SELECT count(*) FROM orders WHERE status = 'paid' AND courier_id IS NULL {own}),
        (SELECT count(*) FROM customers WHERE created_at >= %(m0)s AND created_at < %(m1)s {own}),
        (SELECT count(*) FROM stock_alerts a JOIN warehouses w ON w.id = a.warehouse_id
            WHERE a.status = 'open' AND a.kind = 'low_stock' {own_w}),
        (SELECT count(*) FROM stock_alerts a JOIN warehouses w ON w.id = a.warehouse_id
            WHERE a.status = 'open' AND a.kind = 'near_expiry' {own_w}),
        (SELECT count(*) FROM customer_interactions i JOIN customers c ON c.id = i.customer_id
            WHERE i.follow_up_on IS NOT NULL AND i.follow_up_done_at IS NULL AND i.status = 'done'
            AND i.follow_up_on <= %(today)s {own_c}),
        {volume}, {target}, {payable}""", args)
    row = cur.fetchone()
    found = {"todays_orders": row[0], "week_sales": money(row[1]), "awaiting_dispatch": row[2],
             "new_customers": row[3], "low_stock": row[4], "near_expiry": row[5], "follow_ups_due": row[6],
             "month_volume": money(row[7]), "month_target": None if row[8] is None else money(row[8]),
             "commission_payable": money(row[9])}
    if hq:
        cur.execute("""SELECT d.id, coalesce(sum(o.total), 0) AS s FROM distributors d
            LEFT JOIN orders o ON o.distributor_id = d.id AND o.status IN ('delivered', 'completed')
                AND o.delivered_at >= %(m0)s AND o.delivered_at < %(m1)s
            WHERE d.status = 'active' GROUP BY d.id ORDER BY s DESC, d.id LIMIT 5""", args)
        found["top"] = [r[0] for r in cur.fetchall()]
        cur.execute("""SELECT
            (SELECT count(*) FROM orders WHERE distributor_id IS NULL AND status IN ('pending', 'paid')),
            (SELECT count(*) FROM distributor_applications
                WHERE state IN ('submitted', 'needs_review', 'under_review'))""")
        found["unassigned_orders"], found["open_applications"] = cur.fetchone()
    return found


def _dashboard_app(user) -> dict:
    from dms.reports import dashboards

    f = dashboards.dashboard(user)
    found = {k: getattr(f, k) for k in ("todays_orders", "week_sales", "awaiting_dispatch", "new_customers",
                                         "low_stock", "near_expiry", "follow_ups_due", "month_volume",
                                         "month_target", "commission_payable")}
    if f.hq:
        found["month_target"] = f.month_target
        found["top"] = [r.distributor_id for r in f.top]
        found["unassigned_orders"], found["open_applications"] = f.unassigned_orders, f.open_applications
    return found


def _sales_sql(cur, start, end, *, key: str, where: str = "", args=None, names: str = "") -> dict:
    """The sales report's groups and totals in one GROUP BY (ROLLUP for the total distinct orders)."""
    from dms.reports import sales

    lo, hi = sales.utc_bounds(start, end)
    cur.execute(f"""SELECT {key} AS k, GROUPING({key}), count(DISTINCT o.id), sum(l.quantity), sum(l.amount)
        FROM orders o JOIN order_lines l ON l.order_id = o.id LEFT JOIN distributors d ON d.id = o.distributor_id
        WHERE {SALE} AND {MOMENT} >= %(lo)s AND {MOMENT} < %(hi)s {where}
        GROUP BY ROLLUP ({key}) ORDER BY 5 DESC""", {"lo": lo, "hi": hi, "tz": _tz(), **(args or {})})
    rows = cur.fetchall()
    total = next(((r[2], r[3], r[4]) for r in rows if r[1]), (0, 0, 0))
    groups = [(r[0], r[2], r[3], r[4]) for r in rows if not r[1]]
    if names and groups:
        cur.execute(names, {"ids": [r[0] for r in groups if r[0] is not None]})
        cur.fetchall()
    return {"groups": len(groups), "orders": total[0], "units": int(total[1] or 0), "amount": money(total[2]),
            "first": money(groups[0][3]) if groups else None}


def _sales_app(user, params) -> dict:
    from dms.reports import sales

    f = sales.build(user, params)
    rows = sorted(f["rows"], key=lambda r: -r.amount)
    return {"groups": len(f["rows"]), "orders": f["totals"]["orders"], "units": f["totals"]["units"],
            "amount": money(f["totals"]["amount"]), "first": money(rows[0].amount) if rows else None}


def _tz() -> str:
    from flask import current_app

    return current_app.config["DMS_TIMEZONE"]


def _local(expr: str, unit: str) -> str:
    return f"date_trunc('{unit}', timezone(%(tz)s, timezone('UTC', {expr})))"


def _trend_sql(cur, start, end, unit, where="", args=None) -> dict:
    from dms.reports import sales

    lo, hi = sales.utc_bounds(start, end)
    cur.execute(f"""SELECT {_local(MOMENT, unit)} AS k, count(DISTINCT o.id), sum(l.quantity), sum(l.amount)
        FROM orders o JOIN order_lines l ON l.order_id = o.id
        WHERE {SALE} AND {MOMENT} >= %(lo)s AND {MOMENT} < %(hi)s {where} GROUP BY 1 ORDER BY 1""",
                {"lo": lo, "hi": hi, "tz": _tz(), **(args or {})})
    rows = cur.fetchall()
    return {"points": len(rows), "orders": sum(r[1] for r in rows), "units": int(sum(r[2] for r in rows)),
            "amount": money(sum((r[3] for r in rows), Decimal(0)))}


def _trend_app(user, params) -> dict:
    from dms.reports import trend

    f = trend.build(user, params)
    return {"points": sum(1 for b in f["rows"] if b.orders), "orders": f["totals"]["orders"],
            "units": f["totals"]["units"], "amount": money(f["totals"]["amount"])}


def _ranking_sql(cur, start, end, previous_start, previous_end, distributor_id=None) -> dict:
    from dms.reports import sales

    lo, hi = sales.utc_bounds(start, end)
    plo, phi = sales.utc_bounds(previous_start, previous_end)
    own = "AND o.distributor_id = %(d)s" if distributor_id else ""
    args = {"lo": lo, "hi": hi, "plo": plo, "phi": phi, "s": start, "e": end, "d": distributor_id}
    cur.execute(f"""WITH cur AS (SELECT o.distributor_id AS id, sum(l.amount) AS amount, count(DISTINCT o.id) AS n
            FROM orders o JOIN order_lines l ON l.order_id = o.id
            WHERE {SALE} AND {MOMENT} >= %(lo)s AND {MOMENT} < %(hi)s AND o.distributor_id IS NOT NULL {own}
            GROUP BY 1),
        prev AS (SELECT o.distributor_id AS id, sum(l.amount) AS amount
            FROM orders o JOIN order_lines l ON l.order_id = o.id
            WHERE {SALE} AND {MOMENT} >= %(plo)s AND {MOMENT} < %(phi)s AND o.distributor_id IS NOT NULL {own}
            GROUP BY 1),
        tgt AS (SELECT distributor_id AS id, sum(amount) AS amount FROM distributor_targets
            WHERE amount IS NOT NULL AND period_start >= %(s)s AND period_start <= %(e)s
            AND (period = 'month' OR period_start + interval '2 months' <= %(e)s) GROUP BY 1)
        SELECT d.id, d.name, d.company_name, d.level, r.name, coalesce(cur.amount, 0), coalesce(cur.n, 0),
               prev.amount, tgt.amount
        FROM distributors d LEFT JOIN cur ON cur.id = d.id LEFT JOIN prev ON prev.id = d.id
        LEFT JOIN tgt ON tgt.id = d.id LEFT JOIN regions r ON r.code = d.region_code
        WHERE {"d.id = %(d)s" if distributor_id else "(d.status = 'active' OR cur.id IS NOT NULL)"}
        ORDER BY 6 DESC, d.name, d.id""", args)
    rows = cur.fetchall()
    return {"rows": len(rows), "amount": money(sum((r[5] for r in rows), Decimal(0))),
            "orders": sum(r[6] for r in rows), "previous": money(sum((r[7] or 0 for r in rows), Decimal(0))),
            "first": rows[0][0] if rows else None}


def _ranking_app(user, params) -> dict:
    from dms.reports import performance_ranking

    f = performance_ranking.build(user, params)
    return {"rows": len(f["rows"]), "amount": money(f["totals"]["amount"]), "orders": f["totals"]["orders"],
            "previous": money(f["totals"]["previous"]), "first": f["rows"][0].distributor.id if f["rows"] else None}


def _satisfaction_sql(cur, start, end, distributor_id=None) -> dict:
    from dms.reports import sales

    lo, hi = sales.utc_bounds(start, end)
    own = "AND o.distributor_id = %(d)s" if distributor_id else ""
    cur.execute(f"""SELECT o.distributor_id, {_local('r.at', 'month')}, r.score, count(*)
        FROM order_ratings r JOIN orders o ON o.id = r.order_id WHERE r.at >= %(lo)s AND r.at < %(hi)s {own}
        GROUP BY GROUPING SETS ((1, 3), (2, 3))""", {"lo": lo, "hi": hi, "tz": _tz(), "d": distributor_id})
    rows = cur.fetchall()
    by_month = [r for r in rows if r[1] is not None]
    count = sum(r[3] for r in by_month)
    return {"ratings": count, "score_sum": sum(r[2] * r[3] for r in by_month),
            "distributors": len({r[0] for r in rows if r[1] is None}), "months": len({r[1] for r in by_month})}


def _satisfaction_app(user, params) -> dict:
    from dms.reports import satisfaction

    f = satisfaction.build(user, params)
    o = f["overall"]
    return {"ratings": o.count, "score_sum": sum(s * n for s, n in o.counts.items()),
            "distributors": len(f["by_distributor"]), "months": len(f["by_month"])}


def _commissions_sql(cur, start, end, distributor_id=None) -> dict:
    own = "AND beneficiary_id = %(d)s" if distributor_id else ""
    cur.execute(f"""SELECT period, beneficiary_id, kind, status, sum(amount), count(*) FROM commission_entries
        WHERE period >= %(s)s AND period <= %(e)s {own} GROUP BY 1, 2, 3, 4""",
                {"s": start.strftime("%Y-%m"), "e": end.strftime("%Y-%m"), "d": distributor_id})
    rows = cur.fetchall()
    ids = list({r[1] for r in rows})
    cur.execute("SELECT id, name, company_name, kind FROM distributors WHERE id = ANY(%(ids)s)", {"ids": ids})
    cur.fetchall()
    return {"entries": sum(r[5] for r in rows), "total": money(sum((r[4] for r in rows), Decimal(0))),
            "months": len({r[0] for r in rows}), "beneficiaries": len(ids)}


def _commissions_app(user, params) -> dict:
    from dms.reports import commission_summary

    f = commission_summary.build(user, params)
    return {"entries": f["overall"].entries, "total": money(f["overall"].total), "months": len(f["by_month"]),
            "beneficiaries": len(f["by_distributor"])}


def _turnover_sql(cur, start, end, distributor_id=None) -> dict:
    """Opening, closing and issued units per warehouse and product, with each one's unit cost, in SQL."""
    from dms.reports import sales

    lo, hi = sales.utc_bounds(start, end)
    own = "AND w.distributor_id = %(d)s" if distributor_id else ""
    cur.execute(f"""WITH m AS (
            SELECT m.warehouse_id, m.product_id,
                   sum(CASE WHEN m.at < %(lo)s THEN m.on_hand_delta ELSE 0 END) AS opening,
                   sum(m.on_hand_delta) AS closing,
                   sum(CASE WHEN m.at >= %(lo)s AND m.kind IN ('issue', 'return') THEN -m.on_hand_delta ELSE 0 END)
                       AS issued
            FROM stock_movements m JOIN warehouses w ON w.id = m.warehouse_id
            WHERE m.at < %(hi)s {own} GROUP BY 1, 2)
        SELECT m.warehouse_id, m.product_id, m.opening, m.closing, m.issued,
            (SELECT p.amount FROM prices p WHERE p.product_id = m.product_id AND p.kind = 'distributor'
                AND p.level = coalesce(d.level, 'province') AND p.effective_from <= %(hi)s
                ORDER BY p.effective_from DESC, p.id DESC LIMIT 1)
        FROM m JOIN warehouses w ON w.id = m.warehouse_id LEFT JOIN distributors d ON d.id = w.distributor_id
        WHERE m.opening <> 0 OR m.closing <> 0 OR m.issued <> 0""", {"lo": lo, "hi": hi, "d": distributor_id})
    rows = cur.fetchall()
    return {"lines": len(rows), "issued": int(sum(r[4] for r in rows)),
            "cogs": money(sum((r[4] * r[5] for r in rows if r[5] is not None), Decimal(0)))}


def _turnover_app(user, params) -> dict:
    from dms.reports import turnover

    f = turnover.build(user, params)
    return {"lines": len(f["rows"]), "issued": f["total"].issued, "cogs": money(f["total"].cogs)}


def _campaign_sql(cur, evaluations) -> dict:
    """Each campaign's four sales aggregates (period and baseline, target and control regions) in SQL."""
    from dms.core.time import business_day_bounds_utc

    revenue = Decimal(0)
    orders = 0
    for e in evaluations:
        products = [p.id for p in e.campaign.products]
        for codes, first, last, counted in ((e.target_codes, e.start, e.end, True),
                                            (e.target_codes, e.baseline_start, e.baseline_end, False),
                                            (e.control_codes, e.start, e.end, False),
                                            (e.control_codes, e.baseline_start, e.baseline_end, False)):
            if not codes or not products:
                continue
            cur.execute(f"""SELECT count(DISTINCT o.id), coalesce(sum(l.amount), 0),
                    coalesce(sum(l.amount - l.quantity * (SELECT p.amount FROM prices p
                        WHERE p.product_id = l.product_id AND p.kind = 'distributor' AND p.level = d.level
                        AND p.effective_from <= o.created_at
                        ORDER BY p.effective_from DESC, p.id DESC LIMIT 1)), 0)
                FROM orders o JOIN order_lines l ON l.order_id = o.id
                LEFT JOIN distributors d ON d.id = o.distributor_id
                WHERE o.status IN ('delivered', 'completed')
                AND l.product_id = ANY(%(p)s) AND {REGION} = ANY(%(r)s)
                AND o.created_at >= %(lo)s AND o.created_at < %(hi)s""",
                        {"p": products, "r": list(codes), "lo": business_day_bounds_utc(first)[0],
                         "hi": business_day_bounds_utc(last)[1]})
            n, amount, _margin = cur.fetchone()
            if counted:
                orders += n
                revenue += amount
    return {"campaigns": len(evaluations), "orders": orders, "revenue": money(revenue)}


def _campaign_inputs(user, params):
    """What the campaign ceiling needs of each evaluated campaign: its periods and expanded region codes."""
    from types import SimpleNamespace

    from dms.campaigns import services as campaigns
    from dms.reports import campaign_reports

    f = campaign_reports.build(user, params)
    return [SimpleNamespace(campaign=e.campaign, start=e.start, end=e.end, baseline_start=e.baseline_start,
                            baseline_end=e.baseline_end, target_codes=campaigns.covered_codes(e.campaign, "target"),
                            control_codes=campaigns.covered_codes(e.campaign, "control")) for e in f["rows"]]


def _campaign_app(user, params) -> dict:
    from dms.reports import campaign_reports

    f = campaign_reports.build(user, params)
    return {"campaigns": len(f["rows"]), "orders": f["totals"]["orders"], "revenue": money(f["totals"]["revenue"])}


# ---------------------------------------------------------------- the pages

def cases(app, hq_id: int, dist_id: int, distributor_id: int) -> list[Case]:
    """Every benchmarked page with its ceiling; drill-down parameters taken from the data."""
    from flask_login import login_user

    from dms.accounts.models import User
    from dms.core.periods import previous_month
    from dms.core.time import business_today
    from dms.extensions import db
    from dms.reports import dashboards, sales
    from dms.reports.performance_ranking import month_count

    today = business_today()
    periods = dashboards.Periods(today)
    start12, end12 = sales.months_back(today, 12), today
    m_start, m_end = sales.month_params({}, today.replace(day=1), today.replace(day=1))
    prev_start = previous_month(m_start)
    for _n in range(month_count(m_start, m_end) - 1):
        prev_start = previous_month(prev_start)
    prev_end = m_start - timedelta(days=1)

    with app.test_request_context():
        hq_user = db.session.get(User, hq_id)
        login_user(hq_user)
        top_province = _sales_app_rows(hq_user, {"group": "region"})
        province = top_province[0].key if top_province else None
        cities = _sales_app_rows(hq_user, {"group": "region", "region": province}) if province else []
        city = next((r.key for r in cities if r.key), None)
        products = _sales_app_rows(hq_user, {"group": "product", "distributor": str(distributor_id)})
        product_id = products[0].key if products else None
        campaign_inputs = _campaign_inputs(hq_user, {})

    def prefix(code):
        return code[:2] if code.endswith("0000") else code[:4]

    in_region = f"AND {REGION} LIKE %(pre)s"
    region_key = "left(coalesce(o.ship_region_code, d.region_code), {n}) || repeat('0', 6 - {n})"
    d_names = "SELECT id, name FROM distributors WHERE id = ANY(%(ids)s)"
    r_names = "SELECT code, name FROM regions WHERE code = ANY(%(ids)s)"
    p_names = "SELECT id, name, sku FROM products WHERE id = ANY(%(ids)s)"
    found = [
        Case("HQ dashboard", "/dashboard", "hq", lambda u: _dashboard_app(u),
             lambda c: _dashboard_sql(c, periods, None, True), "dashboard"),
        Case(f"distributor dashboard (#{distributor_id})", "/dashboard", "dist", lambda u: _dashboard_app(u),
             lambda c: _dashboard_sql(c, periods, distributor_id, False), "dashboard"),
        Case("sales by province (12 months)", "/reports/sales", "hq", lambda u: _sales_app(u, {}),
             lambda c: _sales_sql(c, start12, end12, key=region_key.format(n=2), names=r_names)),
    ]
    if province:
        found.append(Case(f"sales drill: cities of {province}", f"/reports/sales?region={province}", "hq",
                          lambda u: _sales_app(u, {"region": province}),
                          lambda c: _sales_sql(c, start12, end12, key=region_key.format(n=4), names=r_names,
                                               where=in_region, args={"pre": prefix(province) + "%"})))
        found.append(Case(f"sales drill: distributors of {province}",
                          f"/reports/sales?region={province}&group=distributor", "hq",
                          lambda u: _sales_app(u, {"region": province, "group": "distributor"}),
                          lambda c: _sales_sql(c, start12, end12, key="o.distributor_id", names=d_names,
                                               where=in_region, args={"pre": prefix(province) + "%"})))
    if city:
        found.append(Case(f"sales drill: counties of {city}", f"/reports/sales?region={city}", "hq",
                          lambda u: _sales_app(u, {"region": city}),
                          lambda c: _sales_sql(c, start12, end12, key=region_key.format(n=6), names=r_names,
                                               where=in_region, args={"pre": city[:4] + "%"})))
    found.append(Case(f"sales drill: products of #{distributor_id}",
                      f"/reports/sales?distributor={distributor_id}&group=product", "hq",
                      lambda u: _sales_app(u, {"distributor": str(distributor_id), "group": "product"}),
                      lambda c: _sales_sql(c, start12, end12, key="l.product_id", names=p_names,
                                           where="AND o.distributor_id = %(d)s", args={"d": distributor_id})))
    if product_id:
        found.append(Case(f"sales drill: months of product #{product_id}",
                          f"/reports/sales?distributor={distributor_id}&product={product_id}&group=month", "hq",
                          lambda u: _sales_app(u, {"distributor": str(distributor_id), "product": str(product_id),
                                                   "group": "month"}),
                          lambda c: _sales_sql(c, start12, end12, key=_local(MOMENT, "month"),
                                               where="AND o.distributor_id = %(d)s AND l.product_id = %(p)s",
                                               args={"d": distributor_id, "p": product_id})))
    found += [
        Case("sales, distributor's own (12 months)", "/reports/sales", "dist", lambda u: _sales_app(u, {}),
             lambda c: _sales_sql(c, start12, end12, key=region_key.format(n=2), names=r_names,
                                  where="AND o.distributor_id = %(d)s", args={"d": distributor_id})),
        Case("trend by month (12 months)", "/reports/trend", "hq", lambda u: _trend_app(u, {}),
             lambda c: _trend_sql(c, start12, end12, "month")),
        Case("trend by day (30 days)", "/reports/trend?granularity=day", "hq",
             lambda u: _trend_app(u, {"granularity": "day"}),
             lambda c: _trend_sql(c, today - timedelta(days=29), today, "day")),
        Case("turnover (this month)", "/reports/turnover", "hq", lambda u: _turnover_app(u, {}),
             lambda c: _turnover_sql(c, today.replace(day=1), today)),
        Case("ranking (this month)", "/reports/ranking", "hq", lambda u: _ranking_app(u, {}),
             lambda c: _ranking_sql(c, m_start, m_end, prev_start, prev_end)),
        Case("satisfaction (12 months)", "/reports/satisfaction", "hq", lambda u: _satisfaction_app(u, {}),
             lambda c: _satisfaction_sql(c, sales.months_back(today, 12).replace(day=1),
                                         sales.month_last_day(today.replace(day=1)))),
        Case("campaigns (12 months)", "/reports/campaigns", "hq", lambda u: _campaign_app(u, {}),
             lambda c: _campaign_sql(c, campaign_inputs)),
        Case("commission summary (12 months)", "/reports/commissions", "hq", lambda u: _commissions_app(u, {}),
             lambda c: _commissions_sql(c, sales.months_back(today, 12), today)),
    ]
    return found


def _sales_app_rows(user, params):
    from dms.reports import sales

    return sales.build(user, params)["rows"]


# ---------------------------------------------------------------- running


def _psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _time(fn, n: int) -> list[float]:
    for _n in range(WARMUP):
        fn()
    found = []
    for _n in range(n):
        t0 = time.perf_counter()
        fn()
        found.append((time.perf_counter() - t0) * 1000)
    return found


def _time_both(app_fn, sql_fn, n: int) -> tuple[list[float], list[float]]:
    """Timings of the app and of its ceiling, interleaved (one of each in turn) so both meet the same cache
    and the same load of a shared machine."""
    for _n in range(WARMUP):
        app_fn()
        sql_fn()
    app_ms, sql_ms = [], []
    for _n in range(n):
        for fn, found in ((app_fn, app_ms), (sql_fn, sql_ms)):
            t0 = time.perf_counter()
            fn()
            found.append((time.perf_counter() - t0) * 1000)
    return app_ms, sql_ms


def _verify(app, case: Case, user_id: int, conn) -> None:
    from flask_login import login_user

    from dms.accounts.models import User
    from dms.extensions import db

    with app.test_request_context(case.path):
        user = db.session.get(User, user_id)
        login_user(user)
        mine = case.app_figures(user)
        with conn.cursor() as cur:
            theirs = case.sql(cur)
        db.session.rollback()
    if mine != theirs:
        diff = {k: (mine.get(k), theirs.get(k)) for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k)}
        raise SystemExit(f"{case.name}: the app's figures differ from the SQL's (app, sql): {diff}")


def _explain(app, case: Case, user_id: int, conn) -> None:
    """EXPLAIN ANALYZE of every statement the app runs for the page."""
    from sqlalchemy import event

    from dms.extensions import db

    captured = []

    def grab(conn_, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") or statement.lstrip().upper().startswith("WITH"):
            captured.append((statement, parameters))

    client = logged_in_client(app, user_id)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", grab)
    client.get(case.path)
    event.remove(engine, "before_cursor_execute", grab)
    with conn.cursor() as cur:
        for statement, parameters in captured:
            print("-" * 100)
            print(statement, parameters)
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            print("\n".join(r[0] for r in cur.fetchall()))
    conn.rollback()


def _count_queries(app, client, path: str) -> int:
    from sqlalchemy import event

    from dms.extensions import db

    with app.app_context():
        engine = db.engine
    seen = [0]

    def count(*_args):
        seen[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    client.get(path)
    event.remove(engine, "before_cursor_execute", count)
    return seen[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (after 3 warm-ups)")
    parser.add_argument("--only", default="", help="only the pages whose name contains this")
    parser.add_argument("--explain", default="", help="EXPLAIN ANALYZE the app's queries of the page named so")
    parser.add_argument("--cache", action="store_true", help="also run the dashboards with the Redis cache on")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    args = parser.parse_args()
    url = args.database_url
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    if not url.startswith("postgresql+psycopg://"):
        print("usage: dashboards_reports.py --database-url postgresql+psycopg://USER@HOST:PORT/SCRATCH_DB "
              "(or DATABASE_URL): a scratch copy of a database bench/generate.py filled.", file=sys.stderr)
        return 2

    import psycopg

    from dms import create_app

    config = {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": None, "DMS_CACHE": False}
    app = create_app(config)
    hq_id, dist_id, distributor_id = bench_users(app)
    users = {"hq": hq_id, "dist": dist_id}
    clients = {who: logged_in_client(app, uid) for who, uid in users.items()}
    conn = psycopg.connect(_psycopg_url(url), autocommit=True)
    with app.app_context():
        all_cases = cases(app, hq_id, dist_id, distributor_id)
    chosen = [c for c in all_cases if args.only.lower() in c.name.lower()]
    if args.explain:
        for case in all_cases:
            if args.explain.lower() in case.name.lower():
                _explain(app, case, users[case.who], conn)
        return 0
    with app.app_context():
        print(f"orders: {conn.execute('SELECT count(*) FROM orders').fetchone()[0]:,}, distributor #{distributor_id}, "
              f"{args.requests} requests per page after {WARMUP} warm-ups")
    for case in chosen:
        _verify(app, case, users[case.who], conn)
        client = clients[case.who]

        def get(client=client, path=case.path):
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")

        case.queries = _count_queries(app, client, case.path)
        with app.app_context():
            case.app_ms, case.sql_ms = _time_both(get, lambda case=case: case.sql(conn.cursor()), args.requests)
        print(f"  {case.name}: app p50 {pct(case.app_ms, .5):.1f} ms p95 {pct(case.app_ms, .95):.1f} ms "
              f"({case.queries} queries), SQL p50 {pct(case.sql_ms, .5):.1f} ms", flush=True)
    if args.cache:
        _run_cached(args, url, users, [c for c in chosen if c.kind == "dashboard"])
    _table(chosen, args.cache)
    return 0


def _run_cached(args, url: str, users: dict, chosen: list[Case]) -> None:
    """The dashboards again with the Redis cache on (a fresh app, its cache emptied first)."""
    from dms import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": args.redis_url, "DMS_CACHE": True})
    with app.app_context():
        from dms.core import cache

        if not cache.available():
            print(f"  --cache: no Redis at {args.redis_url}; skipped")
            return
        cache.clear()
    clients = {who: logged_in_client(app, uid) for who, uid in users.items()}
    for case in chosen:
        client = clients[case.who]
        case.cached_ms = _time(lambda client=client, path=case.path: client.get(path), args.requests)


def _table(chosen: list[Case], cached: bool) -> None:
    print()
    extra = " cached p50 / p95 (ms) |" if cached else ""
    print(f"| page | app p50 / p95 (ms) | SQL p50 / p95 (ms) | ratio p50 (p95) | queries | target |{extra}")
    print("| --- | --- | --- | --- | --- | --- |" + (" --- |" if cached else ""))
    for c in chosen:
        a50, a95, s50, s95 = pct(c.app_ms, .5), pct(c.app_ms, .95), pct(c.sql_ms, .5), pct(c.sql_ms, .95)
        ratio50, ratio95 = a50 / s50 if s50 else float("inf"), a95 / s95 if s95 else float("inf")
        if c.kind == "dashboard":
            ok = "p95 < 100 ms: " + ("met" if a95 < 100 else f"missed by {a95 - 100:.0f} ms")
        else:
            ok = "within 2x: " + ("met" if ratio50 <= 2 else f"missed ({ratio50:.1f}x)")
        line = (f"| {c.name} | {a50:.1f} / {a95:.1f} | {s50:.1f} / {s95:.1f} | {ratio50:.2f} ({ratio95:.2f}) | "
                f"{c.queries} | {ok} |")
        if cached:
            line += (f" {pct(c.cached_ms, .5):.1f} / {pct(c.cached_ms, .95):.1f} |" if c.cached_ms else " - |")
        print(line)


if __name__ == "__main__":
    sys.exit(main())
