"""Stock: the public interface of the inventory area (DESIGN.md §6, §7).

Every change of a balance goes through `move`, which appends one movement and changes the balance
row with one conditional atomic update: stock cannot go negative, nor reserved above on hand,
whatever runs at the same time. Balances are caches of the ledger; `ledger_differences` recomputes
them. Services flush, never commit.
"""

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import false, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from dms.core.errors import Conflict, Forbidden, InsufficientStock, NotFound, ValidationError
from dms.core.scope import HQ_SCOPE
from dms.core.time import utcnow
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import fefo
from dms.inventory.fefo import is_expired, near_expiry, not_expired  # noqa: F401 - part of the interface
from dms.inventory.models import (
    DEFAULT_BATCH,
    MOVEMENT_KINDS,
    Batch,
    SerialUnit,
    StockBalance,
    StockMovement,
)

WRITE_OFF_REASONS = ("expired", "damaged", "other")
MAX_QUANTITY = 10**9  # far beyond any real stock; keeps sums inside the integer columns
ALLOCATION_ATTEMPTS = 5


# --- permission, scope and warehouses ---------------------------------------------------------

def _require(actor, warehouse: Warehouse | None = None, permission: str = "inventory.manage") -> None:
    """Forbidden without `permission`; NotFound for a warehouse outside the actor's scope."""
    if actor is None:  # the system itself (jobs, commands)
        return
    if not actor.can(permission):
        raise Forbidden()
    if warehouse is not None and not actor.can(HQ_SCOPE) and warehouse.distributor_id != actor.distributor_id:
        raise NotFound()


def hq_warehouse() -> Warehouse:
    """The headquarters warehouse (the first without a distributor); raises NotFound if none."""
    warehouse = db.session.scalars(
        select(Warehouse).where(Warehouse.distributor_id.is_(None)).order_by(Warehouse.id)).first()
    if warehouse is None:
        raise NotFound(_("There is no headquarters warehouse."))
    return warehouse


def warehouse_for(actor, warehouse_id: int | None = None) -> Warehouse:
    """The warehouse `actor` works on: HQ any (default HQ's), a distributor only its own; else NotFound."""
    if actor is None or actor.can(HQ_SCOPE):
        if warehouse_id is None:
            return hq_warehouse()
        warehouse = db.session.get(Warehouse, warehouse_id)
        if warehouse is None:
            raise NotFound()
        return warehouse
    distributor_id = getattr(actor, "distributor_id", None)
    own = None
    if distributor_id is not None:
        own = db.session.scalar(select(Warehouse).where(Warehouse.distributor_id == distributor_id))
    # Another distributor's warehouse answers like a missing one (DESIGN.md §9).
    if own is None or (warehouse_id is not None and warehouse_id != own.id):
        raise NotFound()
    return own


# --- batches ----------------------------------------------------------------------------------

def _insert_ignoring_conflict(model, values: dict, keys: list[str]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: race-safe creation of a row another transaction may create too."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(model.__table__).values(**values).on_conflict_do_nothing(index_elements=keys))


def _clean_code(code) -> str:
    if code is None:
        return DEFAULT_BATCH
    if not isinstance(code, str):
        raise ValidationError(fields={"batch": [_("The batch code must be text.")]})
    code = code.strip()
    if len(code) > 64:
        raise ValidationError(fields={"batch": [_("The batch code can be at most 64 characters.")]})
    return code


def get_or_create_batch(product, code, expiry_date: date | None = None) -> Batch:
    """The product's batch `code` (created when new); ValidationError for a missing code or another expiry.

    Batch- and serial-tracked products need a code; other products use DEFAULT_BATCH when none is
    given (a given code is kept, so a lot number sent with an untracked product is not lost).
    """
    code = _clean_code(code)
    if code == DEFAULT_BATCH:
        if product.tracking in ("batch", "serial"):
            raise ValidationError(fields={"batch": [_("This product is tracked by batch: give a batch code.")]})
        if expiry_date is not None:
            raise ValidationError(fields={"batch": [_("Give a batch code for stock with an expiry date.")]})
    if expiry_date is not None and not isinstance(expiry_date, date):
        raise ValidationError(fields={"expiry_date": [_("A date such as 2026-05-01.")]})
    db.session.flush()
    _insert_ignoring_conflict(Batch, {"product_id": product.id, "code": code, "expiry_date": expiry_date,
                                      "created_at": utcnow()}, ["product_id", "code"])
    batch = db.session.scalar(select(Batch).where(Batch.product_id == product.id, Batch.code == code))
    if expiry_date is not None and batch.expiry_date != expiry_date:
        known = batch.expiry_date.isoformat() if batch.expiry_date else _("none")
        raise ValidationError(fields={"expiry_date": [
            _("Batch %(code)s already has the expiry date %(expiry)s.", code=code, expiry=known)]})
    return batch


# --- the one place balances change -------------------------------------------------------------

def _actor_fields(actor) -> dict:
    if actor is None:
        return {"actor_id": None, "actor_label": "system"}
    label = getattr(actor, "label", None) or getattr(actor, "username", "") or ""
    return {"actor_id": getattr(actor, "id", None), "actor_label": str(label)[:120]}


def _balance_key(warehouse, product, batch):
    return (StockBalance.warehouse_id == warehouse.id, StockBalance.product_id == product.id,
            StockBalance.batch_id == batch.id)


def _ensure_balance(warehouse, product, batch) -> None:
    _insert_ignoring_conflict(StockBalance, {"warehouse_id": warehouse.id, "product_id": product.id,
                                             "batch_id": batch.id, "on_hand": 0, "reserved": 0,
                                             "updated_at": utcnow()},
                              ["warehouse_id", "product_id", "batch_id"])


def begin_stock_write() -> None:
    """Start the write transaction now on SQLite (no-op elsewhere), so what is read next stays true.

    pysqlite runs reads outside a transaction until the first write; a no-op write takes SQLite's
    single writer lock early, and makes savepoints trustworthy (they need a BEGIN before them).
    """
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(update(StockBalance.__table__).where(false()).values(on_hand=StockBalance.on_hand))


def move(actor, *, warehouse, product, batch, kind: str, on_hand_delta: int = 0, reserved_delta: int = 0,
         reason: str = "", source_type: str = "", source_id=None, serial_unit=None) -> StockMovement:
    """Apply one change to a balance and append its movement; InsufficientStock when it would go negative.

    The balance row is created if missing (race-safe), then changed by a single conditional update
    that only matches when the result keeps 0 <= reserved <= on_hand: no read-check-write.
    """
    if kind not in MOVEMENT_KINDS:
        raise ValueError(f"unknown movement kind {kind!r}")
    if not (on_hand_delta or reserved_delta):
        raise ValueError("a movement must change something")
    db.session.flush()
    d1, d2 = int(on_hand_delta), int(reserved_delta)
    # A new row (0, 0) only survives an increase of on hand (a reservation alone needs stock there already):
    # anything else from a missing row fails below anyway, so only then is the row made.
    if d1 > 0 and d2 >= 0:
        _ensure_balance(warehouse, product, batch)
    table = StockBalance.__table__
    result = db.session.execute(
        update(table)
        .where(table.c.warehouse_id == warehouse.id, table.c.product_id == product.id, table.c.batch_id == batch.id,
               table.c.on_hand + d1 >= 0, table.c.reserved + d2 >= 0, table.c.reserved + d2 <= table.c.on_hand + d1)
        .values(on_hand=table.c.on_hand + d1, reserved=table.c.reserved + d2, updated_at=utcnow()))
    if result.rowcount != 1:
        raise InsufficientStock(_("Not enough stock of %(product)s in batch %(batch)s.", product=product.name,
                                  batch=batch.code or _("(no batch)")))
    movement = StockMovement(
        warehouse_id=warehouse.id, product_id=product.id, batch_id=batch.id, kind=kind,
        on_hand_delta=d1, reserved_delta=d2, reason=(reason or "")[:255], source_type=(source_type or "")[:32],
        source_id=None if source_id is None else str(source_id)[:64],
        serial_unit_id=serial_unit.id if serial_unit is not None else None, **_actor_fields(actor))
    db.session.add(movement)
    db.session.flush()
    return movement


def get_balance(warehouse, product, batch) -> StockBalance | None:
    """The balance row as the database has it now (refreshing any copy in the session), or None."""
    return db.session.scalar(select(StockBalance).where(*_balance_key(warehouse, product, batch))
                             .execution_options(populate_existing=True))


# --- operations ---------------------------------------------------------------------------------

def _quantity(value, field: str = "quantity", allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_QUANTITY:
        message = _("A whole number, 0 or more.") if allow_zero else _("A whole number, 1 or more.")
        raise ValidationError(fields={field: [message]})
    return value


@dataclass
class ReceiptLine:
    """One line of a receipt: a product, how many, into which batch; serial products list their serials."""

    product: object
    quantity: int = 0
    batch_code: str | None = None
    expiry_date: date | None = None
    serials: list[str] | None = None


def _line(raw) -> ReceiptLine:
    return raw if isinstance(raw, ReceiptLine) else ReceiptLine(**raw)


def receive(actor, warehouse, lines, reason: str = "", source_type: str = "receipt",
            source_id=None) -> list[StockMovement]:
    """Receive stock lines into `warehouse` (one movement per line, per unit for serials); ValidationError, Conflict."""
    _require(actor, warehouse)
    lines = [_line(raw) for raw in lines]
    if not lines:
        raise ValidationError(fields={"lines": [_("Add at least one line.")]})
    movements = []
    for n, line in enumerate(lines):
        product = line.product
        if product.tracking == "serial":
            serials = [str(s).strip() for s in (line.serials or []) if str(s).strip()]
            if not serials:
                raise ValidationError(fields={f"lines.{n}.serials": [_("List the serial number of each unit.")]})
            if line.quantity and line.quantity != len(serials):
                raise ValidationError(fields={f"lines.{n}.quantity": [_("The quantity must equal the number of "
                                                                        "serial numbers.")]})
            movements.extend(_receive_serials(actor, warehouse, product, line, serials, n, reason, source_type,
                                              source_id))
            continue
        if line.serials:
            raise ValidationError(fields={f"lines.{n}.serials": [_("This product is not tracked by serial number.")]})
        quantity = _quantity(line.quantity, f"lines.{n}.quantity")
        batch = get_or_create_batch(product, line.batch_code, line.expiry_date)
        movements.append(move(actor, warehouse=warehouse, product=product, batch=batch, kind="receipt",
                              on_hand_delta=quantity, reason=reason, source_type=source_type, source_id=source_id))
    return movements


def _receive_serials(actor, warehouse, product, line, serials, n, reason, source_type, source_id):
    """Create one in-stock unit per serial and one movement each; Conflict for a serial already known."""
    if len(set(serials)) != len(serials):
        raise ValidationError(fields={f"lines.{n}.serials": [_("A serial number is listed twice.")]})
    if any(len(s) > 64 for s in serials):
        raise ValidationError(fields={f"lines.{n}.serials": [_("A serial number can be at most 64 characters.")]})
    known = db.session.scalars(select(SerialUnit.serial).where(
        SerialUnit.product_id == product.id, SerialUnit.serial.in_(serials))).all()
    if known:
        raise Conflict(_("Serial numbers already received: %(serials)s", serials=", ".join(sorted(known))),
                       code="duplicate", fields={f"lines.{n}.serials": sorted(known)})
    batch = get_or_create_batch(product, line.batch_code, line.expiry_date)
    units = [SerialUnit(product_id=product.id, serial=s, batch_id=batch.id, warehouse_id=warehouse.id,
                        state="in_stock") for s in serials]
    db.session.add_all(units)
    try:
        db.session.flush()
    except IntegrityError as exc:  # received by a concurrent transaction since the check above
        raise Conflict(_("A serial number was received at the same time by someone else."),
                       code="duplicate") from exc
    return [move(actor, warehouse=warehouse, product=product, batch=batch, kind="receipt", on_hand_delta=1,
                 reason=reason, source_type=source_type, source_id=source_id, serial_unit=unit) for unit in units]


def _move_parts(actor, warehouse, product, allocation, kind, on_hand_delta_sign, reserved_delta_sign, source_type,
                source_id, reason):
    """Move each (batch, quantity) of an allocation."""
    for batch, qty in allocation:
        move(actor, warehouse=warehouse, product=product, batch=batch, kind=kind,
             on_hand_delta=on_hand_delta_sign * qty, reserved_delta=reserved_delta_sign * qty,
             reason=reason, source_type=source_type, source_id=source_id)


def _take_fefo(actor, warehouse, product, quantity, kind, on_hand_delta_sign, reserved_delta_sign,
               source_type, source_id, reason=""):
    """Allocate FEFO and move each part; if a concurrent writer took the stock meanwhile, allocate again.

    An attempt only fails after another transaction committed a take of this stock, so the retries
    are bounded by the contention; once the stock is really short, `allocate` raises.
    """
    begin_stock_write()
    for attempt in range(1, ALLOCATION_ATTEMPTS + 1):
        allocation = fefo.allocate(warehouse, product, quantity)
        try:
            if len(allocation) == 1:
                # One conditional update: when it loses the race it changed nothing, so no savepoint is needed.
                _move_parts(actor, warehouse, product, allocation, kind, on_hand_delta_sign, reserved_delta_sign,
                            source_type, source_id, reason)
                return allocation
            # A savepoint: a failed attempt leaves no half-taken allocation behind.
            with db.session.begin_nested():
                _move_parts(actor, warehouse, product, allocation, kind, on_hand_delta_sign, reserved_delta_sign,
                            source_type, source_id, reason)
            return allocation
        except InsufficientStock:
            if attempt == ALLOCATION_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def reserve(actor, warehouse, product, quantity: int, source_type: str, source_id) -> list[tuple[Batch, int]]:
    """Reserve `quantity` for a document, FEFO across batches; InsufficientStock (nothing reserved) when short.

    The document's own service checks who may do this (an order placed by an integration client
    reserves stock without the client managing inventory).
    """
    quantity = _quantity(quantity)
    return _take_fefo(actor, warehouse, product, quantity, "reserve", 0, 1, source_type, source_id)


def held_by(warehouse, product, source_type: str, source_id) -> list[tuple[Batch, int]]:
    """What a document still holds reserved, per batch in FEFO order (from the ledger)."""
    held = func.sum(StockMovement.reserved_delta)
    rows = db.session.execute(
        select(Batch, held).join(StockMovement, StockMovement.batch_id == Batch.id)
        .where(StockMovement.warehouse_id == warehouse.id, StockMovement.product_id == product.id,
               StockMovement.source_type == source_type, StockMovement.source_id == str(source_id))
        .group_by(Batch.id).having(held > 0)
        .order_by(Batch.expiry_date.is_(None), Batch.expiry_date, Batch.id)).all()
    return [(batch, int(qty)) for batch, qty in rows]


def _from_held(warehouse, product, quantity, source_type, source_id) -> list[tuple[Batch, int]]:
    held = held_by(warehouse, product, source_type, source_id)
    total = sum(q for _b, q in held)
    if quantity is None:
        return held
    quantity = _quantity(quantity)
    if quantity > total:
        raise Conflict(_("Only %(held)d of %(product)s are reserved for this document.", held=total,
                         product=product.name))
    parts, remaining = [], quantity
    for batch, qty in held:
        if remaining <= 0:
            break
        parts.append((batch, min(qty, remaining)))
        remaining -= min(qty, remaining)
    return parts


def release(actor, warehouse, product, quantity: int | None, source_type: str, source_id,
            reason: str = "") -> list[tuple[Batch, int]]:
    """Release what a document reserved (all of it when `quantity` is None); Conflict if it holds less."""
    begin_stock_write()
    parts = _from_held(warehouse, product, quantity, source_type, source_id)
    for batch, qty in parts:
        move(actor, warehouse=warehouse, product=product, batch=batch, kind="release", reserved_delta=-qty,
             reason=reason, source_type=source_type, source_id=source_id)
    return parts


def issue(actor, warehouse, product, quantity: int | None, source_type: str, source_id, *,
          from_reserved: bool = True, reason: str = "", kind: str = "issue") -> list[tuple[Batch, int]]:
    """Take stock out: what the document reserved (all when `quantity` is None), or directly by FEFO.

    Raises Conflict when the document holds less than asked, InsufficientStock when stock is short.
    """
    if from_reserved:
        begin_stock_write()
        parts = _from_held(warehouse, product, quantity, source_type, source_id)
        for batch, qty in parts:
            units = _take_units(warehouse, product, batch, qty, "sold") if product.tracking == "serial" else [None]
            for unit in units:
                n = qty if unit is None else 1
                move(actor, warehouse=warehouse, product=product, batch=batch, kind=kind, on_hand_delta=-n,
                     reserved_delta=-n, reason=reason, source_type=source_type, source_id=source_id,
                     serial_unit=unit)
        return parts
    return _take_fefo(actor, warehouse, product, _quantity(quantity), kind, -1, 0, source_type, source_id, reason)


def _take_units(warehouse, product, batch, quantity: int, state: str) -> list[SerialUnit]:
    """Move `quantity` in-stock units of a batch out of the warehouse into `state`, oldest first.

    Each unit is taken with a conditional update, so a unit a concurrent transaction took is skipped
    and another one taken; InsufficientStock when fewer units than asked are in stock.
    """
    taken = []
    candidates = db.session.scalars(select(SerialUnit.id).where(
        SerialUnit.product_id == product.id, SerialUnit.batch_id == batch.id, SerialUnit.warehouse_id == warehouse.id,
        SerialUnit.state == "in_stock").order_by(SerialUnit.id)).all()
    for unit_id in candidates:
        if len(taken) == quantity:
            break
        result = db.session.execute(update(SerialUnit).where(SerialUnit.id == unit_id, SerialUnit.state == "in_stock")
                                    .values(state=state, warehouse_id=None))
        if result.rowcount == 1:
            taken.append(unit_id)
    if len(taken) < quantity:
        raise InsufficientStock(_("Not enough units of %(product)s in stock in batch %(batch)s.",
                                  product=product.name, batch=batch.code))
    return list(db.session.scalars(select(SerialUnit).where(SerialUnit.id.in_(taken))
                                   .order_by(SerialUnit.id).execution_options(populate_existing=True)))


def issued_to(warehouse, product, source_type: str, source_id) -> list[tuple[Batch, int]]:
    """What a document took out of the warehouse and has not returned, per batch (from the ledger)."""
    out = func.sum(StockMovement.on_hand_delta)
    rows = db.session.execute(
        select(Batch, out).join(StockMovement, StockMovement.batch_id == Batch.id)
        .where(StockMovement.warehouse_id == warehouse.id, StockMovement.product_id == product.id,
               StockMovement.source_type == source_type, StockMovement.source_id == str(source_id),
               StockMovement.kind.in_(("issue", "return")))
        .group_by(Batch.id).having(out < 0).order_by(Batch.id)).all()
    return [(batch, -int(qty)) for batch, qty in rows]


def return_stock(actor, warehouse, product, source_type: str, source_id, reason: str = "") -> list[tuple[Batch, int]]:
    """Put back everything a document issued and has not returned (a refund restocked): "return" movements.

    Serial units the document sold come back in stock one by one.
    """
    begin_stock_write()
    parts = issued_to(warehouse, product, source_type, source_id)
    for batch, qty in parts:
        if product.tracking == "serial":
            sold = db.session.scalars(select(SerialUnit)
                                      .join(StockMovement, StockMovement.serial_unit_id == SerialUnit.id)
                                      .where(StockMovement.source_type == source_type,
                                             StockMovement.source_id == str(source_id),
                                             StockMovement.kind == "issue", StockMovement.batch_id == batch.id,
                                             SerialUnit.state == "sold").order_by(SerialUnit.id)).unique().all()
            for unit in sold[:qty]:
                unit.state, unit.warehouse_id = "in_stock", warehouse.id
                move(actor, warehouse=warehouse, product=product, batch=batch, kind="return", on_hand_delta=1,
                     reason=reason, source_type=source_type, source_id=source_id, serial_unit=unit)
        else:
            move(actor, warehouse=warehouse, product=product, batch=batch, kind="return", on_hand_delta=qty,
                 reason=reason, source_type=source_type, source_id=source_id)
    return parts


def write_off(actor, warehouse, product, batch, quantity: int, reason: str, note: str = "",
              source_type: str = "write_off", source_id=None) -> StockMovement:
    """Write off unreserved stock of one batch (reason expired, damaged or other with a note); InsufficientStock."""
    _require(actor, warehouse)
    quantity = _quantity(quantity)
    note = (note or "").strip()
    if reason not in WRITE_OFF_REASONS:
        raise ValidationError(fields={"reason": [_("Choose a reason: expired, damaged or other.")]})
    if reason == "other" and not note:
        raise ValidationError(fields={"note": [_("Say why the stock is written off.")]})
    text = f"{reason}: {note}" if note else reason
    return move(actor, warehouse=warehouse, product=product, batch=batch, kind="write_off",
                on_hand_delta=-quantity, reason=text, source_type=source_type, source_id=source_id)


def write_off_unit(actor, unit: SerialUnit, reason: str, note: str = "") -> StockMovement:
    """Write off one serial unit in stock (state written_off, one movement); Conflict if it is not in stock.

    The unit's state changes with one conditional update, so a unit taken by a transfer or a sale at
    the same moment cannot also be written off.
    """
    warehouse = db.session.get(Warehouse, unit.warehouse_id) if unit.warehouse_id else None
    if warehouse is None:
        raise Conflict(_("This unit is not in a warehouse: only units in stock can be written off."))
    _require(actor, warehouse)
    note = (note or "").strip()
    if reason not in WRITE_OFF_REASONS:
        raise ValidationError(fields={"reason": [_("Choose a reason: expired, damaged or other.")]})
    if reason == "other" and not note:
        raise ValidationError(fields={"note": [_("Say why the stock is written off.")]})
    begin_stock_write()
    taken = db.session.execute(update(SerialUnit).where(SerialUnit.id == unit.id, SerialUnit.state == "in_stock")
                               .values(state="written_off"))
    if taken.rowcount != 1:
        raise Conflict(_("Serial unit %(serial)s is not in stock.", serial=unit.serial))
    db.session.refresh(unit)
    text = f"{reason}: {note}" if note else reason
    return move(actor, warehouse=warehouse, product=unit.product, batch=unit.batch, kind="write_off",
                on_hand_delta=-1, reason=text, source_type="write_off", serial_unit=unit)


def set_count(actor, warehouse, product, batch_code, stock: int, expiry_date: date | None = None,
              source_type: str = "count", source_id=None, reason: str = "count"):
    """Set the counted stock of a batch; the difference is one "count" movement (none when equal).

    Returns (balance, movement or None). Conflict when the count is below what is reserved.
    The balance row is locked while the difference is computed, so two counts at once cannot both
    add the same difference.
    """
    _require(actor, warehouse)
    stock = _quantity(stock, "stock", allow_zero=True)
    if product.tracking == "serial":
        raise ValidationError(fields={"stock": [_("Serial units are counted one by one, not by quantity.")]})
    batch = get_or_create_batch(product, batch_code, expiry_date)
    _ensure_balance(warehouse, product, batch)  # on SQLite this write also takes the writer lock
    balance = db.session.scalar(select(StockBalance).where(*_balance_key(warehouse, product, batch))
                                .with_for_update(of=StockBalance).execution_options(populate_existing=True))
    if stock < balance.reserved:
        raise Conflict(_("%(reserved)d are reserved: the count cannot be lower.", reserved=balance.reserved),
                       fields={"stock": [_("At least %(reserved)d (reserved).", reserved=balance.reserved)]})
    difference = stock - balance.on_hand
    if difference == 0:
        return balance, None
    movement = move(actor, warehouse=warehouse, product=product, batch=batch, kind="count",
                    on_hand_delta=difference, reason=reason, source_type=source_type, source_id=source_id)
    return get_balance(warehouse, product, batch), movement


# --- reading --------------------------------------------------------------------------------------

def stock_of(product, warehouse=None, include_empty: bool = False) -> list[StockBalance]:
    """The product's balances (in one warehouse or all), by warehouse then FEFO order."""
    stmt = (select(StockBalance).join(StockBalance.batch).where(StockBalance.product_id == product.id)
            .order_by(StockBalance.warehouse_id, Batch.expiry_date.is_(None), Batch.expiry_date, Batch.id))
    if warehouse is not None:
        stmt = stmt.where(StockBalance.warehouse_id == warehouse.id)
    if not include_empty:
        stmt = stmt.where((StockBalance.on_hand > 0) | (StockBalance.reserved > 0))
    return list(db.session.scalars(stmt.execution_options(populate_existing=True)).unique())


def available_of(product, warehouse) -> int:
    """What can be allocated now: available stock of non-expired batches."""
    return sum(qty for _batch, qty in fefo.allocatable(warehouse, product))


def serial_history(unit: SerialUnit) -> list[StockMovement]:
    """Every movement of one serial unit, oldest first."""
    return list(db.session.scalars(select(StockMovement).where(StockMovement.serial_unit_id == unit.id)
                                   .order_by(StockMovement.at, StockMovement.id)).unique())


@dataclass(frozen=True)
class LedgerDifference:
    """A balance whose cached quantities differ from the sums of its movements."""

    warehouse_id: int
    product_id: int
    batch_id: int
    on_hand: int
    reserved: int
    ledger_on_hand: int
    ledger_reserved: int


def ledger_differences() -> list[LedgerDifference]:
    """Every balance (or movement group without a balance) whose quantities differ from the ledger's sums."""
    sums = db.session.execute(
        select(StockMovement.warehouse_id, StockMovement.product_id, StockMovement.batch_id,
               func.sum(StockMovement.on_hand_delta), func.sum(StockMovement.reserved_delta))
        .group_by(StockMovement.warehouse_id, StockMovement.product_id, StockMovement.batch_id)).all()
    ledger = {(w, p, b): (int(on_hand or 0), int(reserved or 0)) for w, p, b, on_hand, reserved in sums}
    balances = db.session.execute(select(StockBalance.warehouse_id, StockBalance.product_id,
                                         StockBalance.batch_id, StockBalance.on_hand, StockBalance.reserved)).all()
    cached = {(w, p, b): (on_hand, reserved) for w, p, b, on_hand, reserved in balances}
    differences = []
    for key in sorted(set(ledger) | set(cached)):
        have, expected = cached.get(key, (0, 0)), ledger.get(key, (0, 0))
        if have != expected:
            differences.append(LedgerDifference(*key, *have, *expected))
    return differences
