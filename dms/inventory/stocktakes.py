"""Stocktaking (盘点): open a count with expected quantities snapshotted, enter counts, post the differences.

A count is a document of one warehouse. Opening it copies every batch balance with stock on hand
(`expected`); people then enter what they find (`counted`). Posting applies, per line, one "count"
movement of `counted - expected`: the counted quantities refer to the moment the count was opened,
so receipts, reservations and issues booked while people were counting are kept, not overwritten.
Serial-tracked products are counted unit by unit, never by quantity, and are not part of a stocktake.

Lines left uncounted block posting unless the poster says to keep them as booked (no movement).
Every change of the stocktake first takes its row with a conditional update on its status, so a
count saved while someone posts, or two posts at once, are serialised by the database (DESIGN.md §7).
"""

from datetime import date

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from dms.catalog.models import Product
from dms.core import audit
from dms.core.errors import Conflict, InvalidTransition, NotFound, ValidationError
from dms.core.scope import scoped
from dms.core.time import utcnow
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import services
from dms.inventory.models import Batch, StockBalance, Stocktake, StocktakeLine

STATUS_LABELS = {"open": _l("Counting"), "posted": _l("Posted"), "cancelled": _l("Cancelled")}


def status_label(status: str) -> str:
    """The status in the reader's language."""
    return str(STATUS_LABELS.get(status, status))


# --- reading ------------------------------------------------------------------------------------

def stocktakes_query(actor):
    """A select of the stocktakes `actor` may see (HQ all, a distributor its own warehouse's), newest first."""
    stmt = select(Stocktake).join(Stocktake.warehouse)
    return scoped(stmt, Warehouse.distributor_id, actor)


def get_stocktake(actor, stocktake_id: int) -> Stocktake:
    """One stocktake within the actor's scope; NotFound otherwise (another distributor's too)."""
    services._require(actor, permission="inventory.view")
    stocktake = db.session.scalar(stocktakes_query(actor).where(Stocktake.id == stocktake_id))
    if stocktake is None:
        raise NotFound()
    return stocktake


def open_stocktake_of(warehouse) -> Stocktake | None:
    """The warehouse's open stocktake, if any."""
    return db.session.scalar(select(Stocktake).where(Stocktake.warehouse_id == warehouse.id,
                                                     Stocktake.status == "open"))


def sorted_lines(stocktake: Stocktake) -> list[StocktakeLine]:
    """The lines grouped by product (by name), then batch in FEFO order."""
    def key(line):
        expiry = line.batch.expiry_date
        return (line.product.name, line.product_id, expiry is None, expiry or date.min, line.batch.code, line.id)
    return sorted(stocktake.lines, key=key)


def difference_of(line: StocktakeLine) -> int | None:
    """Counted minus expected (negative: missing), None while uncounted."""
    return None if line.counted is None else line.counted - line.expected


def differences(stocktake: Stocktake) -> tuple[list[StocktakeLine], list[StocktakeLine]]:
    """(lines counted differently from expected, lines not counted yet), each grouped by product."""
    lines = sorted_lines(stocktake)
    return ([line for line in lines if line.counted is not None and line.counted != line.expected],
            [line for line in lines if line.counted is None])


def current_balances(stocktake: Stocktake) -> dict[int, StockBalance]:
    """The balance rows of the stocktake's lines as they are now, by line id (for the review)."""
    rows = db.session.scalars(select(StockBalance).where(StockBalance.warehouse_id == stocktake.warehouse_id)
                              .execution_options(populate_existing=True)).unique()
    by_key = {(b.product_id, b.batch_id): b for b in rows}
    return {line.id: by_key.get((line.product_id, line.batch_id)) for line in stocktake.lines}


# --- changing -----------------------------------------------------------------------------------

def _take_open(stocktake: Stocktake, values: dict | None = None) -> None:
    """Lock the stocktake's row while it is open (applying `values`); InvalidTransition once it is not.

    A conditional update rather than a read: it waits for a concurrent post or cancel to finish and
    then sees its result, on PostgreSQL by the row lock, on SQLite by the single writer lock.
    """
    table = Stocktake.__table__
    result = db.session.execute(update(table).where(table.c.id == stocktake.id, table.c.status == "open")
                                .values(**(values or {"status": "open"})))
    if result.rowcount != 1:
        db.session.refresh(stocktake)
        raise InvalidTransition(_("This stocktake is %(status)s: it cannot be changed any more.",
                                  status=status_label(stocktake.status)))
    if values:
        db.session.refresh(stocktake)


def _reload_lines(stocktake: Stocktake) -> None:
    """Read the lines again from the database (saved by other requests since this one loaded them)."""
    db.session.scalars(select(StocktakeLine).where(StocktakeLine.stocktake_id == stocktake.id)
                       .execution_options(populate_existing=True)).all()
    db.session.refresh(stocktake, attribute_names=["lines"])


def _counted(value, field: str) -> int | None:
    if value is None:
        return None
    return services._quantity(value, field, allow_zero=True)


def open_stocktake(actor, warehouse, note: str = "") -> Stocktake:
    """Open a count of `warehouse`, snapshotting every batch balance on hand; Conflict if one is open already."""
    services._require(actor, warehouse)
    note = (note or "").strip()
    if len(note) > 255:
        raise ValidationError(fields={"note": [_("At most 255 characters.")]})
    services.begin_stock_write()
    if open_stocktake_of(warehouse) is not None:
        raise Conflict(_("A stocktake of %(warehouse)s is open already: finish or cancel it first.",
                         warehouse=warehouse.name), fields={"warehouse_id": [_("A count is open already.")]})
    name = warehouse.name  # read now: after a failed flush the session cannot load anything
    stocktake = Stocktake(warehouse_id=warehouse.id, status="open", note=note, opened_at=utcnow(),
                          opened_by_id=getattr(actor, "id", None))
    db.session.add(stocktake)
    try:
        db.session.flush()
    except IntegrityError as exc:  # the partial unique index: opened by someone else meanwhile
        raise Conflict(_("A stocktake of %(warehouse)s was opened at the same time by someone else.",
                         warehouse=name), fields={"warehouse_id": [_("A count is open already.")]}) from exc
    # One statement reads all balances, so the snapshot is of one moment.
    rows = db.session.execute(
        select(StockBalance.product_id, StockBalance.batch_id, StockBalance.on_hand)
        .join(Product, Product.id == StockBalance.product_id)
        .where(StockBalance.warehouse_id == warehouse.id, StockBalance.on_hand > 0, Product.tracking != "serial")
    ).all()
    db.session.add_all([StocktakeLine(stocktake_id=stocktake.id, product_id=p, batch_id=b, expected=on_hand)
                        for p, b, on_hand in rows])
    db.session.flush()
    db.session.refresh(stocktake)
    audit.record("stocktake.opened", "stocktake", stocktake.id,
                 summary=f"{warehouse.name}: {len(rows)} lines", actor=actor)
    return stocktake


def record_counts(actor, stocktake: Stocktake, counts: dict) -> list[StocktakeLine]:
    """Set counted quantities {line_id: counted or None (not counted)}; ValidationError names bad lines.

    Nothing is saved when one value is refused; InvalidTransition once the stocktake is not open.
    """
    services._require(actor, stocktake.warehouse)
    lines = {line.id: line for line in stocktake.lines}
    errors, cleaned = {}, {}
    for line_id, value in counts.items():
        field = f"counted-{line_id}"
        if line_id not in lines:
            errors[field] = [_("This line is not part of the stocktake.")]
            continue
        try:
            cleaned[line_id] = _counted(value, field)
        except ValidationError as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationError(fields=errors)
    _take_open(stocktake)
    for line_id, value in cleaned.items():
        lines[line_id].counted = value
    db.session.flush()
    return [lines[line_id] for line_id in cleaned]


def add_line(actor, stocktake: Stocktake, product, batch_code, expiry_date: date | None, counted) -> StocktakeLine:
    """Add stock found that the books did not list at opening (expected 0); ValidationError, Conflict."""
    services._require(actor, stocktake.warehouse)
    if product is None:
        raise ValidationError(fields={"sku": [_("No product has this SKU.")]})
    if product.tracking == "serial":
        raise ValidationError(fields={"sku": [_("Serial units are counted one by one, not by quantity.")]})
    counted = _counted(counted, "counted")
    if counted is None:
        raise ValidationError(fields={"counted": [_("Enter the quantity found.")]})
    _take_open(stocktake)
    batch = services.get_or_create_batch(product, batch_code, expiry_date)
    existing = db.session.scalar(select(StocktakeLine).where(
        StocktakeLine.stocktake_id == stocktake.id, StocktakeLine.product_id == product.id,
        StocktakeLine.batch_id == batch.id))
    if existing is not None:
        raise Conflict(_("%(product)s batch %(batch)s is on the list already: enter its count there.",
                         product=product.name, batch=batch.code or _("(no batch)")),
                       fields={"batch_code": [_("Already on the list.")]})
    line = StocktakeLine(stocktake_id=stocktake.id, product_id=product.id, batch_id=batch.id, expected=0,
                         counted=counted)
    db.session.add(line)
    db.session.flush()
    db.session.refresh(stocktake)
    return line


def post_stocktake(actor, stocktake: Stocktake, keep_uncounted: bool = False) -> list[StocktakeLine]:
    """Post every difference as one "count" movement, all or nothing; returns the lines that moved.

    Uncounted lines raise ValidationError unless `keep_uncounted` (they stay as booked, no movement).
    InsufficientStock when an adjustment would take stock below zero or below what is reserved now;
    InvalidTransition when the stocktake is not open (posted twice, cancelled).
    """
    services._require(actor, stocktake.warehouse)
    _take_open(stocktake)
    _reload_lines(stocktake)  # the counts as they are now that no one else can change them
    changed, uncounted = differences(stocktake)
    if uncounted and not keep_uncounted:
        raise ValidationError(
            _("%(count)d lines are not counted: count them, or choose to keep them as booked.", count=len(uncounted)),
            fields={"keep_uncounted": [_("%(count)d lines are not counted.", count=len(uncounted))]})
    _take_open(stocktake, {"status": "posted", "closed_at": utcnow(), "closed_by_id": getattr(actor, "id", None)})
    warehouse = stocktake.warehouse
    batches = {b.id: b for b in db.session.scalars(select(Batch).where(
        Batch.id.in_([line.batch_id for line in changed])))} if changed else {}
    for line in changed:
        movement = services.move(actor, warehouse=warehouse, product=line.product, batch=batches[line.batch_id],
                                 kind="count", on_hand_delta=line.counted - line.expected,
                                 reason="stocktake", source_type="stocktake",
                                 source_id=stocktake.id)
        line.movement_id = movement.id
    db.session.flush()
    audit.record("stocktake.posted", "stocktake", stocktake.id,
                 summary=f"{warehouse.name}: {len(changed)} adjustments, {len(uncounted)} kept uncounted",
                 changes={str(line.id): [line.expected, line.counted] for line in changed}, actor=actor)
    return changed


def cancel_stocktake(actor, stocktake: Stocktake) -> Stocktake:
    """Cancel an open stocktake without changing stock; InvalidTransition when it is not open."""
    services._require(actor, stocktake.warehouse)
    _take_open(stocktake, {"status": "cancelled", "closed_at": utcnow(), "closed_by_id": getattr(actor, "id", None)})
    audit.record("stocktake.cancelled", "stocktake", stocktake.id, summary=stocktake.warehouse.name, actor=actor)
    return stocktake
