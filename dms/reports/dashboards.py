"""Dashboards: the figures of a distributor's home and of headquarters', one aggregate query per figure.

Every figure is a COUNT or SUM in the database over an indexed column (orders by created_at, status or
delivered_at; alerts by status; follow-ups by due day), never a loop over rows in Python, so a dashboard
costs the same fixed number of queries whatever the amount of data. A distributor's user sees only its
distributor's figures (dms.core.scope); headquarters (scope.all_distributors) sees the network.

The rules, stated on the page too:
- Today's orders: orders placed today (the business day, DMS_TIMEZONE), whatever their status.
- This week's sales: completed sales, i.e. orders delivered or completed (never cancelled or refunded),
  dated by delivered_at, from Monday of this business week.
- New customers: customers created this business month.
- Waiting for dispatch: paid orders that no courier has yet (the dispatch board's first column).
- Low stock, near expiry: the open stock alerts of each kind (dms.inventory.alerts raises and closes them
  after every stock movement and daily).
- Target attainment: personal volume this month (orders completed this month and not refunded, the
  network's volume, dms.network.volumes) against the month's amount target; for headquarters the sum
  over the distributors that have one.
- Commission payable: the commission entries due for settlement (status payable, dms.commissions.ledger).
- Follow-ups due: open follow-ups due today or overdue, the team's for staff who manage customers, else
  the user's own (as the follow-ups page shows them).
Headquarters also: the top and bottom five active distributors by this month's completed sales, the
share of counties a territory grant in force covers (the county's own, its city's or its province's),
open applications, open stock alerts and orders waiting for headquarters to give them a distributor.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import aliased

from dms.commissions import ledger
from dms.commissions.models import CommissionEntry
from dms.core import cache
from dms.core.periods import month_bounds_utc, month_name, utc_start
from dms.core.scope import HQ_SCOPE, scoped
from dms.core.time import business_day_bounds_utc, business_today
from dms.customers.interactions import open_follow_ups_query
from dms.customers.models import Customer, Interaction
from dms.distributors.grants import in_force_on
from dms.distributors.models import OPEN_STATES as OPEN_APPLICATION_STATES
from dms.distributors.models import Application, Distributor, DistributorTarget, TerritoryGrant
from dms.extensions import db
from dms.inventory.alerts import alerts_query
from dms.network.volumes import personal_volume, personal_volumes
from dms.orders.models import Order
from dms.territories.models import Region

SALE_STATES = ("delivered", "completed")  # completed sales: refunded and cancelled orders never count
AWAITING_DISPATCH = "paid"  # paid, no courier yet: what the dispatch board lists as awaiting a courier
UNASSIGNED_STATES = ("pending", "paid")  # an order without a distributor waits in HQ's queue
RANKED = 5
ZERO = Decimal("0.00")
PERCENT = Decimal("0.1")

VIEW = "reports.view"
ORDERS, CUSTOMERS, INVENTORY, COMMISSIONS = "orders.view", "customers.view", "inventory.view", "commissions.view"
DISTRIBUTORS, TERRITORIES, APPLICATIONS = "distributors.view", "territories.view", "applications.review"


def _money(value) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(ZERO)


def percent(part, whole) -> Decimal | None:
    """part / whole as a percentage with one decimal (ROUND_HALF_UP), None when whole is 0 or None."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(PERCENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Periods:
    """The business day, week (Monday to Sunday) and month a dashboard counts, with their UTC bounds."""

    today: date

    @property
    def week_start(self) -> date:
        return self.today - timedelta(days=self.today.weekday())

    @property
    def week_end(self) -> date:
        return self.week_start + timedelta(days=6)

    @property
    def month(self) -> date:
        return self.today.replace(day=1)

    @property
    def month_name(self) -> str:
        return month_name(self.month)

    @property
    def day_bounds(self) -> tuple[datetime, datetime]:
        return business_day_bounds_utc(self.today)

    @property
    def week_bounds(self) -> tuple[datetime, datetime]:
        return utc_start(self.week_start), utc_start(self.week_start + timedelta(days=7))

    @property
    def month_bounds(self) -> tuple[datetime, datetime]:
        return month_bounds_utc(self.month)


@dataclass(frozen=True)
class Ranked:
    """A distributor in the top or bottom of the month's sales."""

    distributor_id: int
    name: str
    sales: Decimal


@dataclass
class Figures:
    """A dashboard's figures; a figure the actor may not see (no permission for its area) stays None."""

    hq: bool
    periods: Periods
    distributor: Distributor | None = None
    todays_orders: int | None = None
    week_sales: Decimal | None = None
    new_customers: int | None = None
    awaiting_dispatch: int | None = None
    low_stock: int | None = None
    near_expiry: int | None = None
    month_volume: Decimal | None = None
    month_target: Decimal | None = None
    targeted: int | None = None  # HQ: distributors with a month target
    on_target: int | None = None  # HQ: of those, how many reached it
    commission_payable: Decimal | None = None
    follow_ups_due: int | None = None
    follow_ups_who: str = "mine"
    top: list[Ranked] = field(default_factory=list)
    bottom: list[Ranked] = field(default_factory=list)
    counties: int | None = None
    counties_covered: int | None = None
    open_applications: int | None = None
    open_alerts: int | None = None
    unassigned_orders: int | None = None

    @property
    def attainment(self) -> Decimal | None:
        """Month volume as a percentage of the month target (None without a target)."""
        return percent(self.month_volume or 0, self.month_target)

    @property
    def coverage(self) -> Decimal | None:
        """Covered counties as a percentage of all counties."""
        return percent(self.counties_covered or 0, self.counties)


# --- one figure, one query ------------------------------------------------------------------------

def _count(stmt) -> int:
    return int(db.session.scalar(stmt) or 0)


def todays_orders(actor, periods: Periods) -> int:
    """How many orders were placed today (business day), in the actor's scope."""
    start, end = periods.day_bounds
    stmt = select(func.count()).select_from(Order).where(Order.created_at >= start, Order.created_at < end)
    return _count(scoped(stmt, Order.distributor_id, actor))


def completed_sales(actor, start: datetime, end: datetime) -> Decimal:
    """The total of orders delivered or completed (not refunded) with delivered_at in [start, end)."""
    stmt = select(func.coalesce(func.sum(Order.total), 0)).where(
        Order.status.in_(SALE_STATES), Order.delivered_at >= start, Order.delivered_at < end)
    return _money(db.session.scalar(scoped(stmt, Order.distributor_id, actor)))


def awaiting_dispatch(actor) -> int:
    """How many paid orders wait for a courier, in the actor's scope."""
    stmt = select(func.count()).select_from(Order).where(Order.status == AWAITING_DISPATCH,
                                                         Order.courier_id.is_(None))
    return _count(scoped(stmt, Order.distributor_id, actor))


def new_customers(actor, periods: Periods) -> int:
    """How many customers were created this business month, in the actor's scope."""
    start, end = periods.month_bounds
    stmt = select(func.count()).select_from(Customer).where(Customer.created_at >= start, Customer.created_at < end)
    return _count(scoped(stmt, Customer.distributor_id, actor))


def open_alert_counts(actor) -> dict[str, int]:
    """{kind: open stock alerts} in the actor's warehouses (every warehouse for HQ)."""
    alerts = alerts_query(actor, status="open").order_by(None).subquery()
    return {kind: int(n) for kind, n in db.session.execute(
        select(alerts.c.kind, func.count()).group_by(alerts.c.kind))}


def month_target(distributor_id: int, periods: Periods) -> Decimal | None:
    """The distributor's amount target for this month, or None."""
    amount = db.session.scalar(select(DistributorTarget.amount).where(
        DistributorTarget.distributor_id == distributor_id, DistributorTarget.period == "month",
        DistributorTarget.period_start == periods.month))
    return _money(amount) if amount is not None else None


def network_targets(periods: Periods) -> dict[int, Decimal]:
    """{distributor id: amount target} of every distributor with one for this month."""
    rows = db.session.execute(select(DistributorTarget.distributor_id, DistributorTarget.amount).where(
        DistributorTarget.period == "month", DistributorTarget.period_start == periods.month,
        DistributorTarget.amount.is_not(None)))
    return {distributor_id: _money(amount) for distributor_id, amount in rows}


def network_payable() -> Decimal:
    """The commission payable across the network (entries of status payable)."""
    return _money(db.session.scalar(select(func.coalesce(func.sum(CommissionEntry.amount), 0))
                                    .where(CommissionEntry.status == "payable")))


def follow_ups_who(actor) -> str:
    """Whose follow-ups count: the team's for staff who manage customers, else the user's own."""
    return "team" if actor.can("customers.manage") else "mine"


def follow_ups_due(actor, periods: Periods) -> int:
    """Open follow-ups due today or overdue (the follow-ups page's first two buckets)."""
    stmt = (open_follow_ups_query(actor, follow_ups_who(actor))
            .where(Interaction.follow_up_on <= periods.today).order_by(None)
            .with_only_columns(func.count(Interaction.id), maintain_column_froms=True))
    return _count(stmt)


def ranking(periods: Periods, limit: int = RANKED) -> tuple[list[Ranked], list[Ranked]]:
    """The top and the bottom `limit` active distributors by this month's completed sales (one query: every
    active distributor's sum, a few thousand rows, ranked here both ways)."""
    start, end = periods.month_bounds
    sales = func.coalesce(func.sum(Order.total), 0)
    rows = db.session.execute(
        select(Distributor.id, Distributor.kind, Distributor.name, Distributor.company_name, sales)
        .outerjoin(Order, and_(Order.distributor_id == Distributor.id, Order.status.in_(SALE_STATES),
                               Order.delivered_at >= start, Order.delivered_at < end))
        .where(Distributor.status == "active")
        .group_by(Distributor.id, Distributor.kind, Distributor.name, Distributor.company_name))
    standings = [Ranked(id_, (company or name) if kind == "company" else name, _money(total))
                 for id_, kind, name, company, total in rows]
    top = sorted(standings, key=lambda r: (-r.sales, r.distributor_id))[:limit]
    shown = {r.distributor_id for r in top}
    bottom = sorted((r for r in standings if r.distributor_id not in shown),
                    key=lambda r: (r.sales, r.distributor_id))[:limit]
    return top, bottom


def county_coverage(periods: Periods) -> tuple[int, int]:
    """(counties covered by a grant in force today, all counties): granted itself or via its city or province."""
    county, parent = aliased(Region), aliased(Region)
    # One uncorrelated set of the granted codes (the database hashes it once), not a lookup per county.
    granted = select(TerritoryGrant.region_code).where(*in_force_on(periods.today))
    covered = or_(county.code.in_(granted), county.parent_code.in_(granted), parent.parent_code.in_(granted))
    covered, total = db.session.execute(
        select(func.coalesce(func.sum(case((covered, 1), else_=0)), 0), func.count())
        .select_from(county).outerjoin(parent, parent.code == county.parent_code)
        .where(county.level == "county")).one()
    return int(covered or 0), int(total or 0)


def open_applications() -> int:
    """How many applications are open (submitted, flagged or under review)."""
    return _count(select(func.count()).select_from(Application)
                  .where(Application.state.in_(OPEN_APPLICATION_STATES)))


def unassigned_orders() -> int:
    """How many open orders wait for headquarters to give them a distributor."""
    return _count(select(func.count()).select_from(Order)
                  .where(Order.distributor_id.is_(None), Order.status.in_(UNASSIGNED_STATES)))


# --- the dashboards -------------------------------------------------------------------------------

def _common(actor, figures: Figures) -> None:
    """The figures both dashboards show, each within the actor's scope and permissions."""
    periods = figures.periods
    if actor.can(ORDERS):
        figures.todays_orders = todays_orders(actor, periods)
        figures.week_sales = completed_sales(actor, *periods.week_bounds)
        figures.awaiting_dispatch = awaiting_dispatch(actor)
    if actor.can(CUSTOMERS):
        figures.new_customers = new_customers(actor, periods)
        figures.follow_ups_who = follow_ups_who(actor)
        figures.follow_ups_due = follow_ups_due(actor, periods)
    if actor.can(INVENTORY):
        counts = open_alert_counts(actor)
        figures.low_stock, figures.near_expiry = counts.get("low_stock", 0), counts.get("near_expiry", 0)
        figures.open_alerts = sum(counts.values())


def distributor_dashboard(actor, today: date | None = None) -> Figures:
    """The figures of the actor's own distributor."""
    periods = Periods(today or business_today())
    distributor_id = actor.distributor_id
    figures = Figures(hq=False, periods=periods, distributor=db.session.get(Distributor, distributor_id))
    _common(actor, figures)
    figures.month_target = month_target(distributor_id, periods)
    figures.month_volume = personal_volume(distributor_id, *periods.month_bounds)
    if actor.can(COMMISSIONS):
        figures.commission_payable = ledger.balances(distributor_id)["payable"]
    return figures


def network_dashboard(actor, today: date | None = None) -> Figures:
    """The network's figures for headquarters, with the top and bottom distributors and HQ's queues."""
    periods = Periods(today or business_today())
    figures = Figures(hq=True, periods=periods)
    _common(actor, figures)
    targets = network_targets(periods)
    volumes = personal_volumes(targets, *periods.month_bounds)
    figures.targeted = len(targets)
    figures.month_target = sum(targets.values(), ZERO)
    figures.month_volume = sum(volumes.values(), ZERO)
    figures.on_target = sum(1 for distributor_id, target in targets.items() if volumes[distributor_id] >= target)
    if actor.can(COMMISSIONS):
        # The sum over every payable entry of the network (hundreds of thousands at scale) is the dashboard's
        # costliest figure and changes only when entries are written: cached until then (dms.core.cache).
        figures.commission_payable = cache.cached("dashboard:network-payable", ["commission_entries"], "",
                                                  network_payable)
    if actor.can(DISTRIBUTORS):
        figures.top, figures.bottom = ranking(periods)
    if actor.can(TERRITORIES):
        figures.counties_covered, figures.counties = cache.cached(
            "dashboard:county-coverage", ["territory_grants", "regions"], periods.today,
            lambda: county_coverage(periods))
    if actor.can(APPLICATIONS):
        figures.open_applications = open_applications()
    if actor.can(ORDERS):
        figures.unassigned_orders = unassigned_orders()
    return figures


def dashboard(actor, today: date | None = None) -> Figures | None:
    """The dashboard the actor sees: HQ's network, its distributor's, or None (no reports.view, no distributor)."""
    if actor is None or not actor.can(VIEW):
        return None
    if actor.can(HQ_SCOPE):
        return network_dashboard(actor, today)
    if getattr(actor, "distributor_id", None) is None:
        return None
    return distributor_dashboard(actor, today)
