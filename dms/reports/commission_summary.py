"""Commission summary from the ledger: amounts by month and kind, and by distributor (the beneficiary).

An entry counts in its ledger period (the month it was accrued for), whatever its status; clawbacks are
negative, so a total is what the network earned net. "Paid" is the part of it already paid out.
HQ sees every beneficiary, a distributor only its own entries.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from dms.commissions.ledger_forms import KIND_LABELS
from dms.commissions.models import ENTRY_KINDS, CommissionEntry
from dms.core import charts
from dms.core.periods import month_name
from dms.core.scope import scoped
from dms.core.time import business_today
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.reports import sales
from dms.reports.registry import ReportDefinition, register
from dms.reports.sales import ZERO, Sheet

RULE = _l("Each ledger entry counts in its period (the month it was earned for), whatever its status. Clawbacks "
          "are negative; the total is the net amount. Paid = the part of it already paid out.")


@dataclass
class Summary:
    """Amounts of one month or one beneficiary, by kind, with the entry count and the paid part."""

    key: object
    label: str
    amounts: dict = field(default_factory=lambda: dict.fromkeys(ENTRY_KINDS, ZERO))
    entries: int = 0
    paid: Decimal = ZERO

    def add(self, kind: str, status: str, amount: Decimal, count: int) -> None:
        self.amounts[kind] = self.amounts.get(kind, ZERO) + amount
        self.entries += count
        if status == "paid":
            self.paid += amount

    @property
    def total(self) -> Decimal:
        return sum(self.amounts.values(), ZERO)


def build(actor, params: dict) -> dict:
    """Commission entries of the months chosen (the last 12 by default), by month and kind and by distributor."""
    today = business_today()
    start, end = sales.month_params(params, sales.months_back(today, 12), today.replace(day=1))
    kind = sales.choice_param(params, "kind", ENTRY_KINDS, "")
    distributor_id = sales.id_param(params, "distributor")
    stmt = (select(CommissionEntry.period, CommissionEntry.beneficiary_id, CommissionEntry.kind,
                   CommissionEntry.status, func.sum(CommissionEntry.amount), func.count(CommissionEntry.id))
            .where(CommissionEntry.period >= month_name(start), CommissionEntry.period <= month_name(end))
            .group_by(CommissionEntry.period, CommissionEntry.beneficiary_id, CommissionEntry.kind,
                      CommissionEntry.status))
    if kind:
        stmt = stmt.where(CommissionEntry.kind == kind)
    if distributor_id is not None:
        stmt = stmt.where(CommissionEntry.beneficiary_id == distributor_id)
    stmt = scoped(stmt, CommissionEntry.beneficiary_id, actor)
    overall = Summary(None, _("Total"))
    months: dict = {}
    beneficiaries: dict = {}
    for period, beneficiary, entry_kind, status, amount, count in db.session.execute(stmt):
        amount = amount or ZERO
        overall.add(entry_kind, status, amount, count)
        months.setdefault(period, Summary(period, period)).add(entry_kind, status, amount, count)
        beneficiaries.setdefault(beneficiary, Summary(beneficiary, "")).add(entry_kind, status, amount, count)
    labels = sales.names(Distributor, beneficiaries, sales.distributor_label)
    for key, summary in beneficiaries.items():
        summary.label = labels.get(key, str(key))
    by_month = [months[k] for k in sorted(months)]
    by_distributor = sorted(beneficiaries.values(), key=lambda s: (-s.total, s.label))
    chart = charts.bar_chart([s.label for s in by_month], [s.total for s in by_month],
                             title=_("Net commissions by month"), empty_message=_("No commission entries."),
                             chart_id="commissions-months")
    clean = {"start": start.strftime("%Y-%m"), "end": end.strftime("%Y-%m")}
    if kind:
        clean["kind"] = kind
    if distributor_id:
        clean["distributor"] = str(distributor_id)
    return {"kind": "commissions", "title": _("Commission summary"), "period_label": sales.period_label(start, end),
            "start": start, "end": end, "kinds": [(k, str(KIND_LABELS[k])) for k in ENTRY_KINDS],
            "by_month": by_month, "by_distributor": by_distributor, "page_rows": sales.PAGE_ROWS,
            "overall": overall, "chart": chart,
            "rule": str(RULE), "params": clean}


def sheets(actor, params: dict, figures: dict) -> list[Sheet]:
    """The summary by month, then by distributor."""
    kinds = figures["kinds"]

    def header(first):
        return [first, *[label for _k, label in kinds], _("Total"), _("Paid"), _("Entries")]

    def cells(s: Summary) -> list:
        return [s.label, *[s.amounts[k] for k, _label in kinds], s.total, s.paid, s.entries]

    total = cells(figures["overall"])
    return [Sheet(_("By month"), header(_("Month")), [cells(s) for s in figures["by_month"]] + [total]),
            Sheet(_("By distributor"), header(_("Distributor")),
                  [cells(s) for s in figures["by_distributor"]] + [total])]


register(ReportDefinition(kind="commissions", title=_l("Commission summary"), endpoint="reports.commissions",
                          build="dms.reports.commission_summary.build", pdf_template="reports/pdf/commissions.html",
                          orientation="landscape"))
