"""Customers' consumption figures from their orders (消费记录): history, lifetime value, RFM inputs, satisfaction.

The customers area sits below orders and never reads orders itself; these queries compute what its
pages show and what its scoring takes as input. Every figure for many customers comes from one grouped
query (never a query per customer).

Definitions (shown on the pages):
- An order *counts* for activity when it is not cancelled and not refunded; its day is the business day
  it was placed.
- Lifetime value = the sum of the totals of the customer's delivered and completed orders: money the
  customer actually paid for goods received. A refunded order's money went back, so it adds nothing.
- Satisfaction = the average of the 1-5 ratings of the customer's (or the distributor's) orders.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import selectinload

from dms.catalog.models import Product
from dms.core.time import business_day_bounds_utc, business_tz
from dms.customers.scoring import window_start
from dms.extensions import db
from dms.orders.models import Order, OrderLine, OrderRating
from dms.orders.services import orders_query

NOT_COUNTED = ("cancelled", "refunded")
REALISED = ("delivered", "completed")
ZERO = Decimal("0.00")
HISTORY_LIMIT = 50


@dataclass
class Figures:
    """One customer's figures as of a day (zero and None for a customer without orders)."""

    order_count: int = 0
    last_order_at: datetime | None = None
    lifetime_value: Decimal = ZERO
    refunded: Decimal = ZERO
    orders_in_window: int = 0
    spend_in_window: Decimal = ZERO

    @property
    def last_order_day(self) -> date | None:
        """The business day of the last counted order."""
        return business_day(self.last_order_at) if self.last_order_at is not None else None


def business_day(moment: datetime) -> date:
    """The business day of a naive UTC timestamp."""
    return moment.replace(tzinfo=UTC).astimezone(business_tz()).date()


def _money(value) -> Decimal:
    return Decimal(value if value is not None else 0).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def figures(customer_ids: list[int] | None, today: date) -> dict[int, Figures]:
    """{customer id: Figures} for these customers (None: every customer with an order), in one grouped query."""
    since = business_day_bounds_utc(window_start(today))[0]
    until = business_day_bounds_utc(today)[1]
    counted = Order.status.not_in(NOT_COUNTED)
    in_window = and_(counted, Order.created_at >= since, Order.created_at < until)
    stmt = (select(Order.customer_id,
                   func.count(case((counted, Order.id))),
                   func.max(case((counted, Order.created_at))),
                   func.sum(case((Order.status.in_(REALISED), Order.total), else_=0)),
                   func.sum(case((Order.status == "refunded", Order.total), else_=0)),
                   func.count(case((in_window, Order.id))),
                   func.sum(case((in_window, Order.total), else_=0)))
            .where(Order.customer_id.is_not(None)).group_by(Order.customer_id))
    found: dict[int, Figures] = {}
    chunks = [None] if customer_ids is None else [customer_ids[i:i + 500] for i in range(0, len(customer_ids), 500)]
    for chunk in chunks:
        query = stmt if chunk is None else stmt.where(Order.customer_id.in_(chunk))
        for cid, count, last, ltv, refunded, window_count, window_spend in db.session.execute(query):
            # SQLite returns MAX over a timestamp as text.
            if isinstance(last, str):
                last = datetime.fromisoformat(last)
            found[cid] = Figures(count or 0, last, _money(ltv), _money(refunded), window_count or 0,
                                 _money(window_spend))
    return found


def figures_of(customer_id: int, today: date) -> Figures:
    """One customer's figures (zero when it has no orders)."""
    return figures([customer_id], today).get(customer_id, Figures())


def history(customer_id: int, limit: int = HISTORY_LIMIT) -> list[Order]:
    """The customer's latest orders, newest first, with their lines, products and ratings loaded."""
    stmt = (select(Order).where(Order.customer_id == customer_id)
            .options(selectinload(Order.lines).joinedload(OrderLine.product), selectinload(Order.rating))
            .order_by(Order.created_at.desc(), Order.id.desc()).limit(limit))
    return list(db.session.scalars(stmt))


def products_bought(customer_id: int, limit: int = 10) -> list[tuple[str, int, Decimal]]:
    """(product name, units, amount) the customer bought in counted orders, most units first."""
    stmt = (select(Product.name, func.sum(OrderLine.quantity), func.sum(OrderLine.amount))
            .join(Order, Order.id == OrderLine.order_id).join(Product, Product.id == OrderLine.product_id)
            .where(Order.customer_id == customer_id, Order.status.not_in(NOT_COUNTED))
            .group_by(Product.id, Product.name).order_by(func.sum(OrderLine.quantity).desc(), Product.name)
            .limit(limit))
    return [(name, int(units or 0), _money(amount)) for name, units, amount in db.session.execute(stmt)]


@dataclass(frozen=True)
class Satisfaction:
    """The average 1-5 rating (one decimal) and how many ratings it is of; None without ratings."""

    average: Decimal | None
    ratings: int


def _satisfaction(row) -> Satisfaction:
    average, count = row
    if not count:
        return Satisfaction(None, 0)
    return Satisfaction(Decimal(str(average)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP), int(count))


def satisfaction_by_customer(customer_ids: list[int]) -> dict[int, Satisfaction]:
    """{customer id: Satisfaction} from the ratings of their orders, one grouped query."""
    stmt = (select(Order.customer_id, func.avg(OrderRating.score), func.count(OrderRating.id))
            .join(Order, Order.id == OrderRating.order_id).where(Order.customer_id.in_(customer_ids))
            .group_by(Order.customer_id))
    return {cid: _satisfaction((avg, count)) for cid, avg, count in db.session.execute(stmt)}


def satisfaction_of_customer(customer_id: int) -> Satisfaction:
    """One customer's average rating."""
    return satisfaction_by_customer([customer_id]).get(customer_id, Satisfaction(None, 0))


def satisfaction_by_distributor(distributor_ids: list[int] | None = None) -> dict[int, Satisfaction]:
    """{distributor id: Satisfaction} from the ratings of each distributor's orders (None: every distributor)."""
    stmt = (select(Order.distributor_id, func.avg(OrderRating.score), func.count(OrderRating.id))
            .join(Order, Order.id == OrderRating.order_id).where(Order.distributor_id.is_not(None))
            .group_by(Order.distributor_id))
    if distributor_ids is not None:
        stmt = stmt.where(Order.distributor_id.in_(distributor_ids))
    return {did: _satisfaction((avg, count)) for did, avg, count in db.session.execute(stmt)}


def satisfaction_in_scope(actor, distributor_id: int | None = None) -> Satisfaction:
    """The average rating of the orders the actor may see (HQ: the whole network or one distributor)."""
    sub = orders_query(actor).with_only_columns(Order.id)
    if distributor_id is not None:
        sub = sub.where(Order.distributor_id == distributor_id)
    row = db.session.execute(select(func.avg(OrderRating.score), func.count(OrderRating.id))
                             .where(OrderRating.order_id.in_(sub))).one()
    return _satisfaction(row)
