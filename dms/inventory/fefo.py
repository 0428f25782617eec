"""Expiry and FEFO allocation: the one definition of "expired", and which batches stock is taken from.

A batch is expired when its expiry date is before today in the business time zone: a batch expiring
today can still be sold today. Allocation takes the earliest-expiring batch first (first expired,
first out), batches without an expiry date last, and never an expired one.
"""

from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy import or_, select

from dms.core.errors import InsufficientStock
from dms.core.time import business_today
from dms.extensions import db
from dms.inventory.models import Batch, StockBalance


def _expiry_of(batch_or_date) -> date | None:
    if batch_or_date is None or isinstance(batch_or_date, date):
        return batch_or_date
    return batch_or_date.expiry_date


def is_expired(batch_or_date, on: date | None = None) -> bool:
    """True when the expiry date is before `on` (default: today in the business time zone)."""
    expiry = _expiry_of(batch_or_date)
    return expiry is not None and expiry < (on or business_today())


def near_expiry(batch, days: int = 30, on: date | None = None) -> bool:
    """True when the batch is not expired but expires within `days` days of `on` (default today)."""
    on = on or business_today()
    expiry = _expiry_of(batch)
    return expiry is not None and not is_expired(expiry, on) and expiry <= on + timedelta(days=days)


def not_expired(on: date | None = None):
    """SQL: the batch is not expired on `on` (is_expired's counterpart for queries; join Batch)."""
    return or_(Batch.expiry_date.is_(None), Batch.expiry_date >= (on or business_today()))


def allocatable(warehouse, product, on: date | None = None) -> list[tuple[Batch, int]]:
    """The non-expired batches of `product` in `warehouse` with stock available, in FEFO order."""
    rows = db.session.execute(
        select(Batch, StockBalance.on_hand - StockBalance.reserved)
        .join(StockBalance, StockBalance.batch_id == Batch.id)
        .where(StockBalance.warehouse_id == warehouse.id, StockBalance.product_id == product.id,
               StockBalance.on_hand > StockBalance.reserved, not_expired(on))
        # NULL expiry sorts last on both engines this way; the id breaks ties so the order is fixed
        # (concurrent allocations then touch balance rows in the same order and cannot deadlock).
        .order_by(Batch.expiry_date.is_(None), Batch.expiry_date, Batch.id)
    ).all()
    return [(batch, int(available)) for batch, available in rows]


def allocate(warehouse, product, quantity: int, on: date | None = None) -> list[tuple[Batch, int]]:
    """Split `quantity` over the FEFO batches; raises InsufficientStock when available stock is short.

    Only reads: the caller takes the stock with `services.move`, whose conditional update is the
    guard against a concurrent allocation of the same stock.
    """
    remaining, taken = quantity, []
    candidates = allocatable(warehouse, product, on)
    for batch, available in candidates:
        if remaining <= 0:
            break
        qty = min(available, remaining)
        taken.append((batch, qty))
        remaining -= qty
    if remaining > 0:
        total = sum(available for _batch, available in candidates)
        raise InsufficientStock(
            _("Not enough stock of %(product)s: %(available)d available, %(requested)d requested.",
              product=product.name, available=total, requested=quantity),
            available=total, requested=quantity)
    return taken
