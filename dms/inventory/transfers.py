"""Transfers (调拨): stock issued FEFO from one warehouse, in transit, confirmed by the receiving warehouse.

A transfer takes its stock out of the source at once (one `transfer_out` movement per batch part, one
per serial unit), so stock in transit belongs to no warehouse; receiving puts what arrived into the
same batches at the destination (`transfer_in`), and what did not arrive stays recorded on the item as
the difference. Cancelling while in transit puts everything back into the source. Services flush,
never commit.
"""

from dataclasses import dataclass, field

from flask import current_app, has_app_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import exists, or_, select, update

from dms.accounts.models import RolePermission, User, user_roles
from dms.core import audit
from dms.core.errors import Forbidden, InsufficientStock, InvalidTransition, NotFound, ValidationError
from dms.core.scope import HQ_SCOPE
from dms.core.services import notify
from dms.core.time import utcnow
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import fefo, services
from dms.inventory.models import Batch, SerialUnit, Transfer, TransferItem

SOURCE = "transfer"
MANAGE = "inventory.manage"


@dataclass
class TransferLine:
    """One product to send: how many, and for serial products optionally which units (by serial)."""

    product: object
    quantity: int = 0
    serials: list[str] = field(default_factory=list)


def _line(raw) -> TransferLine:
    if isinstance(raw, TransferLine):
        return raw
    if isinstance(raw, dict):
        return TransferLine(**raw)
    return TransferLine(*raw)


# --- who may do what ----------------------------------------------------------------------------

def require_hq(actor) -> None:
    """Forbidden unless `actor` manages inventory with HQ scope (None, the system, may)."""
    if actor is not None and not (actor.can(MANAGE) and actor.can(HQ_SCOPE)):
        raise Forbidden()


def _own_warehouse_ids(actor):
    """A select of the ids of the warehouses of the actor's distributor (none for users without one)."""
    return select(Warehouse.id).where(Warehouse.distributor_id == getattr(actor, "distributor_id", None),
                                      Warehouse.distributor_id.is_not(None))


def transfers_query(actor):
    """Transfers the actor may see: HQ all, a distributor those from or to its own warehouse."""
    stmt = select(Transfer)
    if actor is None or actor.can(HQ_SCOPE):
        return stmt
    own = _own_warehouse_ids(actor)
    return stmt.where(or_(Transfer.from_warehouse_id.in_(own), Transfer.to_warehouse_id.in_(own)))


def get_transfer(actor, transfer_id: int) -> Transfer:
    """One transfer within the actor's scope; NotFound otherwise (another distributor's id included)."""
    transfer = db.session.scalar(transfers_query(actor).where(Transfer.id == transfer_id))
    if transfer is None:
        raise NotFound()
    return transfer


def can_receive(actor, transfer: Transfer) -> bool:
    """True when `actor` may confirm the receipt: HQ, or the receiving warehouse's distributor."""
    if actor is None:
        return True
    if not actor.can(MANAGE):
        return False
    distributor_id = transfer.to_warehouse.distributor_id
    return actor.can(HQ_SCOPE) or (distributor_id is not None and distributor_id == actor.distributor_id)


def _set_status(transfer: Transfer, to: str, **values) -> None:
    """Move an in-transit transfer to `to` with one conditional update; InvalidTransition when it moved on.

    The update is the guard against two receipts (or a receipt and a cancellation) at the same time:
    only one of them matches the row while it is still in transit.
    """
    result = db.session.execute(update(Transfer).where(Transfer.id == transfer.id, Transfer.status == "in_transit")
                                .values(status=to, **values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise InvalidTransition(_("This transfer is no longer in transit."))
    db.session.refresh(transfer)


# --- notifications ------------------------------------------------------------------------------

def warehouse_users(warehouse: Warehouse) -> list[User]:
    """The active users of the warehouse's distributor (none for HQ's warehouse)."""
    if warehouse.distributor_id is None:
        return []
    return list(db.session.scalars(select(User).where(User.active.is_(True),
                                                      User.distributor_id == warehouse.distributor_id)
                                   .order_by(User.id)))


def hq_managers() -> list[User]:
    """Every active user whose roles grant both inventory.manage and HQ scope."""
    def holds(permission):
        return exists().where(user_roles.c.user_id == User.id, RolePermission.role_id == user_roles.c.role_id,
                              RolePermission.permission == permission)
    return list(db.session.scalars(select(User).where(User.active.is_(True), holds(MANAGE), holds(HQ_SCOPE))
                                   .order_by(User.id)))


def link_to(endpoint: str, **values) -> str | None:
    """A relative link for a notification, built without a request (None outside the app)."""
    if not has_app_context():
        return None
    adapter = current_app.url_map.bind("localhost")
    try:
        return adapter.build(endpoint, values)
    except Exception:  # the views are not registered (a bare service context): no link rather than no notice
        return None


def notify_users(users, title_and_body, link: str | None) -> None:
    """Notify each user in their own language; `title_and_body()` is called inside that locale."""
    default = current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_Hans_CN")
    for user in users:
        with force_locale(user.locale or default):
            title, body = title_and_body()
        notify(user.id, title, body, link)


def reference(transfer: Transfer) -> str:
    """The number people quote: DB followed by the zero-padded id (调拨 -> DB)."""
    return f"DB{transfer.id:06d}"


# --- sending ------------------------------------------------------------------------------------

def _clean_serials(values) -> list[str]:
    return [str(s).strip() for s in (values or []) if str(s).strip()]


def _take_unit(unit: SerialUnit, warehouse: Warehouse) -> bool:
    """Mark one in-stock unit in transit with a conditional update; False when someone else took it first."""
    result = db.session.execute(
        update(SerialUnit).where(SerialUnit.id == unit.id, SerialUnit.state == "in_stock",
                                 SerialUnit.warehouse_id == warehouse.id)
        .values(state="in_transit", warehouse_id=None))
    return result.rowcount == 1


def _send_units(actor, transfer, source, product, line, n) -> list[TransferItem]:
    """Send serial units: the listed ones, else the first in FEFO order (never from an expired batch)."""
    serials = _clean_serials(line.serials)
    if serials:
        if len(set(serials)) != len(serials):
            raise ValidationError(fields={f"lines.{n}.serials": [_("A serial number is listed twice.")]})
        if line.quantity and line.quantity != len(serials):
            raise ValidationError(fields={f"lines.{n}.quantity": [
                _("The quantity must equal the number of serial numbers.")]})
        units = list(db.session.scalars(
            select(SerialUnit).join(SerialUnit.batch)
            .where(SerialUnit.product_id == product.id, SerialUnit.serial.in_(serials),
                   SerialUnit.warehouse_id == source.id, SerialUnit.state == "in_stock", fefo.not_expired())))
        missing = sorted(set(serials) - {u.serial for u in units})
        if missing:
            raise ValidationError(fields={f"lines.{n}.serials": [
                _("Not in stock here (or expired): %(serials)s", serials=", ".join(missing))]})
        units = [u for u in units if _take_unit(u, source)]
        if len(units) != len(serials):
            raise InsufficientStock(_("A listed unit of %(product)s was taken by someone else meanwhile.",
                                      product=product.name))
    else:
        quantity = services._quantity(line.quantity, f"lines.{n}.quantity")
        candidates = db.session.scalars(
            select(SerialUnit).join(SerialUnit.batch)
            .where(SerialUnit.product_id == product.id, SerialUnit.warehouse_id == source.id,
                   SerialUnit.state == "in_stock", fefo.not_expired())
            .order_by(Batch.expiry_date.is_(None), Batch.expiry_date, SerialUnit.id))
        units = []
        for unit in candidates:
            if len(units) == quantity:
                break
            if _take_unit(unit, source):  # a unit taken concurrently is skipped, the next one tried
                units.append(unit)
        if len(units) < quantity:
            raise InsufficientStock(
                _("Not enough stock of %(product)s: %(available)d available, %(requested)d requested.",
                  product=product.name, available=len(units), requested=quantity),
                available=len(units), requested=quantity)
    items = []
    for unit in units:
        services.move(actor, warehouse=source, product=product, batch=unit.batch, kind="transfer_out",
                      on_hand_delta=-1, reason=reference(transfer), source_type=SOURCE, source_id=transfer.id,
                      serial_unit=unit)
        item = TransferItem(transfer=transfer, product_id=product.id, batch_id=unit.batch_id,
                            serial_unit_id=unit.id, quantity_sent=1)
        db.session.add(item)  # now: the next move flushes, and the item must go with its transfer
        items.append(item)
    return items


def _check_lines(lines: list[TransferLine]) -> None:
    if not lines:
        raise ValidationError(fields={"lines": [_("Add at least one line.")]})
    seen = set()
    for n, line in enumerate(lines):
        if line.product is None:
            raise ValidationError(fields={f"lines.{n}.product": [_("Choose a product.")]})
        if line.product.id in seen:
            raise ValidationError(fields={f"lines.{n}.product": [_("This product is listed twice.")]})
        seen.add(line.product.id)
        if line.product.tracking != "serial":
            if _clean_serials(line.serials):
                raise ValidationError(fields={f"lines.{n}.serials": [
                    _("This product is not tracked by serial number.")]})
            services._quantity(line.quantity, f"lines.{n}.quantity")
        elif not _clean_serials(line.serials):
            services._quantity(line.quantity, f"lines.{n}.quantity")


def create_transfer(actor, from_warehouse: Warehouse, to_warehouse: Warehouse, lines, note: str = "",
                    notify_receiver: bool = True) -> Transfer:
    """Send stock between two warehouses (HQ only): issued FEFO at once, then in transit.

    `lines` are TransferLine, (product, quantity[, serials]) or dicts. Raises Forbidden, ValidationError,
    InsufficientStock (nothing is issued then: the whole transfer runs in a savepoint).
    """
    require_hq(actor)
    lines = [_line(raw) for raw in lines]
    if from_warehouse is None or to_warehouse is None:
        raise ValidationError(fields={"to_warehouse": [_("Choose both warehouses.")]})
    if from_warehouse.id == to_warehouse.id:
        raise ValidationError(fields={"to_warehouse": [_("Choose a warehouse other than the source.")]})
    if not to_warehouse.active:
        raise ValidationError(fields={"to_warehouse": [_("This warehouse is not active.")]})
    note = (note or "").strip()
    if len(note) > 255:
        raise ValidationError(fields={"note": [_("At most 255 characters.")]})
    _check_lines(lines)
    services.begin_stock_write()  # SQLite: the savepoint below needs the transaction begun
    with db.session.begin_nested():
        transfer = Transfer(from_warehouse_id=from_warehouse.id, to_warehouse_id=to_warehouse.id, note=note,
                            status="in_transit", created_by_id=getattr(actor, "id", None))
        db.session.add(transfer)
        db.session.flush()
        for n, line in enumerate(lines):
            product = line.product
            if product.tracking == "serial":
                db.session.add_all(_send_units(actor, transfer, from_warehouse, product, line, n))
                continue
            parts = services.issue(actor, from_warehouse, product, line.quantity, SOURCE, transfer.id,
                                   from_reserved=False, kind="transfer_out", reason=reference(transfer))
            db.session.add_all(TransferItem(transfer=transfer, product_id=product.id, batch_id=batch.id,
                                            quantity_sent=qty) for batch, qty in parts)
        db.session.flush()
    audit.record("inventory.transfer_create", SOURCE, transfer.id,
                 _("%(ref)s from %(source)s to %(target)s", ref=reference(transfer), source=from_warehouse.name,
                   target=to_warehouse.name),
                 changes={"items": [[i.product_id, i.batch_id, i.serial_unit_id, i.quantity_sent]
                                    for i in transfer.items]}, actor=actor)
    if notify_receiver:
        notify_users(warehouse_users(to_warehouse), lambda: (
            _("Transfer %(ref)s is on its way", ref=reference(transfer)),
            _("%(count)d units from %(source)s. Confirm the quantities when they arrive.",
              count=sum(i.quantity_sent for i in transfer.items), source=from_warehouse.name)),
            link_to("inventory.show_transfer", transfer_id=transfer.id))
    return transfer


# --- receiving and cancelling ------------------------------------------------------------------

def _received_quantities(transfer: Transfer, received: dict | None) -> dict[int, int]:
    """item id -> quantity received, each 0..sent; an item not given counts as received in full."""
    received = {int(k): v for k, v in (received or {}).items()}
    ids = {item.id for item in transfer.items}
    unknown = sorted(set(received) - ids)
    if unknown:
        raise ValidationError(fields={f"item-{unknown[0]}": [_("This item is not part of the transfer.")]})
    quantities, errors = {}, {}
    for item in transfer.items:
        value = received.get(item.id, item.quantity_sent)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= item.quantity_sent:
            errors[f"item-{item.id}"] = [_("A whole number from 0 to %(sent)d.", sent=item.quantity_sent)]
        else:
            quantities[item.id] = value
    if errors:
        raise ValidationError(fields=errors)
    return quantities


def receive_transfer(actor, transfer: Transfer, received: dict | None = None, note: str = "") -> Transfer:
    """Confirm what arrived, per item (default: all sent); the shortfall stays recorded on the item.

    Raises Forbidden (not the receiving side), ValidationError (0..sent), InvalidTransition (not in
    transit any more: received or cancelled, also by a concurrent request).
    """
    if not can_receive(actor, transfer):
        raise Forbidden()
    quantities = _received_quantities(transfer, received)
    _set_status(transfer, "received", received_at=utcnow(), received_by_id=getattr(actor, "id", None))
    target = transfer.to_warehouse
    note = (note or "").strip()
    reason = f"{reference(transfer)}: {note}"[:255] if note else reference(transfer)
    shorts = {}
    for item in transfer.items:
        qty = quantities[item.id]
        item.quantity_received = qty
        if qty < item.quantity_sent:
            shorts[item.id] = [item.product_id, item.batch_id, item.quantity_sent, qty]
        if qty == 0:
            # A unit that did not arrive stays in transit, traceable through this transfer, never sellable.
            continue
        unit = item.serial_unit
        if unit is not None:
            unit.state, unit.warehouse_id = "in_stock", target.id
            db.session.flush()
        services.move(actor, warehouse=target, product=item.product, batch=item.batch, kind="transfer_in",
                      on_hand_delta=qty, reason=reason, source_type=SOURCE,
                      source_id=transfer.id, serial_unit=unit)
    db.session.flush()
    audit.record("inventory.transfer_receive", SOURCE, transfer.id,
                 _("%(ref)s received", ref=reference(transfer)) if not shorts
                 else _("%(ref)s received with differences", ref=reference(transfer)),
                 changes={"short": shorts} if shorts else None, actor=actor)
    if shorts:
        total = sum(s[2] - s[3] for s in shorts.values())
        notify_users(hq_managers(), lambda: (
            _("Transfer %(ref)s arrived short", ref=reference(transfer)),
            _("%(warehouse)s received %(short)d units less than sent.", warehouse=target.name, short=total)),
            link_to("inventory.show_transfer", transfer_id=transfer.id))
    return transfer


def cancel_transfer(actor, transfer: Transfer, reason: str = "") -> Transfer:
    """Cancel an in-transit transfer (HQ only): all its stock goes back into the source warehouse.

    Raises Forbidden, InvalidTransition (already received or cancelled).
    """
    require_hq(actor)
    reason = (reason or "").strip()
    _set_status(transfer, "cancelled")
    source = transfer.from_warehouse
    for item in transfer.items:
        unit = item.serial_unit
        if unit is not None:
            unit.state, unit.warehouse_id = "in_stock", source.id
            db.session.flush()
        services.move(actor, warehouse=source, product=item.product, batch=item.batch, kind="transfer_in",
                      on_hand_delta=item.quantity_sent, reason=f"cancelled: {reason}"[:255] if reason else "cancelled",
                      source_type=SOURCE, source_id=transfer.id, serial_unit=unit)
    audit.record("inventory.transfer_cancel", SOURCE, transfer.id, reason or reference(transfer), actor=actor)
    notify_users(warehouse_users(transfer.to_warehouse), lambda: (
        _("Transfer %(ref)s is cancelled", ref=reference(transfer)), reason),
        link_to("inventory.show_transfer", transfer_id=transfer.id))
    return transfer


def short_items(transfer: Transfer) -> list[TransferItem]:
    """The items received with less than was sent."""
    return [i for i in transfer.items if i.difference is not None and i.difference < 0]
