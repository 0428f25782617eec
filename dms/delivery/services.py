"""Dispatch and delivery queries: the board's orders grouped by area, couriers' loads, a courier's day.

The rules of moving an order (who may assign, ship, deliver, rate) stay in dms.orders.transitions and
dms.orders.ratings; this module only chooses which orders a page shows, always through the orders
area's scope (`orders_query`), so another distributor's order or another courier's is never found.
"""

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from dms.core.errors import NotFound
from dms.core.rows import is_row_id
from dms.core.scope import HQ_SCOPE
from dms.core.time import business_day_bounds_utc, business_today
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.orders.models import Order
from dms.orders.services import orders_query
from dms.orders.transitions import couriers_of
from dms.territories.models import Region
from dms.territories.services import with_paths

DONE_STATES = ("delivered", "completed")


# --- the dispatch board ----------------------------------------------------------------------------

def board_distributor(actor, distributor_id: int | None) -> Distributor | None:
    """The distributor whose board `actor` sees: its own (another's id is NotFound); HQ the one chosen or None."""
    if actor.can(HQ_SCOPE):
        if distributor_id is None:
            return None
        distributor = db.session.get(Distributor, distributor_id)
        if distributor is None:
            raise NotFound()
        return distributor
    own = getattr(actor, "distributor_id", None)
    if own is None or distributor_id not in (None, own):
        raise NotFound()
    return db.session.get(Distributor, own)


def board_distributors(actor) -> list[Distributor]:
    """The distributors HQ may choose a board for (active ones, by name); a distributor's user chooses none."""
    if not actor.can(HQ_SCOPE):
        return []
    return list(db.session.scalars(select(Distributor).where(Distributor.status == "active")
                                   .order_by(Distributor.name, Distributor.id)))


def _board_orders(actor, distributor: Distributor, status: str) -> list[Order]:
    stmt = (orders_query(actor).where(Order.distributor_id == distributor.id, Order.status == status)
            .options(selectinload(Order.lines), selectinload(Order.courier))
            .order_by(Order.paid_at, Order.id))
    return list(db.session.scalars(stmt))


def awaiting_courier(actor, distributor: Distributor) -> list[Order]:
    """The distributor's paid orders that no courier has yet, longest paid first."""
    return _board_orders(actor, distributor, "paid")


def assigned_not_shipped(actor, distributor: Distributor) -> list[Order]:
    """The distributor's orders given to a courier and not yet out, so they can be handed to another."""
    return _board_orders(actor, distributor, "assigned")


@dataclass
class StreetGroup:
    """The orders of one street (or community) of a county."""

    street: str
    orders: list[Order] = field(default_factory=list)


@dataclass
class AreaGroup:
    """The orders of one county, by street."""

    region_code: str | None
    label: str
    streets: list[StreetGroup] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(s.orders) for s in self.streets)


def _region_labels(codes: set[str]) -> dict[str, str]:
    """code -> "城市 区县" (the path below the province), so two counties of one name are told apart."""
    regions = list(db.session.scalars(select(Region).where(Region.code.in_(codes)))) if codes else []
    return {region.code: " ".join(r.name for r in (path[1:] or path)) for region, path in with_paths(regions)}


def group_by_area(orders: list[Order]) -> list[AreaGroup]:
    """Orders grouped by the county of their delivery address, then by street; each group keeps the orders' order.

    Counties and streets are sorted by name; orders without a region or a street come last in their level.
    """
    labels = _region_labels({o.ship_region_code for o in orders if o.ship_region_code})
    areas: dict[str | None, AreaGroup] = {}
    for order in orders:
        code = order.ship_region_code if order.ship_region_code in labels else None
        area = areas.get(code)
        if area is None:
            area = areas[code] = AreaGroup(code, labels[code] if code else _("No area given"))
        street = (order.ship_street or "").strip()
        group = next((s for s in area.streets if s.street == street), None)
        if group is None:
            group = StreetGroup(street)
            area.streets.append(group)
        group.orders.append(order)
    for area in areas.values():
        area.streets.sort(key=lambda s: (s.street == "", s.street))
    return sorted(areas.values(), key=lambda a: (a.region_code is None, a.label, a.region_code or ""))


@dataclass
class CourierLoad:
    """A courier's work today: assigned and not out yet, out for delivery, delivered today."""

    courier: object
    assigned: int = 0
    shipped: int = 0
    delivered_today: int = 0

    @property
    def total(self) -> int:
        return self.assigned + self.shipped + self.delivered_today


def courier_loads(distributor: Distributor) -> list[CourierLoad]:
    """Each courier of the distributor with today's load: still open orders plus those delivered today."""
    couriers = couriers_of(distributor.id)
    loads = {c.id: CourierLoad(c) for c in couriers}
    if not loads:
        return []
    start, end = business_day_bounds_utc(business_today())
    delivered_today = and_(Order.status.in_(DONE_STATES), Order.delivered_at >= start, Order.delivered_at < end)
    rows = db.session.execute(
        select(Order.courier_id, Order.status, func.count())
        .where(Order.distributor_id == distributor.id, Order.courier_id.in_(loads),
               or_(Order.status.in_(("assigned", "shipped")), delivered_today))
        .group_by(Order.courier_id, Order.status))
    for courier_id, status, count in rows:
        load = loads[courier_id]
        if status == "assigned":
            load.assigned += count
        elif status == "shipped":
            load.shipped += count
        else:
            load.delivered_today += count
    return list(loads.values())


def suggested_courier(loads: list[CourierLoad]) -> int | None:
    """The id of the least loaded courier (fewest open orders, then fewest today), to preselect."""
    if not loads:
        return None
    return min(loads, key=lambda load: (load.assigned + load.shipped, load.total)).courier.id


# --- the courier's page ----------------------------------------------------------------------------

def _mine(actor):
    """The orders assigned to `actor` themself (an HQ user who also delivers sees only their own here)."""
    return orders_query(actor).where(Order.courier_id == getattr(actor, "id", None))


def my_open_deliveries(actor) -> list[Order]:
    """The courier's orders to deliver: assigned or out for delivery, oldest first."""
    stmt = (_mine(actor).where(Order.status.in_(("assigned", "shipped")))
            .options(selectinload(Order.lines)).order_by(Order.created_at, Order.id))
    return list(db.session.scalars(stmt))


def my_delivered_today(actor) -> list[Order]:
    """The courier's orders delivered today (done), most recent first, with their ratings."""
    start, end = business_day_bounds_utc(business_today())
    stmt = (_mine(actor).where(Order.status.in_(DONE_STATES), Order.delivered_at >= start, Order.delivered_at < end)
            .options(selectinload(Order.rating)).order_by(Order.delivered_at.desc(), Order.id.desc()))
    return list(db.session.scalars(stmt))


def my_delivery(actor, order_id) -> Order:
    """One order assigned to `actor`; NotFound for anyone else's (another courier's or distributor's)."""
    if not is_row_id(order_id):
        raise NotFound()
    order = db.session.scalar(_mine(actor).where(Order.id == order_id))
    if order is None:
        raise NotFound()
    return order


def address_labels(orders: list[Order]) -> dict[str, str]:
    """region code -> its full name from the province down, for the addresses a page shows."""
    codes = {o.ship_region_code for o in orders if o.ship_region_code}
    regions = list(db.session.scalars(select(Region).where(Region.code.in_(codes)))) if codes else []
    return {region.code: "".join(r.name for r in path) for region, path in with_paths(regions)}
