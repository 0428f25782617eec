"""A campaign's measured effect: what it sold, against its baseline and its control regions, and its ROI.

It needs order figures, so it lives in the orders area (campaigns sit below orders). The method, shown
on the page in words:

- In scope: delivered or completed orders (never cancelled or refunded) placed during the period, with
  lines of the campaign's products, shipped to a target region or below it (an order without an address
  counts at its distributor's region). Only those lines count: orders, revenue (line amounts), units.
- New customers attributed: customers whose first order ever (cancelled ones aside) is an in-scope order
  of the period with a line the campaign priced.
- Baseline: the same products and regions in the previous period of equal length.
- Uplift vs baseline = revenue - baseline revenue (and as a percentage of the baseline).
- Control: the same products in the control regions, in the period and in its previous period. Uplift vs
  control (difference in differences) = (target growth rate - control growth rate) x baseline revenue.
- Incremental revenue = the uplift vs control when there is one, else the uplift vs baseline.
- Margin rate of the in-scope sales = sum(amount - distributor price x quantity) / sum(amount), the
  distributor price being the one in force when the order was placed for its distributor's level (lines
  whose price is unknown are left out of the rate). Incremental gross margin = incremental revenue x rate.
- ROI = (incremental margin - cost) / cost; none when the cost is 0.

Amounts are rounded to the fen (ROUND_HALF_UP) only at the end; rates are kept exact until shown.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from dms.campaigns import services as campaigns
from dms.campaigns.models import Campaign
from dms.catalog import services as catalog
from dms.catalog.models import Product
from dms.core.time import business_day_bounds_utc, business_today, business_tz
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.orders.models import Order, OrderLine

IN_SCOPE_STATES = ("delivered", "completed")
CENT = Decimal("0.01")
RATE = Decimal("0.0001")
ZERO = Decimal("0.00")
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 220, 36


@dataclass
class Figures:
    """Sales of the campaign's products in some regions and days: orders, revenue, units, margin, per day."""

    orders: int = 0
    revenue: Decimal = ZERO
    units: int = 0
    costed_revenue: Decimal = ZERO  # revenue of the lines whose distributor price is known
    margin: Decimal = ZERO  # their amount minus distributor price x quantity
    by_day: dict = field(default_factory=dict)
    order_ids: set = field(default_factory=set)


@dataclass
class Chart:
    """The inline SVG chart's geometry: two polylines (period and baseline days) and the axis labels."""

    width: int
    height: int
    pad: int
    current_points: str
    baseline_points: str
    top: Decimal
    first_day: date
    last_day: date


@dataclass
class Effect:
    """Everything the effect page shows."""

    campaign: Campaign
    start: date
    end: date
    baseline_start: date
    baseline_end: date
    days: int
    current: Figures
    baseline: Figures
    control_current: Figures | None
    control_baseline: Figures | None
    new_customers: int
    uplift: Decimal
    uplift_pct: Decimal | None
    target_growth: Decimal | None
    control_growth: Decimal | None
    uplift_vs_control: Decimal | None
    incremental_revenue: Decimal
    incremental_basis: str  # control | baseline
    margin_rate: Decimal | None
    incremental_margin: Decimal | None
    roi: Decimal | None
    series: list  # (day, revenue, baseline day, baseline revenue)
    chart: Chart


def _business_day(moment) -> date:
    return moment.replace(tzinfo=UTC).astimezone(business_tz()).date()


def sales(product_ids, region_codes, start: date, end: date) -> Figures:
    """The in-scope sales of these products shipped to these regions (already expanded) from start to end."""
    figures = Figures()
    if not product_ids or not region_codes:
        return figures
    low, high = business_day_bounds_utc(start)[0], business_day_bounds_utc(end)[1]
    region = func.coalesce(Order.ship_region_code, Distributor.region_code)
    stmt = (select(Order.id, Order.created_at, Distributor.level, OrderLine.product_id, OrderLine.quantity,
                   OrderLine.amount)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .outerjoin(Distributor, Distributor.id == Order.distributor_id)
            .where(Order.status.in_(IN_SCOPE_STATES), OrderLine.product_id.in_(list(product_ids)),
                   region.in_(list(region_codes)), Order.created_at >= low, Order.created_at < high)
            .order_by(Order.id, OrderLine.id))
    products = {}
    for order_id, created_at, level, product_id, quantity, amount in db.session.execute(stmt):
        figures.order_ids.add(order_id)
        figures.revenue += amount
        figures.units += quantity
        day = _business_day(created_at)
        figures.by_day[day] = figures.by_day.get(day, ZERO) + amount
        if level is None:
            continue
        if product_id not in products:
            products[product_id] = db.session.get(Product, product_id)
        cost = catalog.price_for_distributor(products[product_id], level, at=created_at)
        if cost is not None:
            figures.costed_revenue += amount
            figures.margin += amount - cost * quantity
    figures.orders = len(figures.order_ids)
    return figures


def new_customers(campaign: Campaign, order_ids: set) -> int:
    """Customers whose first order ever (cancelled ones aside) is one of `order_ids` with a campaign line."""
    if not order_ids:
        return 0
    priced = select(OrderLine.order_id).where(OrderLine.order_id.in_(order_ids), OrderLine.campaign_id == campaign.id)
    candidates = dict(db.session.execute(
        select(Order.customer_id, func.min(Order.id)).where(Order.id.in_(priced), Order.customer_id.is_not(None))
        .group_by(Order.customer_id)).all())
    if not candidates:
        return 0
    firsts = dict(db.session.execute(
        select(Order.customer_id, func.min(Order.id)).where(Order.customer_id.in_(list(candidates)),
                                                            Order.status != "cancelled")
        .group_by(Order.customer_id)).all())
    return sum(1 for customer_id, order_id in candidates.items() if firsts.get(customer_id) == order_id)


def _growth(now: Decimal, before: Decimal) -> Decimal | None:
    return (now - before) / before if before else None


def _points(values: list[Decimal], top: Decimal) -> str:
    inner_w, inner_h = CHART_WIDTH - 2 * CHART_PAD, CHART_HEIGHT - 2 * CHART_PAD
    step = Decimal(inner_w) / (len(values) - 1) if len(values) > 1 else Decimal(0)
    points = []
    for n, value in enumerate(values):
        x = Decimal(CHART_PAD) + step * n
        y = Decimal(CHART_HEIGHT - CHART_PAD) - (value / top * inner_h if top else 0)
        points.append(f"{x.quantize(Decimal('0.1'))},{Decimal(y).quantize(Decimal('0.1'))}")
    return " ".join(points)


def evaluate(campaign: Campaign, today: date | None = None) -> Effect:
    """The campaign's effect by the method above (a running campaign: its days so far)."""
    start, end = campaigns.actual_period(campaign)
    end = max(start, min(end, today or business_today()))
    days = (end - start).days + 1
    baseline_start, baseline_end = start - timedelta(days=days), start - timedelta(days=1)
    product_ids = [p.id for p in campaign.products]
    targets = campaigns.covered_codes(campaign, "target")
    controls = campaigns.covered_codes(campaign, "control")
    current = sales(product_ids, targets, start, end)
    baseline = sales(product_ids, targets, baseline_start, baseline_end)
    control_current = control_baseline = None
    if controls:
        control_current = sales(product_ids, controls, start, end)
        control_baseline = sales(product_ids, controls, baseline_start, baseline_end)
    uplift = current.revenue - baseline.revenue
    target_growth = _growth(current.revenue, baseline.revenue)
    control_growth = _growth(control_current.revenue, control_baseline.revenue) if controls else None
    uplift_vs_control = None
    if target_growth is not None and control_growth is not None:
        uplift_vs_control = ((target_growth - control_growth) * baseline.revenue).quantize(CENT, ROUND_HALF_UP)
    incremental = uplift_vs_control if uplift_vs_control is not None else uplift
    margin_rate = current.margin / current.costed_revenue if current.costed_revenue else None
    incremental_margin = (incremental * margin_rate).quantize(CENT, ROUND_HALF_UP) if margin_rate is not None else None
    roi = None
    if incremental_margin is not None and campaign.cost:
        roi = ((incremental_margin - campaign.cost) / campaign.cost).quantize(RATE, ROUND_HALF_UP)
    series = []
    for n in range(days):
        day, before = start + timedelta(days=n), baseline_start + timedelta(days=n)
        series.append((day, current.by_day.get(day, ZERO), before, baseline.by_day.get(before, ZERO)))
    top = max([v for _d, v, _b, _bv in series] + [bv for _d, _v, _b, bv in series] + [ZERO])
    chart = Chart(CHART_WIDTH, CHART_HEIGHT, CHART_PAD, _points([s[1] for s in series], top),
                  _points([s[3] for s in series], top), top, start, end)
    return Effect(campaign=campaign, start=start, end=end, baseline_start=baseline_start, baseline_end=baseline_end,
                  days=days, current=current, baseline=baseline, control_current=control_current,
                  control_baseline=control_baseline, new_customers=new_customers(campaign, current.order_ids),
                  uplift=uplift, uplift_pct=(uplift / baseline.revenue * 100).quantize(CENT, ROUND_HALF_UP)
                  if baseline.revenue else None, target_growth=target_growth, control_growth=control_growth,
                  uplift_vs_control=uplift_vs_control, incremental_revenue=incremental,
                  incremental_basis="control" if uplift_vs_control is not None else "baseline",
                  margin_rate=margin_rate, incremental_margin=incremental_margin, roi=roi, series=series, chart=chart)
