"""Sales by period x region x product x distributor, with drill-down; and what every sales report counts.

The rule, shown on the pages (SALE_RULE): a sale is an order delivered or completed and never refunded,
dated by the business day it was delivered (its completion, when no delivery was recorded); its amount
is the sum of its line amounts (after discounts; they add up to the order's total), its units the lines'
quantities. An order counts at its shipping region, or its distributor's region when it has no address.

Grouping by region shows the regions one level below the region filter (provinces with none, a province's
cities, a city's counties). Drill-down: a row's link filters by that row and groups by the next dimension
not yet filtered (region -> distributor -> product -> month -> region ...); a month row narrows the period.

The parameters shared by the reports (a period given as months or days, ids, choices) are read here too:
a bad one raises ValidationError, which the pages answer with 400 and the message.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, literal, select

from dms.catalog.models import Product
from dms.core import charts
from dms.core.errors import ValidationError
from dms.core.local_dates import local_date, local_day
from dms.core.periods import month_last_day, month_name, utc_start
from dms.core.scope import HQ_SCOPE, scoped
from dms.core.time import business_today
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.orders.models import Order, OrderLine
from dms.reports.registry import ReportDefinition, register
from dms.territories.models import Region

SALE_STATES = ("delivered", "completed")
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MAX_DAYS = 5 * 366
PDF_ROWS = 40  # a printed report shows this many rows of a table; the XLSX has them all
PAGE_ROWS = 200  # a report page shows this many rows of a per-distributor table (HQ: thousands); the XLSX all
SALE_RULE = _l("Sales are orders delivered or completed and not refunded, dated by the day of delivery "
               "(of completion when no delivery was recorded). Amount = the sum of the order lines' amounts "
               "after discounts. An order counts at its shipping region, or at its distributor's region when "
               "it has no address.")


# ---------------------------------------------------------------- shared by the reports

@dataclass
class Sheet:
    """One table of an export: a title (the XLSX sheet's name), the header and the rows (any iterable)."""

    title: str
    header: list
    rows: object


def hq(actor) -> bool:
    """True when the actor sees every distributor (else only its own)."""
    return actor is not None and actor.can(HQ_SCOPE)


def invalid(name: str, message: str):
    """Raise the ValidationError of one bad parameter."""
    raise ValidationError(message, fields={name: [message]})


def _day_or_month(params: dict, name: str, end: bool) -> date | None:
    raw = str(params.get(name) or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 7:
            first = date(int(raw[:4]), int(raw[5:7]), 1)
            if raw[4] != "-":
                raise ValueError
            return month_last_day(first) if end else first
        if len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    invalid(name, _("Enter a month (2026-05) or a day (2026-05-01)."))


def period_params(params: dict, default_start: date, default_end: date | None = None,
                  max_days: int = MAX_DAYS) -> tuple[date, date]:
    """The period [start, end] (days, inclusive) from ?start=&end= (months or days), or the defaults."""
    start = _day_or_month(params, "start", end=False) or default_start
    end = _day_or_month(params, "end", end=True) or default_end or business_today()
    if start.year < 2000 or end.year > 2999:
        invalid("start", _("Choose a period between the years 2000 and 2999."))
    if end < start:
        invalid("end", _("The end of the period is before its start."))
    if (end - start).days + 1 > max_days:
        invalid("end", _("The period is too long: at most %(days)s days.", days=max_days))
    return start, end


def month_params(params: dict, default_start: date, default_end: date) -> tuple[date, date]:
    """Whole months: the first day of the start month and the last day of the end month."""
    start, end = period_params(params, default_start, month_last_day(default_end))
    return start.replace(day=1), month_last_day(end.replace(day=1))


def id_param(params: dict, name: str) -> int | None:
    """A positive id, or None when absent; ValidationError for junk."""
    raw = str(params.get(name) or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or int(raw) < 1:
        invalid(name, _("Choose one from the list."))
    return int(raw)


def choice_param(params: dict, name: str, choices, default: str) -> str:
    """One of `choices` (default when absent); ValidationError for anything else."""
    raw = str(params.get(name) or "").strip()
    if not raw:
        return default
    if raw not in choices:
        invalid(name, _("Choose one from the list."))
    return raw


def months_back(today: date, count: int) -> date:
    """The first day of the month `count - 1` months before today's (count months including this one)."""
    first = today.replace(day=1)
    for _n in range(count - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return first


def period_label(start: date, end: date) -> str:
    """"2026-01-01 – 2026-03-31" for the headings of pages and printed reports."""
    return f"{start.isoformat()} – {end.isoformat()}"


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants [start of `start`, start of the day after `end`)."""
    return utc_start(start), utc_start(end + timedelta(days=1))


def sale_moment():
    """The moment a sale is dated by: delivery, else completion."""
    return func.coalesce(Order.delivered_at, Order.completed_at)


def sale_region():
    """The region a sale counts in: the shipping region, else the distributor's."""
    return func.coalesce(Order.ship_region_code, Distributor.region_code)


def sales_lines(actor, start: date, end: date, *, distributor_id: int | None = None,
                product_id: int | None = None, region_prefix: str | None = None, columns=None, lines: bool = True):
    """A select of the sale lines in the period (scoped): by default (order id, moment, distributor id,
    region code, product id, quantity, amount). lines=False: of the sale orders (no product filter then)."""
    low, high = utc_bounds(start, end)
    moment, region = sale_moment(), sale_region()
    columns = columns or (Order.id, moment, Order.distributor_id, region, OrderLine.product_id,
                          OrderLine.quantity, OrderLine.amount)
    stmt = select(*columns).select_from(Order)
    if lines:
        stmt = stmt.join(OrderLine, OrderLine.order_id == Order.id)
    stmt = (stmt.outerjoin(Distributor, Distributor.id == Order.distributor_id)
            .where(Order.status.in_(SALE_STATES), Order.refunded_at.is_(None), moment >= low, moment < high))
    if distributor_id is not None:
        stmt = stmt.where(Order.distributor_id == distributor_id)
    if product_id is not None:
        stmt = stmt.where(OrderLine.product_id == product_id)
    if region_prefix:
        stmt = stmt.where(region.like(region_prefix + "%"))
    return scoped(stmt, Order.distributor_id, actor)


def share(part: Decimal, whole: Decimal) -> Decimal | None:
    """part / whole as a percentage with two places, None when the whole is 0."""
    return (part / whole * 100).quantize(CENT, ROUND_HALF_UP) if whole else None


def names(model, ids, label) -> dict:
    """{id: label(row)} for the rows of `model` with those ids."""
    ids = [i for i in set(ids) if i is not None]
    if not ids:
        return {}
    return {row.id: label(row) for row in db.session.scalars(select(model).where(model.id.in_(ids)))}


def distributor_label(distributor: Distributor | None) -> str:
    return distributor.display_name if distributor else _("HQ (unassigned)")


# ---------------------------------------------------------------- the sales report

DIMENSIONS = ("region", "distributor", "product", "month")
DIMENSION_LABELS = {"region": _l("Region"), "distributor": _l("Distributor"), "product": _l("Product"),
                    "month": _l("Month")}
REGION_PREFIX = {"province": 2, "city": 4, "county": 6}
CHILD_LEVEL = {None: "province", "province": "city", "city": "county", "county": "county"}


@dataclass
class Group:
    """One row of the grouped table."""

    key: object
    label: str
    order_count: int = 0
    units: int = 0
    amount: Decimal = ZERO
    share: Decimal | None = None
    drill: dict | None = None


def _group_key(group: str, region_level: str):
    """The SQL expression a dimension groups by (a region: the code of its ancestor at `region_level`)."""
    if group == "region":
        digits = REGION_PREFIX[region_level]
        if digits == 6:
            return sale_region()
        return func.substr(sale_region(), 1, digits).concat(literal("0" * (6 - digits)))
    if group == "distributor":
        return Order.distributor_id
    if group == "product":
        return OrderLine.product_id
    return local_date(sale_moment())


def _next_dimension(group: str, filtered: set, dimensions: tuple) -> str | None:
    order = list(dimensions)
    start = order.index(group)
    for step in range(1, len(order) + 1):
        candidate = order[(start + step) % len(order)]
        if candidate not in filtered and candidate != group:
            return candidate
    return None


def dimensions_for(actor) -> tuple:
    """The grouping dimensions the actor may use (a distributor has only itself: no distributor dimension)."""
    return DIMENSIONS if hq(actor) else tuple(d for d in DIMENSIONS if d != "distributor")


def _filters(actor, params: dict) -> dict:
    """The validated drill filters: region (Region), distributor id, product (Product)."""
    found = {}
    code = str(params.get("region") or "").strip()
    if code:
        region = db.session.get(Region, code) if code.isascii() and code.isdigit() and len(code) == 6 else None
        if region is None:
            invalid("region", _("Unknown region."))
        found["region"] = region
    distributor_id = id_param(params, "distributor")
    if distributor_id is not None:
        if not hq(actor) and distributor_id != actor.distributor_id:
            invalid("distributor", _("Choose one from the list."))
        found["distributor"] = db.session.get(Distributor, distributor_id)
        if found["distributor"] is None:
            invalid("distributor", _("Choose one from the list."))
    product_id = id_param(params, "product")
    if product_id is not None:
        found["product"] = db.session.get(Product, product_id)
        if found["product"] is None:
            invalid("product", _("Choose one from the list."))
    return found


def build(actor, params: dict) -> dict:
    """Completed sales of the period grouped by one dimension, drill-down links, a totals row and a chart."""
    today = business_today()
    start, end = period_params(params, months_back(today, 12))
    dimensions = dimensions_for(actor)
    group = choice_param(params, "group", dimensions, "region")
    filters = _filters(actor, params)
    region = filters.get("region")
    region_level = CHILD_LEVEL[region.level if region else None]
    filtered = {"distributor_id": filters["distributor"].id if "distributor" in filters else None,
                "product_id": filters["product"].id if "product" in filters else None,
                "region_prefix": region.code[:REGION_PREFIX[region.level]] if region else None}
    # Grouped in the database: one row per group (per day for months, folded below), never one per line.
    key = _group_key(group, region_level)
    stmt = sales_lines(actor, start, end, **filtered, columns=(
        key, func.count(func.distinct(Order.id)), func.sum(OrderLine.quantity), func.sum(OrderLine.amount)))
    # An order with several products is in several product groups, so their total counts orders once: on
    # PostgreSQL a ROLLUP row of the same scan (product ids are never NULL), elsewhere a count of the orders.
    by_product = group == "product" and filtered["product_id"] is None
    rollup = by_product and db.session.get_bind().dialect.name == "postgresql"
    groups: dict = {}
    total_orders = None
    for value, orders, units, amount in db.session.execute(stmt.group_by(func.rollup(key) if rollup else key)):
        if rollup and value is None:
            total_orders = orders
            continue
        if group == "month":
            value = month_name(value.replace(day=1))
        row = groups.setdefault(value, Group(value, ""))
        row.order_count += orders
        row.units += int(units or 0)
        row.amount += amount or ZERO
    total_units = sum(g.units for g in groups.values())
    total_amount = sum((g.amount for g in groups.values()), ZERO)
    if by_product and not rollup:
        total_orders = db.session.scalar(sales_lines(actor, start, end, **filtered, lines=False,
                                                     columns=(func.count(Order.id),)))
    elif not by_product:  # a region, distributor or day is the order's own (one product: one group)
        total_orders = sum(g.order_count for g in groups.values())
    _label_groups(group, groups)
    rows = sorted(groups.values(), key=(lambda g: str(g.key)) if group == "month" else (lambda g: (-g.amount, g.label)))
    base = {k: v for k, v in _clean_params(params, start, end).items() if k != "group"}
    next_dim = _next_dimension(group, set(filters) | ({"month"} if group == "month" else set()), dimensions)
    for row in rows:
        row.share = share(row.amount, total_amount)
        if next_dim and row.key is not None:
            row.drill = _drill(base, group, row.key, next_dim, start, end)
    chart = _chart(group, rows)
    return {"kind": "sales", "title": _("Sales"), "period_label": period_label(start, end), "start": start,
            "end": end, "group": group, "group_label": str(DIMENSION_LABELS[group]), "next_dimension": next_dim,
            "next_label": str(DIMENSION_LABELS[next_dim]) if next_dim else "",
            "dimensions": [(d, str(DIMENSION_LABELS[d])) for d in dimensions], "region_level": region_level,
            "filters": _filter_chips(base, filters), "rows": rows,
            "totals": {"orders": total_orders or 0, "units": total_units, "amount": total_amount},
            "chart": chart, "rule": str(SALE_RULE), "params": {**base, "group": group}}


def _clean_params(params: dict, start: date, end: date) -> dict:
    """The page's parameters as they are applied (period written out), for links and the PDF."""
    kept = {k: str(params[k]).strip() for k in ("region", "distributor", "product", "group") if params.get(k)}
    return {"start": start.isoformat(), "end": end.isoformat(), **kept}


def _drill(base: dict, group: str, key, next_dim: str, start: date, end: date) -> dict:
    params = dict(base, group=next_dim)
    if group == "month":
        first = date(int(key[:4]), int(key[5:]), 1)
        params["start"] = max(first, start).isoformat()
        params["end"] = min(month_last_day(first), end).isoformat()
    else:
        params[group] = str(key)
    return params


def _filter_chips(base: dict, filters: dict) -> list[dict]:
    """The applied drill filters with a link (params) that removes each one."""
    chips = []
    labels = {"region": lambda r: r.name, "distributor": distributor_label, "product": lambda p: f"{p.name} ({p.sku})"}
    for name, value in filters.items():
        chips.append({"name": name, "label": str(DIMENSION_LABELS[name]), "value": labels[name](value),
                      "remove": {k: v for k, v in base.items() if k != name}})
    return chips


def _label_groups(group: str, groups: dict) -> None:
    if group == "region":
        found = {r.code: r.name for r in db.session.scalars(select(Region).where(
            Region.code.in_([k for k in groups if k])))} if groups else {}
        for key, row in groups.items():
            row.label = found.get(key, key) if key else _("(no region)")
    elif group == "distributor":
        found = names(Distributor, groups, distributor_label)
        for key, row in groups.items():
            row.label = found.get(key, str(key)) if key else _("HQ (unassigned)")
    elif group == "product":
        found = names(Product, groups, lambda p: f"{p.name} ({p.sku})")
        for key, row in groups.items():
            row.label = found.get(key, str(key))
    else:
        for key, row in groups.items():
            row.label = key


def _chart(group: str, rows: list[Group]):
    if group == "month":
        return charts.bar_chart([r.label for r in rows], [r.amount for r in rows], title=_("Sales by month"),
                                empty_message=_("No sales in this period."))
    top = rows[:15]
    return charts.bar_chart([r.label for r in top], [r.amount for r in top], horizontal=True,
                            title=_("Sales by %(dimension)s (largest %(count)s)",
                                    dimension=str(DIMENSION_LABELS[group]).lower(), count=len(top)),
                            empty_message=_("No sales in this period."))


def sheets(actor, params: dict, figures: dict) -> list[Sheet]:
    """The grouped table, and every sale line of the same filters (the full row data)."""
    summary = Sheet(_("Sales"), [figures["group_label"], _("Orders"), _("Units"), _("Amount"), _("Share %")],
                    [[r.label, r.order_count, r.units, r.amount, r.share] for r in figures["rows"]]
                    + [[_("Total"), figures["totals"]["orders"], figures["totals"]["units"],
                        figures["totals"]["amount"], None]])
    return [summary, Sheet(_("Lines"), [_("Order"), _("Day"), _("Distributor"), _("Region code"), _("Region"),
                                        _("SKU"), _("Product"), _("Quantity"), _("Amount")],
                           _detail_rows(actor, figures))]


def _detail_rows(actor, figures: dict) -> Iterator[list]:
    params = figures["params"]
    region = db.session.get(Region, params["region"]) if params.get("region") else None
    region_code = sale_region()
    stmt = sales_lines(actor, figures["start"], figures["end"],
                       distributor_id=int(params["distributor"]) if params.get("distributor") else None,
                       product_id=int(params["product"]) if params.get("product") else None,
                       region_prefix=region.code[:REGION_PREFIX[region.level]] if region else None,
                       columns=(Order.id, sale_moment(), Distributor.name, Distributor.company_name, Distributor.kind,
                                region_code, Region.name, Product.sku, Product.name, OrderLine.quantity,
                                OrderLine.amount))
    stmt = (stmt.join(Product, Product.id == OrderLine.product_id).outerjoin(Region, Region.code == region_code)
            .order_by(sale_moment(), Order.id, OrderLine.id))
    for (order_id, moment, name, company, kind, code, region_name, sku, product, quantity,
         amount) in db.session.execute(stmt.execution_options(yield_per=2000)):
        distributor = (company or name) if kind == "company" else name
        yield [f"DD{order_id:06d}", local_day(moment), distributor or _("HQ (unassigned)"), code or "",
               region_name or "", sku, product, quantity, amount]


register(ReportDefinition(kind="sales", title=_l("Sales"), endpoint="reports.sales",
                          build="dms.reports.sales.build", pdf_template="reports/pdf/sales.html"))
