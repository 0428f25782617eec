"""Inventory turnover (库存周转率) per product and warehouse over a period, from the stock movement ledger.

The rule, shown on the page (RULE):
- Units issued = the units the period's "issue" movements took out, less the units "return" movements put
  back (refunds restocked). Transfers, counts and write-offs are not sales and do not count.
- Unit cost = the distributor price of the product for the warehouse owner's level (HQ's warehouse: the
  province price), the price in force at the end of the period. A product without that price has no cost:
  its row shows units only and is left out of the totals.
- Cost of goods issued (COGS) = units issued x unit cost.
- Opening / closing on hand = the ledger's on-hand sum before the first day / at the end of the last day;
  their values = units x unit cost. Average inventory = (opening value + closing value) / 2.
- Turnover = COGS / average inventory; days of inventory = days in the period / turnover (none when
  nothing was issued or the average inventory is 0). Shown rounded to 2 and 1 places (ROUND_HALF_UP).
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, select

from dms.catalog.models import Price, Product
from dms.core import charts
from dms.core.scope import scoped
from dms.core.time import business_today
from dms.distributors.models import Distributor, Warehouse
from dms.extensions import db
from dms.inventory.models import StockMovement
from dms.reports import sales
from dms.reports.registry import ReportDefinition, register
from dms.reports.sales import CENT, ZERO, Sheet

HALF = Decimal("0.5")
TURN_PLACES, DAY_PLACES = Decimal("0.01"), Decimal("0.1")
HQ_LEVEL = "province"
PAGE_ROWS = 500  # the page shows the lines with the most units issued; the XLSX export has every line
RULE = [
    _l("Units issued = units taken out by issue movements (deliveries) in the period, less units put back by "
       "return movements. Transfers, counts and write-offs do not count."),
    _l("Unit cost = the product's distributor price for the level of the warehouse's owner (HQ's warehouse: "
       "the province price), as in force at the end of the period. Products without that price have no cost "
       "and are left out of the totals."),
    _l("Cost of goods issued = units issued × unit cost."),
    _l("Average inventory = (opening on-hand value + closing on-hand value) ÷ 2, on hand taken from the stock "
       "ledger before the first day and after the last day."),
    _l("Turnover = cost of goods issued ÷ average inventory; days of inventory = days in the period ÷ turnover."),
]


@dataclass
class Line:
    """One product in one warehouse (or a subtotal, with product None)."""

    warehouse: Warehouse | None
    product: Product | None
    opening: int = 0
    closing: int = 0
    issued: int = 0
    unit_cost: Decimal | None = None
    cogs: Decimal | None = None
    opening_value: Decimal | None = None
    closing_value: Decimal | None = None
    average: Decimal | None = None
    turnover: Decimal | None = None
    days: Decimal | None = None

    @property
    def warehouse_name(self) -> str:
        return self.warehouse.name if self.warehouse else _("All warehouses")


def ratios(cogs: Decimal | None, average: Decimal | None, days_in_period: int) -> tuple:
    """(turnover, days of inventory), rounded; None where they do not exist.

    Days = days in period / (COGS / average) is computed as days x average / COGS, so no rounded ratio
    is divided again.
    """
    if cogs is None or average is None or not average or not cogs:
        return None, None
    turnover = (cogs / average).quantize(TURN_PLACES, ROUND_HALF_UP)
    return turnover, (days_in_period * average / cogs).quantize(DAY_PLACES, ROUND_HALF_UP)


def unit_costs(product_ids, levels, at) -> dict[tuple[int, str], Decimal]:
    """{(product id, level): the distributor price in force at `at`} in one query, the rule of
    dms.catalog.services.price_for_distributor (the latest row effective by then) for many products at once."""
    product_ids, levels = list(set(product_ids)), list(set(levels))
    if not product_ids or not levels:
        return {}
    latest = func.row_number().over(partition_by=(Price.product_id, Price.level),
                                    order_by=(Price.effective_from.desc(), Price.id.desc())).label("latest")
    ranked = (select(Price.product_id, Price.level, Price.amount, latest)
              .where(Price.product_id.in_(product_ids), Price.kind == "distributor", Price.level.in_(levels),
                     Price.effective_from <= at).subquery())
    rows = db.session.execute(select(ranked.c.product_id, ranked.c.level, ranked.c.amount).where(ranked.c.latest == 1))
    return {(product_id, level): amount for product_id, level, amount in rows}


def build(actor, params: dict) -> dict:
    """Per product and warehouse: units, unit cost, COGS, average inventory, turnover, days; subtotals per warehouse."""
    today = business_today()
    start, end = sales.period_params(params, today.replace(day=1))
    warehouse_id = sales.id_param(params, "warehouse")
    product_id = sales.id_param(params, "product")
    low, high = sales.utc_bounds(start, end)
    days_in_period = (end - start).days + 1
    warehouses = list(db.session.scalars(scoped(select(Warehouse), Warehouse.distributor_id, actor)
                                         .order_by(Warehouse.distributor_id.is_not(None), Warehouse.name,
                                                   Warehouse.id)))
    if warehouse_id is not None and warehouse_id not in {w.id for w in warehouses}:
        sales.invalid("warehouse", _("Choose one from the list."))
    if product_id is not None and db.session.get(Product, product_id) is None:
        sales.invalid("product", _("Choose one from the list."))
    chosen = [w for w in warehouses if warehouse_id is None or w.id == warehouse_id]
    delta = StockMovement.on_hand_delta
    before = StockMovement.at < low
    issued = and_(StockMovement.at >= low, StockMovement.kind.in_(("issue", "return")))
    stmt = (select(StockMovement.warehouse_id, StockMovement.product_id,
                   func.coalesce(func.sum(case((before, delta), else_=0)), 0),
                   func.coalesce(func.sum(delta), 0),
                   func.coalesce(func.sum(case((issued, -delta), else_=0)), 0))
            .where(StockMovement.at < high, StockMovement.warehouse_id.in_([w.id for w in chosen] or [-1]))
            .group_by(StockMovement.warehouse_id, StockMovement.product_id))
    if product_id is not None:
        stmt = stmt.where(StockMovement.product_id == product_id)
    figures = [row for row in db.session.execute(stmt) if any(row[2:])]
    products = sales.names(Product, [r[1] for r in figures], lambda p: p)
    levels = sales.names(Distributor, [w.distributor_id for w in chosen], lambda d: d.level)
    by_warehouse = {w.id: w for w in chosen}

    def level_of(warehouse: Warehouse) -> str:
        return levels.get(warehouse.distributor_id, HQ_LEVEL) if warehouse.distributor_id else HQ_LEVEL

    costs = unit_costs(products, {level_of(w) for w in chosen}, high)
    lines: list[Line] = []
    for wh_id, prod_id, opening, closing, units in figures:
        warehouse, product = by_warehouse[wh_id], products[prod_id]
        line = Line(warehouse, product, int(opening), int(closing), int(units),
                    costs.get((prod_id, level_of(warehouse))))
        if line.unit_cost is not None:
            line.cogs = line.unit_cost * line.issued
            line.opening_value = line.unit_cost * line.opening
            line.closing_value = line.unit_cost * line.closing
            line.average = ((line.opening_value + line.closing_value) * HALF).quantize(CENT, ROUND_HALF_UP)
            line.turnover, line.days = ratios(line.cogs, line.average, days_in_period)
        lines.append(line)
    position = {w.id: n for n, w in enumerate(chosen)}
    lines.sort(key=lambda li: (position[li.warehouse.id], li.product.name, li.product.id))
    by_owner: dict[int, list[Line]] = {}
    for line in lines:
        by_owner.setdefault(line.warehouse.id, []).append(line)
    subtotals = [_subtotal(w, by_owner.get(w.id, []), days_in_period) for w in chosen]
    subtotals = [s for s in subtotals if s.issued or s.opening or s.closing]
    total = _subtotal(None, lines, days_in_period)
    # The chart shows the 15 warehouses that turn over fastest (HQ has thousands); the table has them all.
    charted = sorted(subtotals, key=lambda s: -(s.turnover or 0))[:15] if len(subtotals) > 15 else subtotals
    chart = charts.bar_chart([s.warehouse_name for s in charted], [s.turnover or 0 for s in charted],
                             horizontal=True, title=_("Turnover by warehouse"),
                             empty_message=_("No stock movements in this period."))
    clean = {"start": start.isoformat(), "end": end.isoformat()}
    if warehouse_id:
        clean["warehouse"] = str(warehouse_id)
    if product_id:
        clean["product"] = str(product_id)
    return {"kind": "turnover", "title": _("Inventory turnover"), "period_label": sales.period_label(start, end),
            "start": start, "end": end, "days": days_in_period, "rows": lines, "subtotals": subtotals,
            "page_rows": lines if len(lines) <= PAGE_ROWS else sorted(lines, key=lambda li: -li.issued)[:PAGE_ROWS],
            "total": total, "warehouses": warehouses, "chart": chart, "rule": [str(r) for r in RULE],
            "params": clean, "uncosted": sum(1 for li in lines if li.unit_cost is None)}


def _subtotal(warehouse: Warehouse | None, lines: list[Line], days_in_period: int) -> Line:
    costed = [li for li in lines if li.unit_cost is not None]
    total = Line(warehouse, None, sum(li.opening for li in lines), sum(li.closing for li in lines),
                 sum(li.issued for li in lines))
    if costed:
        total.cogs = sum((li.cogs for li in costed), ZERO)
        total.opening_value = sum((li.opening_value for li in costed), ZERO)
        total.closing_value = sum((li.closing_value for li in costed), ZERO)
        total.average = sum((li.average for li in costed), ZERO)
        total.turnover, total.days = ratios(total.cogs, total.average, days_in_period)
    return total


def sheets(actor, params: dict, figures: dict) -> list[Sheet]:
    """Every product-warehouse line, then the subtotals per warehouse and the total."""
    header = [_("Warehouse"), _("SKU"), _("Product"), _("Opening units"), _("Closing units"), _("Units issued"),
              _("Unit cost"), _("Cost of goods issued"), _("Opening value"), _("Closing value"),
              _("Average inventory"), _("Turnover"), _("Days of inventory")]

    def cells(line: Line, sku: str, name: str) -> list:
        return [line.warehouse_name, sku, name, line.opening, line.closing, line.issued, line.unit_cost, line.cogs,
                line.opening_value, line.closing_value, line.average, line.turnover, line.days]

    rows = [cells(li, li.product.sku, li.product.name) for li in figures["rows"]]
    summary = [cells(s, "", _("Subtotal")) for s in figures["subtotals"]] + [cells(figures["total"], "", _("Total"))]
    return [Sheet(_("Turnover"), header, rows + summary), Sheet(_("By warehouse"), header, summary)]


register(ReportDefinition(kind="turnover", title=_l("Inventory turnover"), endpoint="reports.turnover",
                          build="dms.reports.turnover.build", pdf_template="reports/pdf/turnover.html",
                          orientation="landscape"))
