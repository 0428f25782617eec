"""The sales trend: completed sales (the rule of dms/reports/sales.py) by day, ISO week or month.

Every bucket of the range is shown, empty ones as zero, so the line is honest about quiet days. A week
is the ISO week (Monday to Sunday), named by its Monday; a range is cut to whole buckets only at its
ends (the first and last bucket may be partial, and say so by their dates).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func

from dms.catalog.models import Product
from dms.core import charts
from dms.core.local_dates import local_date
from dms.core.periods import next_month
from dms.core.time import business_today
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.orders.models import Order, OrderLine
from dms.reports import sales
from dms.reports.registry import ReportDefinition, register
from dms.reports.sales import CENT, ZERO, Sheet

GRANULARITIES = ("day", "week", "month")
GRANULARITY_LABELS = {"day": _l("Day"), "week": _l("Week"), "month": _l("Month")}
MAX_BUCKETS = {"day": 400, "week": 265, "month": 121}


@dataclass
class Bucket:
    """One point of the trend."""

    start: date
    end: date
    label: str
    orders: int = 0
    units: int = 0
    amount: Decimal = ZERO

    @property
    def average(self) -> Decimal | None:
        return (self.amount / self.orders).quantize(CENT, ROUND_HALF_UP) if self.orders else None


def bucket_start(day: date, granularity: str) -> date:
    """The first day of the bucket a day falls in."""
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next(first: date, granularity: str) -> date:
    if granularity == "day":
        return first + timedelta(days=1)
    if granularity == "week":
        return first + timedelta(days=7)
    return next_month(first)


def _label(first: date, granularity: str) -> str:
    if granularity == "week":
        year, week, _day = first.isocalendar()
        return f"{year}-W{week:02d}"
    if granularity == "month":
        return f"{first.year:04d}-{first.month:02d}"
    return first.isoformat()


def buckets(start: date, end: date, granularity: str) -> list[Bucket]:
    """The empty buckets covering [start, end], each cut to the range."""
    found, first = [], bucket_start(start, granularity)
    while first <= end:
        following = _next(first, granularity)
        found.append(Bucket(max(first, start), min(following - timedelta(days=1), end), _label(first, granularity)))
        first = following
    return found


def _defaults(granularity: str, today: date) -> date:
    if granularity == "day":
        return today - timedelta(days=29)
    if granularity == "week":
        return bucket_start(today, "week") - timedelta(weeks=11)
    return sales.months_back(today, 12)


def build(actor, params: dict) -> dict:
    """Orders, units and amount per bucket of the range (optionally one product or distributor), two charts."""
    today = business_today()
    granularity = sales.choice_param(params, "granularity", GRANULARITIES, "month")
    start, end = sales.period_params(params, _defaults(granularity, today))
    product_id = sales.id_param(params, "product")
    distributor_id = sales.id_param(params, "distributor")
    product = db.session.get(Product, product_id) if product_id else None
    if product_id and product is None:
        sales.invalid("product", _("Choose one from the list."))
    distributor = None
    if distributor_id:
        distributor = db.session.get(Distributor, distributor_id)
        if distributor is None or (not sales.hq(actor) and distributor_id != actor.distributor_id):
            sales.invalid("distributor", _("Choose one from the list."))
    points = buckets(start, end, granularity)
    if len(points) > MAX_BUCKETS[granularity]:
        sales.invalid("granularity", _("Too many points for this range: choose a coarser step or a shorter range."))
    by_start = {bucket_start(b.start, granularity): b for b in points}
    # Grouped by business day in the database (an order has one day), folded into the buckets here.
    day = local_date(sales.sale_moment())
    stmt = sales.sales_lines(actor, start, end, distributor_id=distributor_id, product_id=product_id, columns=(
        day, func.count(func.distinct(Order.id)), func.sum(OrderLine.quantity), func.sum(OrderLine.amount)))
    for when, count, quantity, amount in db.session.execute(stmt.group_by(day)):
        bucket = by_start[bucket_start(when, granularity)]
        bucket.orders += count
        bucket.units += int(quantity or 0)
        bucket.amount += amount or ZERO
    order_count = sum(b.orders for b in points)
    totals = {"orders": order_count, "units": sum(b.units for b in points),
              "amount": sum((b.amount for b in points), ZERO)}
    totals["average"] = ((totals["amount"] / totals["orders"]).quantize(CENT, ROUND_HALF_UP)
                         if totals["orders"] else None)
    labels = [b.label for b in points]
    step = str(GRANULARITY_LABELS[granularity]).lower()
    amount_chart = charts.line_chart(labels, [charts.Series(_("Amount"), [b.amount for b in points])],
                                     title=_("Sales amount by %(step)s", step=step),
                                     empty_message=_("No sales in this period."), chart_id="trend-amount")
    orders_chart = charts.line_chart(labels, [charts.Series(_("Orders"), [b.orders for b in points])],
                                     title=_("Orders by %(step)s", step=step),
                                     empty_message=_("No sales in this period."), chart_id="trend-orders")
    clean = {"start": start.isoformat(), "end": end.isoformat(), "granularity": granularity}
    if product_id:
        clean["product"] = str(product_id)
    if distributor_id:
        clean["distributor"] = str(distributor_id)
    return {"kind": "trend", "title": _("Sales trend"), "period_label": sales.period_label(start, end),
            "start": start, "end": end, "granularity": granularity,
            "granularities": [(g, str(GRANULARITY_LABELS[g])) for g in GRANULARITIES],
            "product": product, "distributor": distributor, "rows": points, "totals": totals,
            "chart": amount_chart, "orders_chart": orders_chart, "has_sales": bool(order_count),
            "rule": str(sales.SALE_RULE), "params": clean}


def sheets(actor, params: dict, figures: dict) -> list[Sheet]:
    """Every bucket of the trend with its figures."""
    rows = [[b.label, b.start, b.end, b.orders, b.units, b.amount, b.average] for b in figures["rows"]]
    totals = figures["totals"]
    rows.append([_("Total"), figures["start"], figures["end"], totals["orders"], totals["units"], totals["amount"],
                 totals["average"]])
    return [Sheet(_("Sales trend"), [str(GRANULARITY_LABELS[figures["granularity"]]), _("From"), _("To"),
                                     _("Orders"), _("Units"), _("Amount"), _("Average order")], rows)]


register(ReportDefinition(kind="trend", title=_l("Sales trend"), endpoint="reports.trend",
                          build="dms.reports.trend.build", pdf_template="reports/pdf/trend.html",
                          orientation="landscape"))
