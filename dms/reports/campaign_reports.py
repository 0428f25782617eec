"""Campaign evaluations: one summary row per campaign, its figures from dms/orders/campaign_effect.evaluate.

Campaigns are HQ's (campaigns.manage with HQ scope): the campaigns running or ended that overlap the chosen
months, newest first, at most MAX_CAMPAIGNS of them (each evaluation reads its own sales). The method is the
effect page's; each row links to that page for the detail.
"""

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from dms.campaigns import services as campaigns
from dms.campaigns.models import Campaign
from dms.core import charts
from dms.core.time import business_today
from dms.extensions import db
from dms.orders import campaign_effect
from dms.reports import sales
from dms.reports.registry import ReportDefinition, register
from dms.reports.sales import ZERO, Sheet

EVALUATED_STATES = ("running", "ended")
MAX_CAMPAIGNS = 100


def build(actor, params: dict) -> dict:
    """Each running or ended campaign overlapping the months: orders, revenue, uplift, incremental margin, ROI."""
    today = business_today()
    start, end = sales.month_params(params, sales.months_back(today, 12), today.replace(day=1))
    status = sales.choice_param(params, "status", EVALUATED_STATES, "")
    stmt = campaigns.campaigns_query(actor, status=status or None, active_from=start, active_to=end)
    stmt = stmt.where(Campaign.status.in_(EVALUATED_STATES)).order_by(Campaign.starts_on.desc(), Campaign.id.desc())
    found = list(db.session.scalars(stmt.limit(MAX_CAMPAIGNS + 1)))
    rows = [campaign_effect.evaluate(c, today) for c in found[:MAX_CAMPAIGNS]]
    totals = {"orders": sum(e.current.orders for e in rows), "revenue": sum((e.current.revenue for e in rows), ZERO),
              "incremental": sum((e.incremental_revenue for e in rows), ZERO),
              "cost": sum((e.campaign.cost for e in rows), ZERO)}
    chart = charts.bar_chart([e.campaign.name for e in rows], [e.incremental_revenue for e in rows],
                             horizontal=True, title=_("Incremental revenue by campaign"),
                             empty_message=_("No campaign ran in this period."))
    clean = {"start": start.strftime("%Y-%m"), "end": end.strftime("%Y-%m")}
    if status:
        clean["status"] = status
    return {"kind": "campaigns", "title": _("Campaign evaluations"), "period_label": sales.period_label(start, end),
            "start": start, "end": end, "rows": rows, "truncated": len(found) > MAX_CAMPAIGNS,
            "max_campaigns": MAX_CAMPAIGNS, "totals": totals, "chart": chart, "status_label": campaigns.status_label,
            "statuses": [(s, campaigns.status_label(s)) for s in EVALUATED_STATES], "params": clean}


def sheets(actor, params: dict, figures: dict) -> list[Sheet]:
    """One row per campaign with its evaluation figures."""
    header = [_("Campaign"), _("Code"), _("Status"), _("From"), _("To"), _("Orders"), _("Revenue"),
              _("Baseline revenue"), _("Uplift vs baseline"), _("Uplift vs control"), _("Incremental revenue"),
              _("Margin rate %"), _("Incremental gross margin"), _("Cost"), _("ROI %"), _("New customers")]
    rows = []
    for e in figures["rows"]:
        c = e.campaign
        rows.append([c.name, c.code or "", campaigns.status_label(c.status), e.start, e.end, e.current.orders,
                     e.current.revenue, e.baseline.revenue, e.uplift, e.uplift_vs_control, e.incremental_revenue,
                     None if e.margin_rate is None else sales.share(e.margin_rate, 1),
                     e.incremental_margin, c.cost, None if e.roi is None else sales.share(e.roi, 1),
                     e.new_customers])
    return [Sheet(_("Campaigns"), header, rows)]


register(ReportDefinition(kind="campaigns", title=_l("Campaign evaluations"), endpoint="reports.campaigns",
                          build="dms.reports.campaign_reports.build", pdf_template="reports/pdf/campaigns.html",
                          orientation="landscape", permission=campaigns.MANAGE))
