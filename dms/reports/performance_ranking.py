"""Distributor performance ranking: completed sales of whole months (the rule of dms/reports/sales.py).

Per distributor: sales amount, orders, average order value (amount / orders), the sales target of the
period (its monthly targets' amounts, and the quarterly targets whose three months all lie inside it),
attainment = sales / target, and growth against the previous period of as many months
((sales - previous) / previous). Ranked by sales, highest first (ties by name); HQ sees every active
distributor (and any other that sold in the period), a distributor only itself.
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from dms.core import charts
from dms.core.periods import next_month, previous_month
from dms.core.scope import scoped
from dms.core.time import business_today
from dms.distributors.models import Distributor, DistributorTarget
from dms.extensions import db
from dms.orders.models import Order, OrderLine
from dms.reports import sales
from dms.reports.registry import ReportDefinition, register
from dms.reports.sales import CENT, ZERO, Sheet

LEVEL_LABELS = {"province": _l("Province"), "city": _l("City"), "county": _l("County")}


@dataclass
class Standing:
    """One distributor's row of the ranking."""

    rank: int
    distributor: Distributor
    amount: Decimal = ZERO
    orders: int = 0
    previous: Decimal = ZERO
    target: Decimal | None = None

    @property
    def average(self) -> Decimal | None:
        return (self.amount / self.orders).quantize(CENT, ROUND_HALF_UP) if self.orders else None

    @property
    def attainment(self) -> Decimal | None:
        return sales.share(self.amount, self.target) if self.target else None

    @property
    def growth(self) -> Decimal | None:
        return sales.share(self.amount - self.previous, self.previous) if self.previous else None


def month_count(start: date, end: date) -> int:
    """How many months [start, end] spans (both whole months)."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _totals(actor, start: date, end: date) -> dict:
    """{distributor id: (amount, orders)} of the completed sales in [start, end]."""
    stmt = sales.sales_lines(actor, start, end, columns=(Order.distributor_id, func.sum(OrderLine.amount),
                                                         func.count(func.distinct(Order.id))))
    stmt = stmt.where(Order.distributor_id.is_not(None)).group_by(Order.distributor_id)
    return {d: (amount or ZERO, orders) for d, amount, orders in db.session.execute(stmt)}


def _targets(ids, start: date, end: date) -> dict:
    """{distributor id: target amount} of the months and whole quarters inside [start, end]."""
    if not ids:
        return {}
    stmt = select(DistributorTarget).where(DistributorTarget.distributor_id.in_(list(ids)),
                                           DistributorTarget.amount.is_not(None),
                                           DistributorTarget.period_start >= start,
                                           DistributorTarget.period_start <= end)
    found: dict = {}
    for target in db.session.scalars(stmt):
        last = target.period_start
        if target.period == "quarter":
            last = next_month(next_month(target.period_start))
        if last > end:
            continue
        found[target.distributor_id] = found.get(target.distributor_id, ZERO) + target.amount
    return found


def build(actor, params: dict) -> dict:
    """The ranking of the months chosen (the current month by default), with targets and growth."""
    today = business_today()
    start, end = sales.month_params(params, today.replace(day=1), today.replace(day=1))
    months = month_count(start, end)
    previous_start = start
    for _n in range(months):
        previous_start = previous_month(previous_start)
    previous_end = date.fromordinal(start.toordinal() - 1)
    current = _totals(actor, start, end)
    before = _totals(actor, previous_start, previous_end)
    listed = scoped(select(Distributor), Distributor.id, actor)
    if sales.hq(actor):
        listed = listed.where(or_(Distributor.status == "active", Distributor.id.in_(list(current) or [-1])))
    distributors = list(db.session.scalars(listed.order_by(Distributor.name, Distributor.id)))
    targets = _targets([d.id for d in distributors], start, end)
    rows = []
    for distributor in distributors:
        amount, orders = current.get(distributor.id, (ZERO, 0))
        rows.append(Standing(0, distributor, amount, orders, before.get(distributor.id, (ZERO, 0))[0],
                             targets.get(distributor.id)))
    rows.sort(key=lambda r: (-r.amount, r.distributor.display_name, r.distributor.id))
    rank, last_amount = 0, None
    for position, row in enumerate(rows, start=1):
        if row.amount != last_amount:
            rank, last_amount = position, row.amount
        row.rank = rank
    total = sum((r.amount for r in rows), ZERO)
    total_orders = sum(r.orders for r in rows)
    total_previous = sum((r.previous for r in rows), ZERO)
    total_target = sum((r.target for r in rows if r.target), ZERO)
    top = rows[:15]
    chart = charts.bar_chart([r.distributor.display_name for r in top], [r.amount for r in top], horizontal=True,
                             title=_("Sales by distributor (top %(count)s)", count=len(top)),
                             empty_message=_("No distributors."))
    return {"kind": "ranking", "title": _("Distributor ranking"), "period_label": sales.period_label(start, end),
            "start": start, "end": end, "previous_start": previous_start, "previous_end": previous_end,
            "rows": rows, "page_rows": sales.PAGE_ROWS, "chart": chart, "rule": str(sales.SALE_RULE),
            "level_labels": LEVEL_LABELS,
            "totals": {"amount": total, "orders": total_orders, "previous": total_previous,
                       "target": total_target or None,
                       "average": (total / total_orders).quantize(CENT, ROUND_HALF_UP) if total_orders else None,
                       "attainment": sales.share(total, total_target) if total_target else None,
                       "growth": sales.share(total - total_previous, total_previous) if total_previous else None},
            "params": {"start": start.strftime("%Y-%m"), "end": end.strftime("%Y-%m")}}


def sheets(actor, params: dict, figures: dict) -> list[Sheet]:
    """Every distributor's row of the ranking."""
    header = [_("Rank"), _("Distributor"), _("Level"), _("Region"), _("Sales"), _("Orders"), _("Average order"),
              _("Target"), _("Attainment %"), _("Previous period"), _("Growth %")]
    rows = [[r.rank, r.distributor.display_name, str(LEVEL_LABELS.get(r.distributor.level, r.distributor.level)),
             r.distributor.region.name if r.distributor.region else "", r.amount, r.orders, r.average, r.target,
             r.attainment, r.previous, r.growth] for r in figures["rows"]]
    t = figures["totals"]
    rows.append([None, _("Total"), "", "", t["amount"], t["orders"], t["average"], t["target"], t["attainment"],
                 t["previous"], t["growth"]])
    return [Sheet(_("Ranking"), header, rows)]


register(ReportDefinition(kind="ranking", title=_l("Distributor ranking"), endpoint="reports.ranking",
                          build="dms.reports.performance_ranking.build",
                          pdf_template="reports/pdf/ranking.html", orientation="landscape"))
