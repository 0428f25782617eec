"""Orders over the API (API.md "Orders"): placing (seed and multi-line bodies), reading, transitions, ratings.

The rules live in the orders area (dms/orders/services.py, transitions.py, ratings.py); this module
checks the shape of what arrives so a wrong type is a field error (never a 500), names the fields as
the API calls them, and shows an order to its caller. Scope is the service's `orders_query`: a
distributor's token sees its own orders, a client without a distributor the orders it placed, HQ all;
anything else answers 404.
"""

from flask import g, request
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from dms.api import bp, openapi
from dms.api.auth import api_view
from dms.api.helpers import json_body, paginate
from dms.core.crypto import mask_phone
from dms.core.errors import BadRequest, DomainError, Forbidden, InsufficientStock, ValidationError
from dms.core.rows import MAX_ID
from dms.orders import ratings, services, transitions
from dms.orders.models import ORDER_STATES, PAYMENT_METHODS, Order

# Whoever may read orders at all: staff and clients (orders.view), couriers their own deliveries.
READ_PERMISSIONS = ("orders.view", "deliveries.own")
MOVE_PERMISSIONS = ("orders.manage", "deliveries.own")


def _timestamp(value) -> str | None:
    from datetime import UTC

    return value.replace(tzinfo=UTC).isoformat() if value else None


def _money(value) -> str:
    return f"{value:.2f}"


def _require_any(permissions) -> None:
    """Forbidden unless the caller holds one of `permissions` (API.md: 403 when the role lacks it)."""
    if not any(g.principal.can(p) for p in permissions):
        raise Forbidden(_("Your token does not grant the permission %(p)s.", p=" / ".join(permissions)))


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def serialize_order(order: Order, principal) -> dict:
    """An order as the API shows it: lines, payments, courier, address, rating and the timeline."""
    # A customer's phone is personal data: in full only for callers allowed to see it (DESIGN.md users).
    phone = order.ship_phone if principal is None or principal.can("customers.reveal_phone") \
        else mask_phone(order.ship_phone)
    rating = order.rating
    return {
        "order_id": order.id, "reference": order.reference, "status": order.status,
        "distributor_id": order.distributor_id, "warehouse_id": order.warehouse_id,
        "customer_id": order.customer_id,
        "courier": {"courier_id": order.courier.id, "name": order.courier.label} if order.courier else None,
        "address": {"name": order.ship_name, "phone": phone, "region_code": order.ship_region_code,
                    "street": order.ship_street, "address": order.ship_address},
        "subtotal": _money(order.subtotal), "discount": _money(order.discount), "total_price": _money(order.total),
        "currency": order.currency, "refund_due": _money(order.refund_due), "source": order.source,
        "campaign_code": order.campaign_code, "note": order.note,
        "created_at": _timestamp(order.created_at), "paid_at": _timestamp(order.paid_at),
        "assigned_at": _timestamp(order.assigned_at), "shipped_at": _timestamp(order.shipped_at),
        "delivered_at": _timestamp(order.delivered_at), "completed_at": _timestamp(order.completed_at),
        "cancelled_at": _timestamp(order.cancelled_at), "refunded_at": _timestamp(order.refunded_at),
        "lines": [{"line_id": line.id, "product_id": line.product_id, "product_name": line.product.name,
                   "quantity": line.quantity, "unit_price": _money(line.unit_price),
                   "discount": _money(line.discount), "amount": _money(line.amount)} for line in order.lines],
        "payments": [{"payment_id": p.id, "kind": p.kind, "method": p.method, "reference": p.reference,
                      "amount": _money(p.amount), "at": _timestamp(p.at)} for p in order.payments],
        "rating": serialize_rating(rating) if rating is not None else None,
        "timeline": [{"at": _timestamp(e.at), "kind": e.kind, "from": e.from_status, "to": e.to_status,
                      "note": e.note, "actor": e.actor_label} for e in order.events],
        "allowed_transitions": transitions.allowed_moves(principal, order),
    }


def serialize_rating(rating) -> dict:
    """A satisfaction rating as the API shows it."""
    return {"order_id": rating.order_id, "score": rating.score, "comment": rating.comment, "source": rating.source,
            "at": _timestamp(rating.at)}


def _order_body(body: dict) -> dict:
    """The placing body with its references checked for type; the service checks the rest per field."""
    errors = {}
    for name in ("distributor_id", "customer_id", "product_id"):
        if body.get(name) is not None and not _is_int(body.get(name)):
            errors[name] = [_("A whole number (an id).")]
    if body.get("customer") is not None and not isinstance(body.get("customer"), dict):
        errors["customer"] = [_("The customer is an object with name, phone and address.")]
    if "lines" in body and not isinstance(body.get("lines"), list):
        errors["lines"] = [_("A list of {product_id, quantity} objects.")]
    for name in ("campaign_code", "note"):
        if body.get(name) is not None and not isinstance(body.get(name), str):
            errors[name] = [_("Must be text.")]
    # A product id past the integer columns' range names no product; unchecked, it would overflow the
    # database driver inside the pricing query (a 500).
    lines = body.get("lines") if isinstance(body.get("lines"), list) else [body]
    for n, line in enumerate(lines):
        if isinstance(line, dict) and _is_int(line.get("product_id")) and line["product_id"] > MAX_ID:
            errors["product_id" if line is body else f"lines.{n}.product_id"] = [_("Choose an existing product.")]
    if errors:
        raise ValidationError(fields=errors)
    # Staff-only options of the web form are not part of the API contract.
    return {k: v for k, v in body.items() if k != "ship_from_hq"}


def _renamed(exc: DomainError, names: dict) -> DomainError:
    """The same error with its fields named as the API calls them (code and extra details kept)."""
    fields = {names.get(name, name): messages for name, messages in exc.fields.items()}
    return type(exc)(exc.message, fields=fields, code=exc.code, **exc.extra)


# The seed body has no lines: its errors name its own fields, not the line the service made of them.
SEED_FIELDS = {"lines": "product_id", "lines.0": "product_id", "lines.0.product_id": "product_id",
               "lines.0.quantity": "quantity"}


@bp.post("/orders")
@api_view(permission="orders.manage", idempotent=True)
def create_order():
    """Place an order (seed single-product or multi-line body): priced, routed and reserved; 201 with the order."""
    body = _order_body(json_body())
    try:
        order = services.place_order(g.principal, body)
    except (ValidationError, InsufficientStock) as exc:
        if "lines" in body or not exc.fields:
            raise
        raise _renamed(exc, SEED_FIELDS) from exc
    return serialize_order(order, g.principal), 201, {"Location": f"/api/orders/{order.id}"}


def _filters(stmt):
    """?status= and ?distributor_id= (a number, or `none` for HQ's unassigned queue); BadRequest otherwise."""
    status = request.args.get("status")
    if status:
        if status not in ORDER_STATES:
            raise BadRequest(fields={"status": [_("One of: %(states)s.", states=", ".join(ORDER_STATES))]})
        stmt = stmt.where(Order.status == status)
    distributor_id = request.args.get("distributor_id")
    if distributor_id:
        if distributor_id == "none":
            stmt = stmt.where(Order.distributor_id.is_(None))
        elif distributor_id.isascii() and distributor_id.isdigit() and len(distributor_id) <= 9:
            stmt = stmt.where(Order.distributor_id == int(distributor_id))
        else:
            raise BadRequest(fields={"distributor_id": [_("A distributor id, or none.")]})
    return stmt


@bp.get("/orders")
@api_view()
def list_orders():
    """A page of the orders the caller may see, newest first, filtered by status and distributor."""
    _require_any(READ_PERMISSIONS)
    # Each order shows its lines, payments, timeline, rating and courier: load them per page, not per order.
    stmt = _filters(services.orders_query(g.principal)).order_by(Order.id.desc()).options(
        selectinload(Order.lines), selectinload(Order.payments), selectinload(Order.events),
        selectinload(Order.rating), selectinload(Order.courier))
    return paginate(stmt, lambda order: serialize_order(order, g.principal))


@bp.get("/orders/<int:order_id>")
@api_view()
def get_order(order_id: int):
    """One order with its lines, payments, courier, address, rating and timeline (404 outside scope)."""
    _require_any(READ_PERMISSIONS)
    return serialize_order(services.get_order(g.principal, order_id), g.principal)


def _transition_body(body: dict) -> dict:
    """The transition's data, each field checked for type; ValidationError naming each bad one."""
    errors = {}
    if not isinstance(body.get("to"), str):
        errors["to"] = [_("One of: %(states)s.", states=", ".join(transitions.ALLOWED))]
    if body.get("courier_id") is not None and not _is_int(body.get("courier_id")):
        errors["courier_id"] = [_("A whole number (an id).")]
    for name in ("reason", "note"):
        value = body.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 500):
            errors[name] = [_("Text of at most %(n)d characters.", n=500)]
    if body.get("restock") is not None and not isinstance(body.get("restock"), bool):
        errors["restock"] = [_("true or false.")]
    payment = body.get("payment")
    if payment is not None:
        if not isinstance(payment, dict):
            errors["payment"] = [_("An object with method, reference and amount.")]
        else:
            if payment.get("method") is not None and payment.get("method") not in PAYMENT_METHODS:
                errors["payment.method"] = [_("One of: %(methods)s.", methods=", ".join(PAYMENT_METHODS))]
            reference = payment.get("reference")
            if reference is not None and (not isinstance(reference, str) or len(reference) > 64):
                errors["payment.reference"] = [_("Text of at most %(n)d characters.", n=64)]
    if errors:
        raise ValidationError(fields=errors)
    # The note of a move is the note, else the reason (a cancellation or refund is explained by it).
    return {"courier_id": body.get("courier_id"), "note": body.get("note"), "reason": body.get("reason"),
            "payment": payment, "restock": body.get("restock", True)}


PAYMENT_FIELDS = {"method": "payment.method", "reference": "payment.reference", "amount": "payment.amount"}


@bp.post("/orders/<int:order_id>/transitions")
@api_view(idempotent=True)
def transition_order(order_id: int):
    """Move an order to another state (paid, assigned, shipped, ...); 409 invalid_transition; answers the order."""
    _require_any(MOVE_PERMISSIONS)
    body = json_body()
    data = _transition_body(body)
    order = services.get_order(g.principal, order_id)
    try:
        transitions.transition(g.principal, order, body["to"], **data)
    except ValidationError as exc:
        if body["to"] != "paid":
            raise
        raise _renamed(exc, PAYMENT_FIELDS) from exc
    return serialize_order(order, g.principal)


@bp.post("/orders/<int:order_id>/rating")
@api_view(idempotent=True)
def rate_order(order_id: int):
    """Record the customer's 1-5 satisfaction rating of a delivered order; 201; 409 if already rated."""
    _require_any(MOVE_PERMISSIONS)
    body = json_body()
    score, comment = body.get("score"), body.get("comment")
    errors = {}
    if not _is_int(score) or not 1 <= score <= 5:
        errors["score"] = [_("A whole number from 1 to 5.")]
    if comment is not None and (not isinstance(comment, str) or len(comment) > 500):
        errors["comment"] = [_("Text of at most %(n)d characters.", n=500)]
    if errors:
        raise ValidationError(fields=errors)
    order = services.get_order(g.principal, order_id)
    rating = ratings.rate_order(g.principal, order, score, comment or "", source="api")
    return serialize_rating(rating), 201


# --- the OpenAPI document -------------------------------------------------------------------------

MONEY_IN = {"type": ["number", "string"], "description": "Yuan, at most two decimal places.",
            "examples": [500.00]}
MONEY_OUT = {"type": "string", "pattern": r"^\d+\.\d{2}$", "examples": ["500.00"]}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
STATUS = {"type": "string", "enum": list(ORDER_STATES)}
MOVES = list(transitions.ALLOWED)

openapi.add_schema("OrderLineRequest", {
    "type": "object", "required": ["product_id", "quantity"],
    "properties": {"product_id": {"type": "integer"},
                   "quantity": {"type": "integer", "minimum": 1, "maximum": 100000},
                   "discount": {**MONEY_IN, "description": "An amount off the line; staff tokens only (an "
                                                           "integration client's discount is 422)."}},
})
openapi.add_schema("OrderCustomer", {
    "type": "object", "required": ["name", "phone", "region_code"],
    "properties": {"name": {"type": "string", "maxLength": 120},
                   "phone": {"type": "string", "description": "A mainland mobile number.",
                             "examples": ["13800138000"]},
                   "region_code": {"type": "string", "description": "GB/T 2260 code; routes the order when "
                                                                    "distributor_id is left out.",
                                   "examples": ["440113"]},
                   "street": {"type": "string", "maxLength": 100, "description": "Street or community (街道/小区)."},
                   "address": {"type": "string", "maxLength": 255}},
})
openapi.add_schema("OrderRequest", {
    "type": "object",
    "description": "Either the seed's single product (`product_id` + `quantity`) or `lines`. `distributor_id` "
                   "defaults to the caller's own distributor; when absent and a `customer` address is given the "
                   "order is routed to the distributor whose territory covers the address's region (none: the "
                   "order waits, unassigned, for HQ).",
    "properties": {
        "distributor_id": {"type": ["integer", "null"]},
        "product_id": {"type": "integer", "description": "Seed shape: the one product."},
        "quantity": {"type": "integer", "minimum": 1, "description": "Seed shape: its quantity."},
        "lines": {"type": "array", "minItems": 1, "maxItems": 100, "items": openapi.ref("OrderLineRequest")},
        "customer_id": {"type": ["integer", "null"], "description": "An existing customer of the distributor."},
        "customer": openapi.ref("OrderCustomer"),
        "total_price": {**MONEY_IN, "description": "When given, must equal the server's total, or 422 "
                                                   "`price_mismatch` with `computed_total`."},
        "campaign_code": {"type": ["string", "null"], "maxLength": 32},
        "note": {"type": ["string", "null"], "maxLength": 2000},
    },
    "examples": [{"distributor_id": 101, "product_id": 202, "quantity": 10, "total_price": 500.00},
                 {"customer": {"name": "张三", "phone": "13800138000", "region_code": "440113",
                               "street": "市桥街道", "address": "东环路 1 号"},
                  "lines": [{"product_id": 202, "quantity": 2}], "total_price": "36.00"}],
})
openapi.add_schema("OrderLine", {
    "type": "object", "additionalProperties": False,
    "required": ["line_id", "product_id", "product_name", "quantity", "unit_price", "discount", "amount"],
    "properties": {"line_id": {"type": "integer"}, "product_id": {"type": "integer"},
                   "product_name": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1},
                   "unit_price": MONEY_OUT, "discount": MONEY_OUT, "amount": MONEY_OUT},
})
openapi.add_schema("OrderPayment", {
    "type": "object", "additionalProperties": False,
    "required": ["payment_id", "kind", "method", "reference", "amount", "at"],
    "properties": {"payment_id": {"type": "integer"}, "kind": {"type": "string", "enum": ["payment", "refund"]},
                   "method": {"type": "string", "enum": list(PAYMENT_METHODS)}, "reference": {"type": "string"},
                   "amount": MONEY_OUT, "at": TIME},
})
openapi.add_schema("OrderEvent", {
    "type": "object", "additionalProperties": False, "required": ["at", "kind", "from", "to", "note", "actor"],
    "properties": {"at": TIME,
                   "kind": {"type": "string", "enum": ["placed", "edited", "transition", "courier", "routed",
                                                       "rated"]},
                   "from": {"type": ["string", "null"]}, "to": {"type": ["string", "null"]},
                   "note": {"type": "string"}, "actor": {"type": "string", "description": "Who acted (system: "
                                                                                         "a scheduled job)."}},
})
openapi.add_schema("OrderRating", {
    "type": "object", "additionalProperties": False, "required": ["order_id", "score", "comment", "source", "at"],
    "properties": {"order_id": {"type": "integer"}, "score": {"type": "integer", "minimum": 1, "maximum": 5},
                   "comment": {"type": "string"}, "source": {"type": "string", "enum": ["web", "api"]}, "at": TIME},
})
openapi.add_schema("Order", {
    "type": "object", "additionalProperties": False,
    "required": ["order_id", "reference", "status", "distributor_id", "warehouse_id", "customer_id", "courier",
                 "address", "subtotal", "discount", "total_price", "currency", "refund_due", "source",
                 "campaign_code", "note", "created_at", "paid_at", "assigned_at", "shipped_at", "delivered_at",
                 "completed_at", "cancelled_at", "refunded_at", "lines", "payments", "rating", "timeline",
                 "allowed_transitions"],
    "properties": {
        "order_id": {"type": "integer"}, "reference": {"type": "string", "examples": ["DD000017"]},
        "status": STATUS,
        "distributor_id": {"type": ["integer", "null"], "description": "null: in HQ's unassigned queue."},
        "warehouse_id": {"type": ["integer", "null"]}, "customer_id": {"type": ["integer", "null"]},
        "courier": {"oneOf": [{"type": "null"}, {
            "type": "object", "additionalProperties": False, "required": ["courier_id", "name"],
            "properties": {"courier_id": {"type": "integer"}, "name": {"type": "string"}}}]},
        "address": {"type": "object", "additionalProperties": False,
                    "required": ["name", "phone", "region_code", "street", "address"],
                    "properties": {"name": {"type": "string"},
                                   "phone": {"type": "string", "description": "Masked (138****8000) unless the "
                                                                              "caller may see customers' phones."},
                                   "region_code": {"type": ["string", "null"]}, "street": {"type": "string"},
                                   "address": {"type": "string"}}},
        "subtotal": MONEY_OUT, "discount": MONEY_OUT, "total_price": MONEY_OUT,
        "currency": {"type": "string", "examples": ["CNY"]},
        "refund_due": {**MONEY_OUT, "description": "Owed back to the customer after a cancellation or refund."},
        "source": {"type": "string", "enum": ["web", "api"]}, "campaign_code": {"type": ["string", "null"]},
        "note": {"type": "string"}, "created_at": TIME, "paid_at": NULLABLE_TIME, "assigned_at": NULLABLE_TIME,
        "shipped_at": NULLABLE_TIME, "delivered_at": NULLABLE_TIME, "completed_at": NULLABLE_TIME,
        "cancelled_at": NULLABLE_TIME, "refunded_at": NULLABLE_TIME,
        "lines": {"type": "array", "items": openapi.ref("OrderLine")},
        "payments": {"type": "array", "items": openapi.ref("OrderPayment")},
        "rating": {"oneOf": [{"type": "null"}, openapi.ref("OrderRating")]},
        "timeline": {"type": "array", "items": openapi.ref("OrderEvent")},
        "allowed_transitions": {"type": "array", "items": {"type": "string", "enum": MOVES},
                                "description": "The states this caller may move the order to now (assigned, "
                                               "which needs a courier, is not listed)."},
    },
})
openapi.add_schema("OrderTransition", {
    "type": "object", "required": ["to"],
    "properties": {
        "to": {"type": "string", "enum": MOVES},
        "courier_id": {"type": "integer", "description": "to=assigned: one of the distributor's couriers (again "
                                                         "on an assigned order: reassign)."},
        "reason": {"type": "string", "maxLength": 500, "description": "Why (required for refunded)."},
        "note": {"type": "string", "maxLength": 500, "description": "A note for the timeline."},
        "payment": {"type": "object", "description": "to=paid: how the whole total was paid.",
                    "properties": {"method": {"type": "string", "enum": list(PAYMENT_METHODS), "default": "other"},
                                   "reference": {"type": "string", "maxLength": 64},
                                   "amount": {**MONEY_IN, "description": "Must equal the order's total."}}},
        "restock": {"type": "boolean", "default": True,
                    "description": "to=refunded: return the goods to the warehouse's stock."},
    },
    "examples": [{"to": "paid", "payment": {"method": "wechat", "reference": "4200001234", "amount": "500.00"}},
                 {"to": "assigned", "courier_id": 7}, {"to": "cancelled", "reason": "客户取消"}],
})
openapi.add_schema("OrderRatingRequest", {
    "type": "object", "required": ["score"],
    "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5},
                   "comment": {"type": ["string", "null"], "maxLength": 500}},
    "examples": [{"score": 5, "comment": "送货很快"}],
})

ORDER_ID = {"name": "order_id", "in": "path", "required": True, "schema": {"type": "integer"}}
openapi.add_path("/api/orders", "post", {
    "operationId": "createOrder", "tags": ["orders"],
    "summary": "Place an order (orders.manage: admin, distributor, integration client)",
    "description": "The server prices every line from the price list in force. 422 `price_mismatch` (with "
                   "`computed_total` in the error) when `total_price` differs from the server's total; 422 "
                   "names every bad field (`lines.0.quantity`, `customer.phone`, ...). Stock is reserved in the "
                   "distributor's warehouse for all lines at once: 409 `insufficient_stock` (with `product_id`, "
                   "`available`, `requested`) and nothing reserved when one is short. 404 for another "
                   "distributor's `distributor_id` or `customer_id`; 409 `distributor_inactive` for a suspended "
                   "distributor. An order no territory covers is accepted with `distributor_id` null.",
    "parameters": [openapi.IDEMPOTENCY_KEY], "requestBody": openapi.json_body("OrderRequest"),
    "responses": {"201": openapi.json_response("Order", "Created.", idempotent=True),
                  **openapi.errors(400, 401, 403, 404, 409, 422)},
})
openapi.add_path("/api/orders", "get", {
    "operationId": "listOrders", "tags": ["orders"], "summary": "Orders the caller may see, newest first",
    "description": "HQ sees all; a distributor's token its own; an integration client without a distributor "
                   "the orders it placed; a courier the orders assigned to them.",
    "parameters": [*openapi.PAGE_PARAMETERS,
                   {"name": "status", "in": "query", "required": False, "schema": STATUS},
                   {"name": "distributor_id", "in": "query", "required": False,
                    "schema": {"type": "string", "pattern": r"^(\d{1,9}|none)$"},
                    "description": "A distributor id, or `none` for HQ's unassigned queue."}],
    "responses": {"200": openapi.json_response(openapi.page_of("Order")), **openapi.errors(400, 401, 403)},
})
openapi.add_path("/api/orders/{order_id}", "get", {
    "operationId": "getOrder", "tags": ["orders"],
    "summary": "One order with lines, payments, courier, address, rating and timeline",
    "parameters": [ORDER_ID],
    "responses": {"200": openapi.json_response("Order"), **openapi.errors(401, 403, 404)},
})
openapi.add_path("/api/orders/{order_id}/transitions", "post", {
    "operationId": "transitionOrder", "tags": ["orders"], "summary": "Move an order to another state",
    "description": "pending -> paid -> assigned -> shipped -> delivered -> completed; cancelled from pending, "
                   "paid or assigned; refunded from delivered or completed. 409 `invalid_transition` for a move "
                   "the order's state does not allow (the error carries the order's `status` and the `to` asked "
                   "for); 422 for a missing courier, a payment amount other than the "
                   "total, a refund without a reason. A courier may ship and deliver their own orders.",
    "parameters": [ORDER_ID, openapi.IDEMPOTENCY_KEY], "requestBody": openapi.json_body("OrderTransition"),
    "responses": {"200": openapi.json_response("Order", idempotent=True),
                  **openapi.errors(400, 401, 403, 404, 409, 422)},
})
openapi.add_path("/api/orders/{order_id}/rating", "post", {
    "operationId": "rateOrder", "tags": ["orders"], "summary": "Record the customer's satisfaction (1-5)",
    "description": "Once per order, after delivery: 409 `duplicate` when already rated, 409 `invalid_transition` "
                   "before delivery.",
    "parameters": [ORDER_ID, openapi.IDEMPOTENCY_KEY], "requestBody": openapi.json_body("OrderRatingRequest"),
    "responses": {"201": openapi.json_response("OrderRating", "Created.", idempotent=True),
                  **openapi.errors(400, 401, 403, 404, 409, 422)},
})
