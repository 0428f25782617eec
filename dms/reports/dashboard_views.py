"""The dashboard page and the home page's dashboard panel: tiles of figures, each a link into its list."""

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_login import current_user

from dms.core.auth import require_permission
from dms.core.home import register as register_home_panel
from dms.core.i18n import money as _money
from dms.core.i18n import number as _number
from dms.core.nav import nav_url
from dms.core.render import render
from dms.reports import bp, dashboards

PANEL_TEMPLATE = "reports/dashboard/_panel.html"


@dataclass(frozen=True)
class Tile:
    """One figure of a dashboard: its label, value, how to show it (count, money, percent) and its list."""

    key: str
    label: object
    value: object
    kind: str = "count"
    url: str | None = None
    hint: object = ""


def _orders_url(**args) -> str | None:
    return nav_url("orders.list_orders", **args)


def _dispatch_url(figures) -> str | None:
    """The dispatch board for a distributor who may dispatch; the paid orders otherwise (HQ: every board)."""
    if not figures.hq and current_user.can("orders.manage"):
        return nav_url("delivery.dispatch_board")
    return _orders_url(status=dashboards.AWAITING_DISPATCH)


def _target_tile(figures) -> Tile:
    """Target attainment: the percentage, or the month's volume when no target is set."""
    if figures.hq:
        url = nav_url("distributors.list_distributors")
        hint = _("%(on)s of %(n)s distributors on target · %(volume)s of %(target)s",
                  on=_number(figures.on_target), n=_number(figures.targeted), volume=_money(figures.month_volume),
                  target=_money(figures.month_target))
    else:
        url = nav_url("distributors.show_distributor", distributor_id=figures.distributor.id, _anchor="targets")
        volume = _money(figures.month_volume)
        hint = (_("%(volume)s of %(target)s", volume=volume, target=_money(figures.month_target))
                if figures.month_target else _("No target set · volume %(volume)s", volume=volume))
    if figures.attainment is None:
        return Tile("target", _("Target attainment this month"), _("No target"), "text", url, hint)
    return Tile("target", _("Target attainment this month"), figures.attainment, "percent", url, hint)


def tiles(figures) -> list[Tile]:
    """The tiles of a dashboard, in reading order, with the list each opens (filtered to match)."""
    periods = figures.periods
    today = periods.today.isoformat()
    found: list[Tile] = []
    if figures.todays_orders is not None:
        found += [
            Tile("todays_orders", _("Today's orders"), figures.todays_orders,
                 url=_orders_url(date_from=today, date_to=today), hint=_("Placed today, any status")),
            Tile("week_sales", _("This week's sales"), figures.week_sales, "money",
                 url=_orders_url(date_from=periods.week_start.isoformat(), date_to=today),
                 hint=_("Delivered or completed since Monday")),
            Tile("awaiting_dispatch", _("Waiting for dispatch"), figures.awaiting_dispatch,
                 url=_dispatch_url(figures), hint=_("Paid, no courier yet")),
        ]
    if figures.new_customers is not None:
        found.append(Tile("new_customers", _("New customers this month"), figures.new_customers,
                          url=nav_url("customers.list_customers", sort="created", dir="desc"),
                          hint=_("Created in %(month)s", month=periods.month_name)))
    if figures.low_stock is not None:
        found += [
            Tile("low_stock", _("Low stock"), figures.low_stock,
                 url=nav_url("inventory.list_alerts", status="open", kind="low_stock"), hint=_("Open alerts")),
            Tile("near_expiry", _("Near expiry"), figures.near_expiry,
                 url=nav_url("inventory.list_alerts", status="open", kind="near_expiry"), hint=_("Open alerts")),
        ]
    found.append(_target_tile(figures))
    if figures.commission_payable is not None:
        found.append(Tile("commission_payable", _("Commission payable"), figures.commission_payable, "money",
                          url=nav_url("commissions.list_entries", status="payable"),
                          hint=_("Due at the next settlement")))
    if figures.follow_ups_due is not None:
        found.append(Tile("follow_ups_due", _("Follow-ups due"), figures.follow_ups_due,
                          url=nav_url("customers.follow_ups", who=figures.follow_ups_who),
                          hint=_("Due today or overdue")))
    if figures.hq:
        found += _network_tiles(figures)
    return found


def _network_tiles(figures) -> list[Tile]:
    """Headquarters' own tiles: coverage, applications, alerts and its queue of unassigned orders."""
    found = []
    if figures.counties is not None:
        found.append(Tile("coverage", _("Territory coverage"), figures.coverage, "percent",
                          url=nav_url("distributors.territory_gaps", level="county"),
                          hint=_("%(covered)s of %(all)s counties covered",
                                  covered=_number(figures.counties_covered), all=_number(figures.counties))))
    if figures.open_applications is not None:
        found.append(Tile("open_applications", _("Open applications"), figures.open_applications,
                          url=nav_url("distributors.list_applications"), hint=_("Waiting for a decision")))
    if figures.open_alerts is not None:
        found.append(Tile("open_alerts", _("Open stock alerts"), figures.open_alerts,
                          url=nav_url("inventory.list_alerts", status="open"), hint=_("Every warehouse")))
    if figures.unassigned_orders is not None:
        found.append(Tile("unassigned_orders", _("Orders without a distributor"), figures.unassigned_orders,
                          url=_orders_url(distributor="unassigned"), hint=_("No territory covers them")))
    return found


def _context(figures) -> dict:
    return {"figures": figures, "tiles": tiles(figures),
            "distributor_url": lambda distributor_id: nav_url("distributors.show_distributor",
                                                              distributor_id=distributor_id)}


def home_panel(user):
    """The home page's dashboard panel for `user`, or None when they have no dashboard."""
    figures = dashboards.dashboard(user)
    if figures is None:
        return None
    return PANEL_TEMPLATE, _context(figures)


register_home_panel("dms.reports.dashboard_views.home_panel")


@bp.get("/dashboard")
@require_permission(dashboards.VIEW)
def dashboard():
    """The dashboard: the distributor's own figures, or the network's for headquarters."""
    figures = dashboards.dashboard(current_user)
    return render("reports/dashboard/page.html", "reports/dashboard/_board.html",
                  **(_context(figures) if figures is not None else {"figures": None, "tiles": []}))
