"""Demo sales history for `flask dms seed-demo`: a year of completed orders, so trends, turnover,
the scorecard and forecasts have real shapes to show.

52 weeks of orders, ending the day before the current month, for five demo agents whose warehouses
no other seeder stocks (深圳 林海, 顺德 梁俊, 瑞安 郑凯, 鹿城 陈静, 成都 张伟) — never 黄丽 (南海区), whose
orders other demo tests count, and never shipped to the demo campaign's regions (南海区, 天河区), so the
campaign's figures stay as dms/orders/crm_demo.py worked them out. The shapes: weekends sell most,
bottled water (W-550, and a little the barrels W-189) peaks in summer, flour and oil peak around the
Spring Festival, and sales grow mildly over the year; each agent rates a little differently.

Every order is consistent with the stock ledger, as the real flow leaves it: stock arrives in monthly
lots (receipts, batch-tracked products in batches whose expiry lies ahead), each order reserves its
lines when placed and issues them when shipped, through the inventory services with source "order",
and every timestamp (order, timeline, payment, rating, movements, batches) is dated back to its day.
The orders are written directly in state completed, without the `order.completed` event: history
brought over, so commissions do not accrue on it (the commissions demo settled last month already).
Deterministic (a fixed random seed) and made once: an order with the note HISTORY_NOTE is the marker.
"""

import math
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import bindparam, select

from dms.core.cli import DEMO_SEEDERS

HISTORY_NOTE = "历史订单（演示）：近一年"
STOCK_RECEIPTS = "demo_history"  # the source_type of the history's stock receipts
SEED = 20250801
WEEKS = 52
# region of the agent, batch-code suffix, orders a day on an average weekday, rating bias, its customers' regions
SELLERS = [
    ("440300", "SZ", 0.7, 0.0, ["440303", "440304", "440305"]),
    ("510100", "CD", 0.65, 0.1, ["510104", "510105", "510107"]),
    ("440606", "SD", 0.4, 0.0, ["440606"]),
    ("330381", "RA", 0.38, -0.5, ["330381"]),
    ("330302", "LC", 0.32, 0.2, ["330302"]),
]
CUSTOMERS_EACH = 9  # the first four were customers before the history starts; the others join during it
# sku, share of order lines, (smallest, largest) quantity, day of the year the season peaks, its amplitude,
# shelf life in days (batch-tracked products)
PRODUCTS = [
    ("W-189", 0.42, (1, 4), 196, 0.2, None),
    ("W-550", 0.3, (1, 5), 196, 0.7, 365),
    ("F-5KG", 0.16, (1, 3), 25, 0.55, 270),
    ("O-5L", 0.12, (1, 2), 25, 0.55, 540),
]
WEEKDAY = (0.8, 0.85, 0.9, 0.95, 1.1, 1.55, 1.45)  # Monday first: weekends peak
GROWTH = 0.18  # over the year
SECOND_LINE = 0.25  # the share of orders with a second product
SAFETY = 0.25  # the stock a monthly lot leaves beyond the month's sales (about a week)
RATED = 0.35  # the share of orders the customer rated
SCORES = (1, 2, 3, 4, 5)
SCORE_WEIGHTS = (0.02, 0.04, 0.09, 0.3, 0.55)
COMMENTS = {5: ["送货准时，服务很好。", "师傅很客气，帮忙搬上楼。", "一直在这家订，放心。"],
            4: ["送货挺快。", "整体满意，就是电话晚了一点。"], 3: ["比约定时间晚了半小时。"],
            2: ["包装有破损。"], 1: ["等了一下午才送到。"]}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["建华", "丽娟", "志强", "海燕", "俊杰", "晓梅", "国平", "雅婷", "文博", "淑芬", "家豪", "欣怡"]
BUSINESSES = ["便利店", "茶饮店", "健身房", "牙科诊所", "幼儿园", "物业服务中心", "设计工作室", "汽修店"]
STREETS = ["人民路", "建设路", "新华街", "中山路", "解放路", "滨江路", "青年路", "文化路"]


def _season(day: date, peak: int, amplitude: float) -> float:
    """1 ± amplitude over the year, highest on the day of the year `peak`."""
    return 1 + amplitude * math.cos(2 * math.pi * (day.timetuple().tm_yday - peak) / 365.25)


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method: the means here are small)."""
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _utc(day: date, hours: float) -> datetime:
    """The naive UTC instant `hours` after midnight of a business day."""
    from datetime import UTC

    from dms.core.time import business_tz

    local = datetime.combine(day, time.min, tzinfo=business_tz()) + timedelta(hours=hours)
    return local.astimezone(UTC).replace(tzinfo=None)


def window() -> tuple[date, date]:
    """The history's first and last business day: the 52 weeks before the current month."""
    from dms.core.periods import current_month

    last = current_month() - timedelta(days=1)
    return last - timedelta(days=7 * WEEKS - 1), last


def _already_made() -> bool:
    from dms.extensions import db
    from dms.orders.models import Order

    return db.session.scalar(select(Order.id).where(Order.note == HISTORY_NOTE).limit(1)) is not None


def _customers(distributor, n: int, regions: list[str], first: date, last: date) -> list[tuple]:
    """The agent's customers (found again by phone), each with the day they joined."""
    from dms.customers import services as customers

    made = []
    span = (last - first).days
    for k in range(CUSTOMERS_EACH):
        business = k % 3 == 1
        surname = SURNAMES[(n * 7 + k * 3) % len(SURNAMES)]
        name = (f"{surname}记{BUSINESSES[(n + k) % len(BUSINESSES)]}" if business
                else surname + GIVEN[(n * 5 + k) % len(GIVEN)])
        region = regions[k % len(regions)]
        customer = customers.find_or_create(None, distributor.id, {
            "name": name, "phone": f"139086{n:02d}{k:03d}", "region_code": region, "street": "",
            "address": f"{STREETS[(n + k * 5) % len(STREETS)]} {10 + (n * 31 + k * 17) % 180} 号",
            "kind": "business" if business else "person",
            "source": ("phone", "mini_program", "referral", "walk_in")[k % 4]})
        joined = first - timedelta(days=30 + 20 * k) if k < 4 else first + timedelta(days=span * (k - 3) // 7)
        customer.created_at = min(customer.created_at, _utc(joined, 10))
        made.append((customer, joined))
    return made


def _plan(rng, sellers, first: date, last: date) -> list[dict]:
    """Every order of the history (who, to whom, what, when), in the order it was placed."""
    plans = []
    day = first
    while day <= last:
        t = (day - first).days / 365
        season = {sku: share * _season(day, peak, amp) for sku, share, _q, peak, amp, _s in PRODUCTS}
        for seller in sellers:
            mean = seller["rate"] * WEEKDAY[day.weekday()] * (1 + GROWTH * t) * sum(season.values())
            for _n in range(_poisson(rng, mean)):
                # A customer orders from the second day after joining (an order is placed up to a day ahead).
                joined = [c for c, since in seller["customers"] if since + timedelta(days=2) <= day]
                skus = list(season)
                chosen = [rng.choices(skus, weights=[season[s] for s in skus])[0]]
                if rng.random() < SECOND_LINE:
                    rest = [s for s in skus if s not in chosen]
                    chosen.append(rng.choices(rest, weights=[season[s] for s in rest])[0])
                lines = [(sku, rng.randint(*next(q for s, _w, q, *_r in PRODUCTS if s == sku))) for sku in chosen]
                delivered = _utc(day, rng.uniform(9, 20))
                # The agent that rates worst is also the slowest to deliver.
                lead = rng.uniform(2, 20) * (1.5 if seller["bias"] < 0 else 1)
                plans.append({"seller": seller, "customer": rng.choice(joined), "lines": lines,
                              "created": delivered - timedelta(hours=lead), "delivered": delivered,
                              "seed": rng.getrandbits(32)})
        day += timedelta(days=1)
    plans.sort(key=lambda p: p["created"])
    return plans


def _prices_in_force(products: dict, since: datetime) -> None:
    """Date the demo catalog's opening prices (made minutes ago) back before the history, as the campaign
    demo does for its barrels: the dated-back orders then find the prices they were sold at in force."""
    from dms.catalog.models import Price
    from dms.extensions import db

    for product in products.values():
        rows = list(db.session.scalars(select(Price).where(Price.product_id == product.id)))
        for row in rows:
            alone = sum(1 for r in rows if (r.kind, r.level) == (row.kind, row.level)) == 1
            if alone and row.effective_from > since:
                row.effective_from = since
    db.session.flush()


def _receive_lots(plans, products, today: date) -> int:
    """Monthly lots into each agent's warehouse, received the day before the month's first order is placed:
    what the month sells and about a week more, less what is left. Batch codes name product, month and agent."""
    from dms.core.periods import business_date
    from dms.extensions import db
    from dms.inventory import services as inventory

    needs: dict = {}
    for plan in plans:
        month = business_date(plan["created"]).replace(day=1)
        for sku, quantity in plan["lines"]:
            key = (plan["seller"]["key"], month, sku)
            needs[key] = needs.get(key, 0) + quantity
    shelf = {sku: days for sku, _w, _q, _p, _a, days in PRODUCTS}
    first_order = {}
    for plan in plans:
        month = business_date(plan["created"]).replace(day=1)
        first_order.setdefault((plan["seller"]["key"], month), (plan["seller"], business_date(plan["created"])))
    moved, carried = 0, {}
    for k, ((key, month), (seller, first_day)) in enumerate(sorted(first_order.items(), key=lambda i: i[1][1])):
        received = first_day - timedelta(days=1)
        lines = []
        for sku, product in products.items():
            need = needs.get((key, month, sku), 0)
            # Enough for the month and about a week more, counting what is left from the month before.
            quantity = need + math.ceil(need * SAFETY) - carried.get((key, sku), 0)
            carried[(key, sku)] = carried.get((key, sku), 0) + max(quantity, 0) - need
            if quantity <= 0:
                continue
            line = {"product": product, "quantity": quantity}
            if product.tracking == "batch":
                # Far enough ahead that no lot is expired today; later lots expire later (FEFO takes the old first).
                line["batch_code"] = f"{sku.replace('-', '')}-{month:%y%m}-{key}"
                line["expiry_date"] = max(received + timedelta(days=shelf[sku]), today + timedelta(days=45 + k))
            lines.append(line)
        if not lines:
            continue
        at = _utc(received, 9)
        for movement in inventory.receive(None, seller["warehouse"], lines, reason=_("Demo history: monthly lot"),
                                          source_type=STOCK_RECEIPTS):
            movement.at = at
            if movement.batch.created_at > at:
                movement.batch.created_at = at
            moved += 1
    db.session.flush()
    return moved


def _write(plan, products, prices) -> tuple:
    """One completed order, its stock reserved when placed and issued when shipped, its timeline, payment and
    maybe a rating; returns the stock movements' (order id, kind, when) to date back."""
    from dms.extensions import db
    from dms.inventory import services as inventory
    from dms.orders.models import Order, OrderEvent, OrderLine, OrderPayment, OrderRating
    from dms.orders.services import STOCK_SOURCE

    seller, customer, created, delivered = plan["seller"], plan["customer"], plan["created"], plan["delivered"]
    rng = random.Random(plan["seed"])
    paid = created + timedelta(minutes=rng.uniform(2, 40))
    assigned = paid + timedelta(minutes=rng.uniform(10, 90))
    assigned = min(assigned, delivered - timedelta(minutes=50))
    paid = min(paid, assigned - timedelta(minutes=1))
    shipped = delivered - timedelta(minutes=rng.uniform(20, 45))
    completed = delivered + timedelta(hours=rng.uniform(2, 30))
    completed = min(completed, _utc(window()[1], 23.9))
    order = Order(status="completed", distributor_id=seller["distributor"].id, warehouse_id=seller["warehouse"].id,
                  customer_id=customer.id, ship_name=customer.name, ship_phone=customer.phone,
                  ship_region_code=customer.region_code, ship_street=customer.street,
                  ship_address=customer.address, source="api" if rng.random() < 0.5 else "web", note=HISTORY_NOTE,
                  created_at=created, updated_at=completed, paid_at=paid, assigned_at=assigned, shipped_at=shipped,
                  delivered_at=delivered, completed_at=completed)
    for sku, quantity in plan["lines"]:
        order.lines.append(OrderLine(product_id=products[sku].id, product=products[sku], quantity=quantity,
                                     unit_price=prices[sku], amount=prices[sku] * quantity))
    order.subtotal = order.total = sum((line.amount for line in order.lines), Decimal("0.00"))
    db.session.add(order)
    db.session.flush()
    warehouse = seller["warehouse"]
    lines = sorted(order.lines, key=lambda line: line.product_id)
    for line in lines:
        inventory.reserve(None, warehouse, line.product, line.quantity, STOCK_SOURCE, order.id)
    for line in lines:
        inventory.issue(None, warehouse, line.product, line.quantity, STOCK_SOURCE, order.id, reason=order.reference)
    steps = [("placed", None, "pending", created), ("transition", "pending", "paid", paid),
             ("transition", "paid", "assigned", assigned), ("transition", "assigned", "shipped", shipped),
             ("transition", "shipped", "delivered", delivered), ("transition", "delivered", "completed", completed)]
    db.session.add_all([OrderEvent(order_id=order.id, at=at, kind=kind, from_status=before, to_status=to,
                                   actor_label="system") for kind, before, to, at in steps])
    db.session.add(OrderPayment(order_id=order.id, kind="payment", method=rng.choice(("wechat", "wechat", "alipay")),
                                reference=f"WX{order.id:010d}", amount=order.total, at=paid))
    if rng.random() < RATED:
        weights = list(SCORE_WEIGHTS)
        bias = seller["bias"]  # below 0: more low scores; above: more fives
        weights = [w * (1 - bias) if s <= 3 else w * (1 + bias) for s, w in zip(SCORES, weights, strict=True)]
        score = rng.choices(SCORES, weights=weights)[0]
        at = min(delivered + timedelta(hours=rng.uniform(1, 20)), completed)
        comment = rng.choice(COMMENTS[score]) if rng.random() < 0.6 else ""
        db.session.add(OrderRating(order_id=order.id, score=score, comment=comment, source=order.source, at=at,
                                   actor_label="system"))
        db.session.add(OrderEvent(order_id=order.id, at=at, kind="rated", actor_label="system",
                                  note=_("Rated %(score)d/5.", score=score) + (f" {comment}" if comment else "")))
    return [(str(order.id), "reserve", created), (str(order.id), "issue", shipped)]


def _date_movements(rows: list) -> None:
    """Date each history order's reserve and issue movements back to when it was placed and shipped."""
    from sqlalchemy import update

    from dms.extensions import db
    from dms.inventory.models import StockMovement
    from dms.orders.services import STOCK_SOURCE

    table = StockMovement.__table__
    stmt = (update(table).where(table.c.source_type == STOCK_SOURCE, table.c.source_id == bindparam("order_id"),
                                table.c.kind == bindparam("movement_kind"))
            .values(at=bindparam("moved_at")))
    for start in range(0, len(rows), 500):
        db.session.execute(stmt, [{"order_id": o, "movement_kind": k, "moved_at": at}
                                  for o, k, at in rows[start:start + 500]])


def seed_demo_history() -> list[str]:
    """A year of completed orders with their stock, timeline and ratings for five demo agents (made once)."""
    from dms.catalog import services as catalog
    from dms.catalog.models import Product
    from dms.core.time import business_today
    from dms.distributors.models import Distributor
    from dms.extensions import db

    if _already_made():
        return []
    skus = [sku for sku, *_rest in PRODUCTS]
    products = {p.sku: p for p in db.session.scalars(select(Product).where(Product.sku.in_(skus)))}
    first, last = window()
    _prices_in_force(products, _utc(first, 0) - timedelta(days=60))
    prices = {sku: catalog.current_price(p, at=_utc(first, 0)) for sku, p in products.items()}
    found = {d.region_code: d for d in db.session.scalars(select(Distributor).where(
        Distributor.region_code.in_([s[0] for s in SELLERS])).order_by(Distributor.id.desc()))}
    if len(products) != len(skus) or None in prices.values() or len(found) != len(SELLERS) \
            or any(d.warehouse is None for d in found.values()):
        return [_("Demo history skipped: the demo products, prices or distributors are missing.")]
    rng = random.Random(SEED)
    sellers = []
    for n, (region, key, rate, bias, regions) in enumerate(SELLERS, start=1):
        distributor = found[region]
        sellers.append({"key": key, "distributor": distributor, "warehouse": distributor.warehouse, "rate": rate,
                        "bias": bias, "customers": _customers(distributor, n, regions, first, last)})
    plans = _plan(rng, sellers, first, last)
    _receive_lots(plans, products, business_today())
    moved = []
    for plan in plans:
        moved.extend(_write(plan, products, prices))
    db.session.flush()
    _date_movements(moved)
    db.session.expire_all()
    return [_("Demo history: %(count)d completed orders over %(weeks)d weeks (%(start)s to %(end)s) for %(agents)d "
              "agents.", count=len(plans), weeks=WEEKS, start=first.isoformat(), end=last.isoformat(),
              agents=len(sellers))]


DEMO_SEEDERS.append(seed_demo_history)


def seed_demo_figures() -> list[str]:
    """The derived figures the demo would otherwise wait for: forecasts and the last three months' scorecards.

    Both are upserts, so a second seed-demo recomputes them to the same values.
    """
    from dms.core.periods import current_month, previous_month
    from dms.reports import forecast, scorecard

    series = forecast.refresh_forecasts()
    month, scored = current_month(), 0
    for _n in range(3):
        month = previous_month(month)
        scored += len(scorecard.compute_month(month))
    return [_("Demo figures: %(series)d forecast series, %(scores)d scorecard scores over 3 months.",
              series=series, scores=scored)]


DEMO_SEEDERS.append(seed_demo_figures)
