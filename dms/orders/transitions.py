"""The order state machine: who may move an order where, and what each move does to stock and money.

    pending -> paid -> assigned -> shipped -> delivered -> completed
    pending | paid | assigned -> cancelled          delivered | completed -> refunded

Every move is one conditional update of the status (`WHERE status IN (...)`), so two people acting on
one order at once cannot both win: the loser gets InvalidTransition (409). Each move appends a
timeline entry; completed and refunded emit `order.completed` / `order.refunded` through the outbox
for the areas above (commissions) to consume. Services flush, never commit.
"""

from datetime import timedelta
from decimal import Decimal

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from dms.accounts.models import User
from dms.core import audit, events
from dms.core.errors import Forbidden, InvalidTransition, ValidationError
from dms.core.time import utcnow
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import services as inventory
from dms.orders import pricing
from dms.orders.models import PAYMENT_METHODS, Order, OrderPayment
from dms.orders.services import STOCK_SOURCE, record_event, release_stock

# to -> the states it may come from. "assigned" from "assigned" is a reassignment of the courier.
ALLOWED = {
    "paid": ("pending",),
    "assigned": ("paid", "assigned"),
    "shipped": ("assigned",),
    "delivered": ("shipped",),
    "completed": ("delivered",),
    "cancelled": ("pending", "paid", "assigned"),
    "refunded": ("delivered", "completed"),
}
# to -> the permission it takes; a courier (deliveries.own) may also ship and deliver their own orders.
PERMISSIONS = {to: "orders.manage" for to in ALLOWED}
COURIER_MOVES = ("shipped", "delivered")
STATUS_LABELS = {
    "pending": _l("Awaiting payment"), "paid": _l("Paid"), "assigned": _l("Courier assigned"),
    "shipped": _l("Out for delivery"), "delivered": _l("Delivered"), "completed": _l("Completed"),
    "cancelled": _l("Cancelled"), "refunded": _l("Refunded"),
}
TIMESTAMPS = {"paid": "paid_at", "assigned": "assigned_at", "shipped": "shipped_at", "delivered": "delivered_at",
              "completed": "completed_at", "cancelled": "cancelled_at", "refunded": "refunded_at"}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def _may(actor, order: Order, to: str) -> bool:
    if actor is None:
        return True
    if actor.can(PERMISSIONS[to]) and actor.can("orders.view"):
        return True
    return to in COURIER_MOVES and actor.can("deliveries.own") and order.courier_id == getattr(actor, "id", None)


def allowed_moves(actor, order: Order) -> list[str]:
    """The states `actor` may move `order` to now (for the buttons a page shows)."""
    return [to for to, sources in ALLOWED.items()
            if order.status in sources and to != "assigned" and _may(actor, order, to)
            and not (to == "paid" and order.distributor_id is None)]


def _move(actor, order: Order, to: str, note: str = "") -> str:
    """Change the status with one conditional update; InvalidTransition if the order is not in a source state."""
    if to not in ALLOWED:
        raise ValidationError(fields={"to": [_("Unknown state %(to)s.", to=to)]})
    if not _may(actor, order, to):
        raise Forbidden()
    sources = ALLOWED[to]
    before = order.status
    now = utcnow()
    result = db.session.execute(update(Order).where(Order.id == order.id, Order.status.in_(sources))
                                .values(status=to, updated_at=now, **{TIMESTAMPS[to]: now}))
    if result.rowcount != 1:
        db.session.refresh(order)
        raise InvalidTransition(_("%(ref)s is %(status)s: it cannot become %(to)s.", ref=order.reference,
                                  status=status_label(order.status), to=status_label(to)),
                                status=order.status, to=to)
    db.session.refresh(order)
    record_event(order, actor, "transition", note, from_status=before, to_status=to)
    audit.record(f"order.{to}", "order", order.id, f"{order.reference} {before} -> {to}", actor=actor)
    return before


def _note(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 500:
        raise ValidationError(fields={"note": [_("Text of at most %(n)d characters.", n=500)]})
    return value.strip()


def pay(actor, order: Order, method: str = "other", reference: str = "", amount=None, note: str = "") -> Order:
    """Record the payment of the whole total (method, reference) and mark the order paid."""
    if order.distributor_id is None:
        raise InvalidTransition(_("Assign the order to a distributor before recording its payment."))
    if method not in PAYMENT_METHODS:
        raise ValidationError(fields={"method": [_("Choose how it was paid.")]})
    if not isinstance(reference, str) or len(reference) > 64:
        raise ValidationError(fields={"reference": [_("Text of at most %(n)d characters.", n=64)]})
    paid = order.total if amount in (None, "") else pricing.money(amount, "amount")
    if paid != order.total:
        raise ValidationError(fields={"amount": [_("The order's total is %(total)s.", total=f"{order.total:.2f}")]})
    _move(actor, order, "paid", _note(note))
    if paid > 0:
        order.payments.append(OrderPayment(kind="payment", method=method, reference=reference.strip(),
                                           amount=paid, actor_id=getattr(actor, "id", None)))
        db.session.flush()
    return order


def couriers_of(distributor_id: int) -> list[User]:
    """The active users of a distributor who deliver (hold deliveries.own), by name."""
    users = db.session.scalars(select(User).where(User.distributor_id == distributor_id, User.active.is_(True))
                               .order_by(User.display_name, User.id)).all()
    return [u for u in users if u.can("deliveries.own")]


def assign_courier(actor, order: Order, courier_id, note: str = "") -> Order:
    """Give a paid order to one of its distributor's couriers, or hand an assigned one to another."""
    if isinstance(courier_id, bool) or not isinstance(courier_id, int):
        raise ValidationError(fields={"courier_id": [_("Choose a courier.")]})
    courier = next((u for u in couriers_of(order.distributor_id) if u.id == courier_id), None) \
        if order.distributor_id else None
    if courier is None:
        raise ValidationError(fields={"courier_id": [_("Choose one of the distributor's couriers.")]})
    if order.status == "assigned" and order.courier_id == courier.id and _may(actor, order, "assigned"):
        return order  # already theirs (a double click); without the permission _move refuses below
    previous = order.courier
    _move(actor, order, "assigned", _note(note) or (
        _("Reassigned from %(old)s to %(new)s.", old=previous.label, new=courier.label) if previous
        and order.status == "assigned" else _("Courier: %(name)s.", name=courier.label)))
    order.courier_id = courier.id
    db.session.flush()
    return order


def ship(actor, order: Order, note: str = "") -> Order:
    """Out for delivery: the reserved stock leaves the warehouse (issue movements, FEFO as reserved)."""
    _move(actor, order, "shipped", _note(note))
    warehouse = db.session.get(Warehouse, order.warehouse_id)
    for line in sorted(order.lines, key=lambda line: line.product_id):
        inventory.issue(actor, warehouse, line.product, line.quantity, STOCK_SOURCE, order.id,
                        reason=order.reference)
    return order


def deliver(actor, order: Order, note: str = "") -> Order:
    """Delivered to the customer (the completion time is recorded)."""
    _move(actor, order, "delivered", _note(note))
    return order


def complete(actor, order: Order, note: str = "") -> Order:
    """Completed (confirmed, or automatically after the waiting days): emits order.completed."""
    _move(actor, order, "completed", _note(note))
    events.emit("order.completed", order.id)
    return order


def cancel(actor, order: Order, reason: str = "") -> Order:
    """Cancel before shipping: the reservation is released; a paid order records the refund due."""
    before = _move(actor, order, "cancelled", _note(reason))
    release_stock(actor, order, reason="cancelled")
    if before in ("paid", "assigned"):
        order.refund_due = sum((p.amount for p in order.payments if p.kind == "payment"), Decimal("0.00"))
    db.session.flush()
    return order


def refund(actor, order: Order, reason: str = "", restock: bool = True, method: str = "other",
           reference: str = "") -> Order:
    """Refund a delivered order: money recorded as owed back, stock returned when restockable; order.refunded."""
    reason = _note(reason)
    if not reason:
        raise ValidationError(fields={"reason": [_("Say why the order is refunded.")]})
    if method not in PAYMENT_METHODS:
        raise ValidationError(fields={"method": [_("Choose how it was paid.")]})
    _move(actor, order, "refunded", reason)
    if restock:
        warehouse = db.session.get(Warehouse, order.warehouse_id)
        for line in sorted(order.lines, key=lambda line: line.product_id):
            inventory.return_stock(actor, warehouse, line.product, STOCK_SOURCE, order.id, reason=order.reference)
    paid = sum((p.amount for p in order.payments if p.kind == "payment"), Decimal("0.00"))
    order.refund_due = paid
    if paid > 0:
        order.payments.append(OrderPayment(kind="refund", method=method, reference=reference[:64],
                                           amount=paid, actor_id=getattr(actor, "id", None)))
    db.session.flush()
    events.emit("order.refunded", order.id)
    return order


def transition(actor, order: Order, to, **data) -> Order:
    """Move an order to `to` with that move's data (API: courier_id, reason, note, payment, restock)."""
    if not isinstance(to, str) or to not in ALLOWED:
        raise ValidationError(fields={"to": [_("One of: %(states)s.", states=", ".join(ALLOWED))]})
    note = data.get("note") or data.get("reason") or ""
    if to == "paid":
        payment = data.get("payment") or {}
        if not isinstance(payment, dict):
            raise ValidationError(fields={"payment": [_("An object with method, reference and amount.")]})
        return pay(actor, order, payment.get("method") or "other", payment.get("reference") or "",
                   payment.get("amount"), note)
    if to == "assigned":
        return assign_courier(actor, order, data.get("courier_id"), note)
    if to == "refunded":
        return refund(actor, order, note, restock=data.get("restock", True) is not False)
    if to == "cancelled":
        return cancel(actor, order, note)
    return {"shipped": ship, "delivered": deliver, "completed": complete}[to](actor, order, note)


def auto_complete_days() -> int:
    return int(current_app.config.get("ORDER_AUTO_COMPLETE_DAYS", 7))


def due_for_completion(now=None) -> list[int]:
    """Ids of orders delivered more than ORDER_AUTO_COMPLETE_DAYS ago and still not completed."""
    cutoff = (now or utcnow()) - timedelta(days=auto_complete_days())
    return list(db.session.scalars(select(Order.id).where(Order.status == "delivered", Order.delivered_at <= cutoff)
                                   .order_by(Order.id)))
