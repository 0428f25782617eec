"""Read-only queries of the stock pages: stock per product, balances per batch, the ledger, serial units.

Every query starts from the warehouses the actor may see (DESIGN.md §9); expiry is judged with
`fefo.not_expired`, the one SQL counterpart of `fefo.is_expired`.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, case, exists, false, func, or_, select, true

from dms.catalog.models import Product
from dms.core.errors import NotFound
from dms.core.scope import HQ_SCOPE, scoped
from dms.core.time import business_today
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory.fefo import not_expired
from dms.inventory.models import Batch, SerialUnit, StockBalance, StockMovement, WarehouseThreshold
from dms.inventory.thresholds import thresholds_for

SERIAL_SEARCH_LIMIT = 50


def near_expiry_days() -> int:
    """How many days ahead a batch counts as near expiry (NEAR_EXPIRY_DAYS, default 30)."""
    return int(current_app.config.get("NEAR_EXPIRY_DAYS", 30))


def expired(on: date):
    """SQL: the batch is expired on `on` (join Batch)."""
    return ~not_expired(on)


def near(on: date, days: int):
    """SQL: the batch is not expired on `on` but expires within `days` days (join Batch)."""
    return and_(Batch.expiry_date.is_not(None), Batch.expiry_date >= on, Batch.expiry_date <= on + timedelta(days=days))


def visible_warehouses(actor) -> list[Warehouse]:
    """The warehouses `actor` may see: HQ's first, then the distributors' by name."""
    stmt = select(Warehouse).order_by(Warehouse.distributor_id.is_not(None), Warehouse.name, Warehouse.id)
    return list(db.session.scalars(scoped(stmt, Warehouse.distributor_id, actor)))


def visible_warehouse_ids(actor):
    """SQL: the ids of the warehouses `actor` may see (for IN clauses)."""
    return scoped(select(Warehouse.id), Warehouse.distributor_id, actor)


def get_product(product_id: int) -> Product:
    """A product by id; NotFound when there is none."""
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound()
    return product


def product_choices() -> list[tuple[int, str]]:
    """Every product as (id, "name (SKU)"), by name, for the stock forms' selects."""
    rows = db.session.execute(select(Product.id, Product.name, Product.sku).order_by(Product.name, Product.id)).all()
    return [(pid, f"{name} ({sku})") for pid, name, sku in rows]


# --- stock per product ------------------------------------------------------------------------------

@dataclass
class StockRow:
    """One product's stock in one warehouse, summed over its batches."""

    product: Product
    on_hand: int = 0
    reserved: int = 0
    available: int = 0  # on hand minus reserved, in batches that are not expired
    expired: int = 0  # on hand in expired batches: on the shelf, but not available
    near_expiry: bool = False
    next_expiry: date | None = None
    threshold: int = 0

    @property
    def low(self) -> bool:
        return self.available < self.threshold


def _figures(warehouse, on: date, days: int):
    """Per product of `warehouse`: on hand, reserved, available, expired, near expiry, next expiry date."""
    gone = expired(on)
    return (
        select(StockBalance.product_id.label("product_id"),
               func.sum(StockBalance.on_hand).label("on_hand"),
               func.sum(StockBalance.reserved).label("reserved"),
               func.sum(case((gone, 0), else_=StockBalance.on_hand - StockBalance.reserved)).label("available"),
               func.sum(case((gone, StockBalance.on_hand), else_=0)).label("expired"),
               func.max(case((and_(near(on, days), StockBalance.on_hand > 0), 1), else_=0)).label("near"),
               func.min(case((and_(~gone, StockBalance.on_hand > 0), Batch.expiry_date))).label("next_expiry"))
        .join(Batch, Batch.id == StockBalance.batch_id)
        .where(StockBalance.warehouse_id == warehouse.id)
        .group_by(StockBalance.product_id))


@dataclass
class StockQuery:
    """The products of the stock overview and the columns its filters and sorts use."""

    stmt: object
    on_hand: object
    available: object
    near: object
    threshold: object


def stock_query(warehouse, on: date | None = None, days: int | None = None) -> StockQuery:
    """Products stocked in `warehouse`, with a threshold of their own there, or available in the catalog.

    The threshold column mirrors `thresholds.thresholds_for` (the override, else the product's) so the
    low-stock filter can run in SQL; the page shows the figures of `stock_rows`.
    """
    on, days = on or business_today(), near_expiry_days() if days is None else days
    fig = _figures(warehouse, on, days).subquery()
    threshold = func.coalesce(WarehouseThreshold.threshold, Product.low_stock_threshold)
    stmt = (select(Product)
            .outerjoin(fig, fig.c.product_id == Product.id)
            .outerjoin(WarehouseThreshold, and_(WarehouseThreshold.product_id == Product.id,
                                                WarehouseThreshold.warehouse_id == warehouse.id))
            .where(or_(fig.c.product_id.is_not(None), WarehouseThreshold.id.is_not(None),
                       Product.status == "available")))
    return StockQuery(stmt=stmt, on_hand=func.coalesce(fig.c.on_hand, 0),
                      available=func.coalesce(fig.c.available, 0), near=func.coalesce(fig.c.near, 0),
                      threshold=threshold)


def stock_rows(warehouse, products, on: date | None = None, days: int | None = None) -> list[StockRow]:
    """The stock of each of `products` in `warehouse` (in their order), with the threshold in force."""
    products = list(products)
    if not products:
        return []
    on, days = on or business_today(), near_expiry_days() if days is None else days
    fig = _figures(warehouse, on, days).where(StockBalance.product_id.in_([p.id for p in products]))
    figures = {row.product_id: row for row in db.session.execute(fig)}
    thresholds = thresholds_for(warehouse, products)
    rows = []
    for product in products:
        f = figures.get(product.id)
        row = StockRow(product=product, threshold=thresholds[product.id])
        if f is not None:
            row.on_hand, row.reserved = int(f.on_hand or 0), int(f.reserved or 0)
            row.available, row.expired = int(f.available or 0), int(f.expired or 0)
            row.near_expiry, row.next_expiry = bool(f.near), f.next_expiry
        rows.append(row)
    return rows


# --- balances per batch -------------------------------------------------------------------------------

def batches_query(actor):
    """Balances with stock (on hand or reserved) in the actor's warehouses, joined to batch and product."""
    return (select(StockBalance)
            .join(Batch, Batch.id == StockBalance.batch_id)
            .join(Product, Product.id == StockBalance.product_id)
            .join(Warehouse, Warehouse.id == StockBalance.warehouse_id)
            .where(StockBalance.warehouse_id.in_(visible_warehouse_ids(actor)),
                   or_(StockBalance.on_hand > 0, StockBalance.reserved > 0)))


def expiry_state(stmt, state: str, on: date | None = None, days: int | None = None):
    """Narrow a batches select to "expired", "near" (expiry) or "ok" batches; another value matches none."""
    on, days = on or business_today(), near_expiry_days() if days is None else days
    if state == "expired":
        return stmt.where(expired(on))
    if state == "near":
        return stmt.where(near(on, days))
    if state == "ok":
        return stmt.where(or_(Batch.expiry_date.is_(None), Batch.expiry_date > on + timedelta(days=days)))
    return stmt.where(false())


def write_off_choices(warehouse, product) -> list[tuple[StockBalance, bool]]:
    """The product's balances in `warehouse` with unreserved stock, FEFO order, each with whether it is expired."""
    on = business_today()
    rows = db.session.execute(
        select(StockBalance, expired(on)).join(Batch, Batch.id == StockBalance.batch_id)
        .where(StockBalance.warehouse_id == warehouse.id, StockBalance.product_id == product.id,
               StockBalance.on_hand > StockBalance.reserved)
        .order_by(Batch.expiry_date.is_(None), Batch.expiry_date, Batch.id)
        .execution_options(populate_existing=True)).unique().all()
    return [(balance, bool(gone)) for balance, gone in rows]


# --- the ledger -----------------------------------------------------------------------------------

def _in_visible_warehouses(actor):
    """SQL: the movement is in one of the actor's warehouses.

    HQ sees every warehouse, so no condition at all; a distributor's few warehouse ids are read first and
    given as values, so the planner walks the (warehouse_id, id) index instead of joining warehouses.
    """
    if actor is not None and actor.can(HQ_SCOPE):
        return true()
    return StockMovement.warehouse_id.in_(list(db.session.scalars(visible_warehouse_ids(actor))))


def movements_query(actor):
    """Movements in the actor's warehouses."""
    return select(StockMovement).where(_in_visible_warehouses(actor))


def source_types(actor) -> list[str]:
    """The kinds of source document the actor's movements name, for the movements filter.

    A loose index scan (each step the next source type after the last, by index) rather than DISTINCT,
    which would read all of the millions of movements.
    """
    where = _in_visible_warehouses(actor)

    def after(previous):
        """SQL: the first source type after `previous` (NULL past the last), one index probe."""
        return (select(func.min(StockMovement.source_type))
                .where(where, StockMovement.source_type > previous).scalar_subquery())

    found = select(after("").label("source_type")).cte("source_types", recursive=True)
    found = found.union_all(select(after(found.c.source_type)).where(found.c.source_type.is_not(None)))
    return list(db.session.scalars(select(found.c.source_type).where(found.c.source_type.is_not(None))
                                   .order_by(found.c.source_type)))


# --- serial units ----------------------------------------------------------------------------------

def _seen_by(actor):
    """SQL: the serial unit is (or was once) in one of the actor's warehouses."""
    if actor.can(HQ_SCOPE):
        return true()
    ids = visible_warehouse_ids(actor)
    return or_(SerialUnit.warehouse_id.in_(ids),
               exists().where(StockMovement.serial_unit_id == SerialUnit.id, StockMovement.warehouse_id.in_(ids)))


def serial_unit_for(actor, unit_id: int) -> SerialUnit:
    """A serial unit the actor may see (HQ any; a distributor one that is or was in its warehouse); else NotFound."""
    unit = db.session.scalar(select(SerialUnit).where(SerialUnit.id == unit_id, _seen_by(actor)))
    if unit is None:
        raise NotFound()
    return unit


def find_serials(actor, q: str) -> list[SerialUnit]:
    """Serial units whose serial contains `q` (exact matches first), within what the actor may see."""
    from dms.core.listing import contains_pattern

    q = (q or "").strip()[:64]
    if not q:
        return []
    stmt = (select(SerialUnit).where(SerialUnit.serial.ilike(contains_pattern(q), escape="\\"), _seen_by(actor))
            .order_by((SerialUnit.serial != q), SerialUnit.serial, SerialUnit.id).limit(SERIAL_SEARCH_LIMIT))
    return list(db.session.scalars(stmt))


def visible_history(actor, movements) -> list[StockMovement]:
    """The movements of a serial unit's history the actor may see: HQ all, a distributor its warehouse's."""
    if actor.can(HQ_SCOPE):
        return list(movements)
    ids = set(db.session.scalars(visible_warehouse_ids(actor)))
    return [m for m in movements if m.warehouse_id in ids]
