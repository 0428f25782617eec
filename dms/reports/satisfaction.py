"""Customer satisfaction: the ratings (1-5) customers gave their orders, by distributor and by month.

A rating counts in the month (business time zone) it was given, for the distributor of its order.
Average = the sum of the scores / their count, to two places (ROUND_HALF_UP); the distribution counts
each score 1 to 5.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from dms.core import charts
from dms.core.local_dates import local_date
from dms.core.periods import month_name
from dms.core.scope import scoped
from dms.core.time import business_today
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.orders.models import Order, OrderRating
from dms.reports import sales
from dms.reports.registry import ReportDefinition, register
from dms.reports.sales import CENT, Sheet

SCORES = (1, 2, 3, 4, 5)
RULE = _l("Each rating counts in the month it was given, for the distributor of its order. Average = the sum "
          "of the scores ÷ the number of ratings, to two places.")


@dataclass
class Tally:
    """Ratings of one distributor or month (or all): count, sum, and how many of each score."""

    key: object
    label: str
    counts: dict = field(default_factory=lambda: dict.fromkeys(SCORES, 0))

    def add(self, score: int) -> None:
        self.counts[score] += 1

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    @property
    def average(self) -> Decimal | None:
        if not self.count:
            return None
        return (Decimal(sum(s * n for s, n in self.counts.items())) / self.count).quantize(CENT, ROUND_HALF_UP)

    def percent(self, score: int) -> Decimal | None:
        return sales.share(Decimal(self.counts[score]), Decimal(self.count)) if self.count else None


def build(actor, params: dict) -> dict:
    """Ratings of the months chosen (the last 12 by default), by distributor and by month, with the distribution."""
    today = business_today()
    start, end = sales.month_params(params, sales.months_back(today, 12), today.replace(day=1))
    distributor_id = sales.id_param(params, "distributor")
    low, high = sales.utc_bounds(start, end)
    def counted(*keys):
        """Ratings counted in the database by `keys` and score (a few rows, never one per rating)."""
        stmt = (select(*keys, OrderRating.score, func.count()).join(Order, Order.id == OrderRating.order_id)
                .where(OrderRating.at >= low, OrderRating.at < high).group_by(*keys, OrderRating.score))
        if distributor_id is not None:
            stmt = stmt.where(Order.distributor_id == distributor_id)
        return db.session.execute(scoped(stmt, Order.distributor_id, actor))

    overall = Tally(None, _("All ratings"))
    by_distributor: dict = {}
    by_month: dict = {}
    for owner, score, n in counted(Order.distributor_id):
        by_distributor.setdefault(owner, Tally(owner, "")).counts[score] += n
    for day, score, n in counted(local_date(OrderRating.at)):
        overall.counts[score] += n
        month = month_name(day.replace(day=1))
        by_month.setdefault(month, Tally(month, month)).counts[score] += n
    labels = sales.names(Distributor, by_distributor, sales.distributor_label)
    for key, tally in by_distributor.items():
        tally.label = labels.get(key, str(key)) if key else _("HQ (unassigned)")
    distributors = sorted(by_distributor.values(), key=lambda t: (-(t.average or 0), -t.count, t.label))
    months = [by_month[k] for k in sorted(by_month)]
    chart = charts.bar_chart([str(s) for s in SCORES], [overall.counts[s] for s in SCORES],
                             title=_("Ratings by score (1 = very unhappy, 5 = very happy)"),
                             empty_message=_("No ratings in this period."), chart_id="satisfaction-scores")
    month_chart = charts.line_chart([t.label for t in months],
                                    [charts.Series(_("Average rating"), [t.average for t in months])],
                                    title=_("Average rating by month"), empty_message=_("No ratings in this period."),
                                    chart_id="satisfaction-months")
    clean = {"start": start.strftime("%Y-%m"), "end": end.strftime("%Y-%m")}
    if distributor_id:
        clean["distributor"] = str(distributor_id)
    return {"kind": "satisfaction", "title": _("Customer satisfaction"),
            "period_label": sales.period_label(start, end), "start": start, "end": end, "overall": overall,
            "by_distributor": distributors, "page_rows": sales.PAGE_ROWS, "by_month": months, "scores": SCORES,
            "chart": chart,
            "month_chart": month_chart, "rule": str(RULE), "params": clean}


def sheets(actor, params: dict, figures: dict) -> list[Sheet]:
    """The ratings by distributor, then by month (each with the distribution of scores)."""
    def header(first):
        return [first, _("Ratings"), _("Average"), *[_("Score %(n)s", n=s) for s in SCORES]]

    def cells(tally: Tally) -> list:
        return [tally.label, tally.count, tally.average, *[tally.counts[s] for s in SCORES]]

    overall = cells(figures["overall"])
    return [Sheet(_("By distributor"), header(_("Distributor")),
                  [cells(t) for t in figures["by_distributor"]] + [overall]),
            Sheet(_("By month"), header(_("Month")), [cells(t) for t in figures["by_month"]] + [overall])]


register(ReportDefinition(kind="satisfaction", title=_l("Customer satisfaction"), endpoint="reports.satisfaction",
                          build="dms.reports.satisfaction.build", pdf_template="reports/pdf/satisfaction.html"))
