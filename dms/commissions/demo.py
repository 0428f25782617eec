"""Demo commissions for `flask dms seed-demo`: rules (a published version and a draft), a month of
network sales, that month settled and paid, and an open month with fresh accruals and a clawback.

The network's history orders are written directly in state completed, without a warehouse (history
brought over from before the system, so no stock moves); the orders demo's own orders are accrued too.
Made once: nothing is done when the demo rules exist already.
"""

from datetime import timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import select, update

from dms.core.cli import DEMO_SEEDERS

DEMO_RULES = "演示佣金规则"
# distributor region -> (orders last month, orders this month); the amounts follow from the products.
# 黄丽 (440605) is left out: the orders demo gives her orders of every state with their customers and stock.
SELLERS = {"440606": (3, 1), "440100": (2, 1), "440300": (3, 1), "330302": (3, 1),
           "330381": (2, 1), "330100": (1, 0), "330200": (2, 1), "510603": (3, 1), "510681": (2, 1),
           "510700": (2, 0)}
# Not the barrels (W-189): the demo campaign measures their sales, and these orders are none of its business.
BASKETS = [[("W-550", 12)], [("W-550", 6), ("F-5KG", 4)], [("F-5KG", 8)], [("O-5L", 3), ("W-550", 5)]]


def _rules(start):
    from dms.catalog.models import Category
    from dms.commissions.models import RewardRule, RuleLevel, RuleOverride, RuleVersion
    from dms.extensions import db

    food = db.session.scalar(select(Category).where(Category.name == "粮油副食"))
    version = RuleVersion(number=1, name=DEMO_RULES, status="published", mode="multi", max_levels=3, base="net",
                          hold_days=7, effective_from=start, published_at=start,
                          note="一级（销售经销商）8%，二级 4%，三级 2%；粮油副食每级 3%。")
    version.levels = [RuleLevel(level=1, rate=Decimal("8")), RuleLevel(level=2, rate=Decimal("4")),
                      RuleLevel(level=3, rate=Decimal("2"), min_personal_volume=Decimal("300.00"))]
    if food is not None:
        version.overrides = [RuleOverride(scope="category", category_id=food.id, rate=Decimal("3"))]
    version.rewards = [
        RewardRule(kind="sales_target", period="month", name="月度销售达标奖", amount=Decimal("200.00")),
        RewardRule(kind="team_growth", period="month", name="团队增长奖", amount=Decimal("300.00"),
                   min_new_downlines=2),
    ]
    db.session.add(version)
    db.session.flush()
    from dms.commissions import rules

    draft = rules.create_draft(None, version)
    draft.name = "草稿：一级提高到 9%"
    draft.levels[0].rate = Decimal("9")
    return version


def _history_orders(distributors, products, last_month_start, this_month_start, now) -> list:
    from dms.extensions import db
    from dms.orders.models import Order, OrderLine

    made, n = [], 0
    month_start = last_month_start
    for region, (last, this) in SELLERS.items():
        distributor = distributors.get(region)
        if distributor is None:
            continue
        for k in range(last + this):
            n += 1
            if k < last:
                at = month_start + timedelta(days=2 + (n * 5) % 24, hours=3)
            else:
                at = max(now - timedelta(minutes=20 * (k + 1)), this_month_start + timedelta(minutes=k + 1))
            order = Order(distributor_id=distributor.id, status="completed", source="web",
                          ship_name=distributor.display_name, ship_phone=distributor.phone or "",
                          ship_region_code=distributor.region_code, note="历史订单（演示）",
                          created_at=at - timedelta(days=2), paid_at=at - timedelta(days=2),
                          delivered_at=at - timedelta(hours=6), completed_at=at, updated_at=at)
            for sku, quantity in BASKETS[n % len(BASKETS)]:
                product, price = products[sku]
                order.lines.append(OrderLine(product_id=product.id, quantity=quantity, unit_price=price,
                                             amount=price * quantity))
            order.subtotal = order.total = sum((line.amount for line in order.lines), Decimal("0.00"))
            db.session.add(order)
            made.append(order)
    db.session.flush()
    return made


def seed_demo_commissions() -> list[str]:
    """Rules, a settled and paid month, an open month (made once)."""
    from dms.catalog import services as catalog
    from dms.catalog.models import Product
    from dms.commissions import ledger, settlement
    from dms.commissions.models import RuleVersion, Statement
    from dms.core.periods import current_month, month_bounds_utc, month_name, previous_month
    from dms.core.time import business_today, utcnow
    from dms.distributors.models import Distributor, DistributorTarget, UplineLink
    from dms.extensions import db
    from dms.orders.models import Order

    if db.session.scalar(select(RuleVersion.id).where(RuleVersion.name == DEMO_RULES)) is not None:
        return []
    if db.session.scalar(select(RuleVersion.id).limit(1)) is not None:
        return [_("Demo commissions skipped: commission rules exist already.")]
    skus = {sku for basket in BASKETS for sku, _q in basket}
    products = {}
    for product in db.session.scalars(select(Product).where(Product.sku.in_(skus))):
        price = catalog.current_price(product)
        if price is not None:
            products[product.sku] = (product, price)
    distributors = {d.region_code: d for d in db.session.scalars(select(Distributor).where(
        Distributor.region_code.in_(list(SELLERS) + ["440000", "330000", "510000", "510100"])))}
    if len(products) != len(skus) or not distributors:
        return [_("Demo commissions skipped: the demo products or distributors are missing.")]
    this_month = current_month()
    last_month = previous_month(this_month)
    history_start = month_bounds_utc(previous_month(last_month))[0]
    # The demo network was just created; let its tree reach back over the history it sells in.
    db.session.execute(update(UplineLink).where(UplineLink.effective_to.is_(None),
                                                UplineLink.distributor_id.in_([d.id for d in distributors.values()]))
                       .values(effective_from=history_start))
    version = _rules(history_start)
    for region, amount in (("440606", "1500.00"), ("440100", "99999.00")):
        if region in distributors and db.session.scalar(select(DistributorTarget.id).where(
                DistributorTarget.distributor_id == distributors[region].id, DistributorTarget.period == "month",
                DistributorTarget.period_start == last_month)) is None:
            db.session.add(DistributorTarget(distributor_id=distributors[region].id, period="month",
                                             period_start=last_month, amount=Decimal(amount)))
    now = utcnow()
    made = _history_orders(distributors, products, month_bounds_utc(last_month)[0],
                           month_bounds_utc(this_month)[0], now)
    for order_id in db.session.scalars(select(Order.id).where(Order.completed_at.is_not(None)).order_by(Order.id)):
        ledger.accrue_order(order_id)
    ledger.release_due()
    db.session.commit()
    lines = [_("Demo commissions: rules %(version)s in force and a draft, %(orders)d network orders.",
               version=version, orders=len(made))]
    if db.session.scalar(select(Statement.id).where(Statement.period >= month_name(last_month))) is None:
        result = settlement.run_now(month_name(last_month))
        for n, statement in enumerate(db.session.scalars(select(Statement).where(
                Statement.period == month_name(last_month)).order_by(Statement.id)), start=1):
            settlement.confirm(None, statement)
            settlement.pay(None, statement, business_today(), f"DEMO-{n:04d}")
        lines.append(_("Demo settlement: %(period)s settled and paid (%(count)d statements); %(open)s is open.",
                       period=month_name(last_month), count=result["statements"], open=month_name(this_month)))
    refunded = next((o for o in made if o.completed_at < month_bounds_utc(this_month)[0]), None)
    if refunded is not None:
        refunded.status, refunded.refunded_at = "refunded", now
        refunded.refund_due = refunded.total
        db.session.flush()
        ledger.clawback_order(refunded.id)
    return lines


DEMO_SEEDERS.append(seed_demo_commissions)
