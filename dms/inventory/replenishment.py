"""Replenishment requests (补货申请): a distributor asks HQ for stock; approval creates a transfer.

submitted -> approved | partially_approved (a transfer from HQ's warehouse is created and linked)
          -> rejected (with a reason) | cancelled (by the requesting side, while submitted).
Every step is audited; HQ's inventory managers hear of a new request, the distributor's users of the
decision. Services flush, never commit.
"""

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from dms.catalog.models import Product
from dms.core import audit
from dms.core.errors import Forbidden, InvalidTransition, NotFound, ValidationError
from dms.core.scope import HQ_SCOPE, scoped
from dms.core.time import utcnow
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import fefo, services, thresholds, transfers
from dms.inventory.models import (
    Batch,
    ReplenishmentLine,
    ReplenishmentRequest,
    StockBalance,
    Transfer,
    TransferItem,
)

SOURCE = "replenishment"
OPEN = "submitted"
# The stock a suggestion refills to, as a multiple of the threshold (see suggested_quantities).
TARGET_FACTOR = 2


@dataclass
class RequestLine:
    """One product asked for, and how many."""

    product: object
    quantity: int = 0


def _line(raw) -> RequestLine:
    if isinstance(raw, RequestLine):
        return raw
    if isinstance(raw, dict):
        return RequestLine(**raw)
    return RequestLine(*raw)


def reference(request: ReplenishmentRequest) -> str:
    """The number people quote: BH followed by the zero-padded id (补货 -> BH)."""
    return f"BH{request.id:06d}"


# --- reading ------------------------------------------------------------------------------------

def requests_query(actor):
    """Requests the actor may see: HQ all, a distributor its own warehouse's only."""
    stmt = select(ReplenishmentRequest).join(ReplenishmentRequest.warehouse)
    return scoped(stmt, Warehouse.distributor_id, actor)


def get_request(actor, request_id: int) -> ReplenishmentRequest:
    """One request within the actor's scope; NotFound otherwise (another distributor's id included)."""
    row = db.session.scalar(requests_query(actor).where(ReplenishmentRequest.id == request_id))
    if row is None:
        raise NotFound()
    return row


def available_by_product(warehouse) -> dict[int, int]:
    """product id -> available stock (on hand minus reserved, expired batches left out) in `warehouse`."""
    rows = db.session.execute(
        select(StockBalance.product_id, func.sum(StockBalance.on_hand - StockBalance.reserved))
        .join(Batch, Batch.id == StockBalance.batch_id)
        .where(StockBalance.warehouse_id == warehouse.id, fefo.not_expired())
        .group_by(StockBalance.product_id)).all()
    return {product_id: int(qty or 0) for product_id, qty in rows}


def incoming_by_product(warehouse) -> dict[int, int]:
    """product id -> what is already on its way: sent in open transfers, or asked for in open requests."""
    incoming: dict[int, int] = {}
    in_transit = db.session.execute(
        select(TransferItem.product_id, func.sum(TransferItem.quantity_sent)).join(TransferItem.transfer)
        .where(Transfer.to_warehouse_id == warehouse.id, Transfer.status == "in_transit")
        .group_by(TransferItem.product_id)).all()
    requested = db.session.execute(
        select(ReplenishmentLine.product_id, func.sum(ReplenishmentLine.quantity_requested))
        .join(ReplenishmentLine.request)
        .where(ReplenishmentRequest.warehouse_id == warehouse.id, ReplenishmentRequest.status == OPEN)
        .group_by(ReplenishmentLine.product_id)).all()
    for product_id, qty in [*in_transit, *requested]:
        incoming[product_id] = incoming.get(product_id, 0) + int(qty or 0)
    return incoming


def suggested_quantities(warehouse) -> dict[Product, int]:
    """Available products running low in `warehouse` -> the quantity to ask for.

    A product runs low when its available stock (non-expired) is below its threshold in force there
    (`thresholds.thresholds_for`). The suggestion refills to TARGET_FACTOR x threshold, counting what
    is already on its way (in-transit transfers to this warehouse and its still-open requests):
        suggested = 2 * threshold - available - incoming        (only when > 0)
    so the stock ends up above the threshold with room to sell before it is low again, and a second
    request made before the first arrives does not ask for the same stock twice.
    """
    products = list(db.session.scalars(select(Product).where(Product.status == "available").order_by(Product.name)))
    limits = thresholds.thresholds_for(warehouse, products)
    available, incoming = available_by_product(warehouse), incoming_by_product(warehouse)
    suggestions = {}
    for product in products:
        threshold = limits[product.id]
        have = available.get(product.id, 0)
        if threshold <= 0 or have >= threshold:
            continue
        quantity = TARGET_FACTOR * threshold - have - incoming.get(product.id, 0)
        if quantity > 0:
            suggestions[product] = quantity
    return suggestions


# --- requesting ---------------------------------------------------------------------------------

def create_request(actor, warehouse, lines, note: str = "") -> ReplenishmentRequest:
    """Ask HQ for stock for the actor's own (distributor) warehouse; HQ managers are notified.

    Raises Forbidden, NotFound (another distributor's warehouse), ValidationError (no lines, a
    quantity below 1, a product twice or not available, HQ's own warehouse).
    """
    services._require(actor, warehouse)
    if warehouse.distributor_id is None:
        raise ValidationError(fields={"warehouse": [_("HQ's warehouse is stocked by receipts, not requests.")]})
    lines = [_line(raw) for raw in lines]
    note = (note or "").strip()
    if len(note) > 500:
        raise ValidationError(fields={"note": [_("At most 500 characters.")]})
    if not lines:
        raise ValidationError(fields={"lines": [_("Ask for at least one product.")]})
    seen, errors = set(), {}
    for n, line in enumerate(lines):
        product = line.product
        if product is None or product.status != "available":
            errors[f"lines.{n}.product"] = [_("This product is not available.")]
        elif product.id in seen:
            errors[f"lines.{n}.product"] = [_("This product is listed twice.")]
        else:
            seen.add(product.id)
        try:
            services._quantity(line.quantity, f"lines.{n}.quantity")
        except ValidationError as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationError(fields=errors)
    request = ReplenishmentRequest(warehouse_id=warehouse.id, status=OPEN, note=note,
                                   created_by_id=getattr(actor, "id", None),
                                   lines=[ReplenishmentLine(product_id=line.product.id,
                                                            quantity_requested=line.quantity) for line in lines])
    db.session.add(request)
    db.session.flush()
    audit.record("inventory.replenishment_submit", SOURCE, request.id, reference(request),
                 changes={"lines": [[line.product.id, line.quantity] for line in lines]}, actor=actor)
    transfers.notify_users(transfers.hq_managers(), lambda: (
        _("New replenishment request %(ref)s", ref=reference(request)),
        _("%(warehouse)s asks for %(count)d products.", warehouse=warehouse.name, count=len(lines))),
        transfers.link_to("inventory.show_replenishment", request_id=request.id))
    return request


def _decide(request: ReplenishmentRequest, to: str, actor, reason: str = "") -> None:
    """Move a submitted request to `to` with one conditional update; InvalidTransition when already decided.

    Two HQ users deciding at once: only one update matches the row while it is still submitted.
    """
    values = {"status": to}
    if to != "cancelled":
        values.update(decided_at=utcnow(), decided_by_id=getattr(actor, "id", None), decision_reason=reason)
    result = db.session.execute(update(ReplenishmentRequest)
                                .where(ReplenishmentRequest.id == request.id, ReplenishmentRequest.status == OPEN)
                                .values(**values))
    if result.rowcount != 1:
        raise InvalidTransition(_("This request has already been decided or cancelled."))
    db.session.refresh(request)


def _approved_quantities(request: ReplenishmentRequest, approved: dict | None) -> dict[int, int]:
    """line id -> approved quantity, each 0..requested; a line not given is approved in full."""
    approved = {int(k): v for k, v in (approved or {}).items()}
    unknown = sorted(set(approved) - {line.id for line in request.lines})
    if unknown:
        raise ValidationError(fields={f"line-{unknown[0]}": [_("This line is not part of the request.")]})
    quantities, errors = {}, {}
    for line in request.lines:
        value = approved.get(line.id, line.quantity_requested)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= line.quantity_requested:
            errors[f"line-{line.id}"] = [_("A whole number from 0 to %(requested)d.",
                                           requested=line.quantity_requested)]
        else:
            quantities[line.id] = value
    if errors:
        raise ValidationError(fields=errors)
    if not any(quantities.values()):
        raise ValidationError(fields={"lines": [_("Approve at least one unit, or reject the request.")]})
    return quantities


def approve_request(actor, request: ReplenishmentRequest, approved: dict | None = None,
                    reason: str = "") -> ReplenishmentRequest:
    """Approve in full or in part (0 allowed on a line, not on all) and ship at once from HQ's warehouse.

    Raises Forbidden (HQ only), ValidationError, InvalidTransition (already decided), InsufficientStock
    (HQ is short: nothing is approved or issued, the request stays submitted).
    """
    transfers.require_hq(actor)
    quantities = _approved_quantities(request, approved)
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise ValidationError(fields={"reason": [_("At most 500 characters.")]})
    partial = any(quantities[line.id] < line.quantity_requested for line in request.lines)
    services.begin_stock_write()  # SQLite: the savepoint below needs the transaction begun
    with db.session.begin_nested():
        _decide(request, "partially_approved" if partial else "approved", actor, reason)
        for line in request.lines:
            line.quantity_approved = quantities[line.id]
        transfer = transfers.create_transfer(
            actor, services.hq_warehouse(), request.warehouse,
            [(line.product, quantities[line.id]) for line in request.lines if quantities[line.id]],
            note=reference(request), notify_receiver=False)  # a reference, not text in one language
        request.transfer_id = transfer.id
        db.session.flush()
    audit.record("inventory.replenishment_approve", SOURCE, request.id, reason or reference(request),
                 changes={"status": [OPEN, request.status], "transfer": [None, transfer.id],
                          "approved": {str(line.product_id): [line.quantity_requested, line.quantity_approved]
                                       for line in request.lines}}, actor=actor)
    transfers.notify_users(transfers.warehouse_users(request.warehouse), lambda: (
        _("Replenishment %(ref)s approved in part: transfer %(transfer)s is on its way", ref=reference(request),
          transfer=transfers.reference(transfer)) if partial else
        _("Replenishment %(ref)s approved: transfer %(transfer)s is on its way", ref=reference(request),
          transfer=transfers.reference(transfer)),
        reason), transfers.link_to("inventory.show_transfer", transfer_id=transfer.id))
    return request


def reject_request(actor, request: ReplenishmentRequest, reason: str) -> ReplenishmentRequest:
    """Reject a submitted request with a reason (required); Forbidden, ValidationError, InvalidTransition."""
    transfers.require_hq(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(fields={"reason": [_("Say why the request is rejected.")]})
    if len(reason) > 500:
        raise ValidationError(fields={"reason": [_("At most 500 characters.")]})
    _decide(request, "rejected", actor, reason)
    audit.record("inventory.replenishment_reject", SOURCE, request.id, reason,
                 changes={"status": [OPEN, "rejected"]}, actor=actor)
    transfers.notify_users(transfers.warehouse_users(request.warehouse), lambda: (
        _("Replenishment %(ref)s rejected", ref=reference(request)), reason),
        transfers.link_to("inventory.show_replenishment", request_id=request.id))
    return request


def can_cancel(actor, request: ReplenishmentRequest) -> bool:
    """True when `actor` is on the requesting side: who filed it, or its distributor's inventory staff."""
    if request.status != OPEN:
        return False
    if actor is None:
        return True
    if getattr(actor, "id", None) is not None and actor.id == request.created_by_id:
        return True
    distributor_id = request.warehouse.distributor_id
    return actor.can("inventory.manage") and distributor_id is not None and distributor_id == actor.distributor_id


def cancel_request(actor, request: ReplenishmentRequest) -> ReplenishmentRequest:
    """Withdraw a submitted request (the requesting side only); Forbidden, InvalidTransition."""
    if request.status == OPEN and not can_cancel(actor, request):
        raise Forbidden()
    _decide(request, "cancelled", actor)
    audit.record("inventory.replenishment_cancel", SOURCE, request.id, reference(request),
                 changes={"status": [OPEN, "cancelled"]}, actor=actor)
    return request


def is_hq(actor) -> bool:
    """True for HQ's inventory managers, who decide requests."""
    return actor is None or (actor.can("inventory.manage") and actor.can(HQ_SCOPE))
