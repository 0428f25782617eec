"""Customers over the API (issue 6): the mini-program registers a household before it orders, and reads it back.

Scope follows the web (`customers.services.customers_query`): HQ sees all customers, a distributor's
token (user or client) its own. An integration client without a distributor sees the customers it
registered and the customers of the orders it placed; anything else answers 404. Phones are personal
data: masked (138****8000) unless the caller holds customers.reveal_phone.
"""

from flask import g, request
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from dms.api import bp, openapi
from dms.api.auth import api_view
from dms.api.helpers import json_body, paginate
from dms.core.crypto import mask_phone
from dms.core.errors import Conflict, NotFound, ValidationError
from dms.core.listing import contains_pattern
from dms.core.locks import lock_subject
from dms.core.rows import is_row_id
from dms.core.scope import HQ_SCOPE
from dms.core.time import business_today
from dms.customers import services as customers
from dms.customers.models import CUSTOMER_KINDS, CUSTOMER_SOURCES, Customer, CustomerPhone
from dms.distributors.grants import distributor_for
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.orders.models import Order

MAX_TAGS = 20
TAG_LENGTH = 32
NOTE_LENGTH = 2000
SEARCH_LENGTH = 50


def _timestamp(value) -> str | None:
    from datetime import UTC

    return value.replace(tzinfo=UTC).isoformat() if value else None


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _client_id(principal) -> int | None:
    client = getattr(principal, "client", None)
    return client.id if client is not None else None


def customers_query(principal):
    """A select of the customers the caller may see (the web's scope; a distributor-less client also sees
    the customers of the orders it placed)."""
    scope = customers.customers_query(principal)
    client_id = _client_id(principal)
    if client_id is None or principal.can(HQ_SCOPE) or principal.distributor_id is not None:
        return scope
    ordered = select(Order.customer_id).where(Order.api_client_id == client_id, Order.customer_id.is_not(None))
    return select(Customer).where(or_(Customer.id.in_(scope.with_only_columns(Customer.id)),
                                      Customer.id.in_(ordered)))


def scoped_customer(principal, customer_id: int) -> Customer:
    """One customer within the caller's scope; NotFound otherwise (another distributor's included)."""
    if not is_row_id(customer_id):
        raise NotFound()
    customer = db.session.scalar(customers_query(principal).where(Customer.id == customer_id))
    if customer is None:
        raise NotFound()
    return customer


def serialize_customer(customer: Customer, principal) -> dict:
    """A customer as the API shows it: phones (masked without customers.reveal_phone), addresses, tags, tier."""
    reveal = principal.can("customers.reveal_phone")

    def phone(number: str) -> str:
        return number if reveal else mask_phone(number)

    return {
        "customer_id": customer.id, "distributor_id": customer.distributor_id, "kind": customer.kind,
        "name": customer.name, "phone": phone(customer.phone),
        "phones": [{"number": phone(p.number), "label": p.label} for p in customer.phones],
        "region_code": customer.region_code, "street": customer.street, "address": customer.address,
        "addresses": [{"address_id": a.id, "label": a.label, "region_code": a.region_code, "street": a.street,
                       "address": a.address, "is_default": a.is_default} for a in customer.addresses],
        "tags": sorted(tag.name for tag in customer.tags), "source": customer.source, "owner_id": customer.owner_id,
        "note": customer.note, "tier": customer.effective_tier, "tier_overridden": customer.tier_override is not None,
        "rfm_score": customer.rfm_score, "created_at": _timestamp(customer.created_at),
    }


# --- registering ------------------------------------------------------------------------------------

def _text(body: dict, name: str, limit: int, errors: dict) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value.strip()) > limit:
        errors[name] = [_("Text of at most %(n)d characters.", n=limit)]
        return ""
    return value.strip()


def _tags(value, errors: dict) -> list[str]:
    """A list of tag names (each 1 to 32 characters, at most 20), duplicates dropped, order kept."""
    if value is None:
        return []
    message = _("A list of at most %(count)d tags of 1 to %(n)d characters.", count=MAX_TAGS, n=TAG_LENGTH)
    if not isinstance(value, list) or len(value) > MAX_TAGS or not all(isinstance(t, str) for t in value):
        errors["tags"] = [message]
        return []
    names = [t.strip() for t in value]
    if not all(0 < len(name) <= TAG_LENGTH for name in names):
        errors["tags"] = [message]
        return []
    return list(dict.fromkeys(names))


def _clean(body: dict) -> dict:
    """The registration body checked field by field; ValidationError naming every bad field at once."""
    errors: dict = {}
    try:
        cleaned = customers.clean_address(body)
    except ValidationError as exc:
        errors.update(exc.fields)
        cleaned = {}
    if body.get("distributor_id") is not None and not _is_int(body.get("distributor_id")):
        errors["distributor_id"] = [_("A whole number (an id).")]
    kind = body.get("kind", "person")
    if kind not in CUSTOMER_KINDS:
        errors["kind"] = [_("One of: %(kinds)s.", kinds=", ".join(CUSTOMER_KINDS))]
    # A client is usually the ordering mini-program; it may say otherwise (an ERP importing walk-ins).
    source = body.get("source", "mini_program" if g.principal.kind == "client" else "other")
    if source not in CUSTOMER_SOURCES:
        errors["source"] = [_("One of: %(sources)s.", sources=", ".join(CUSTOMER_SOURCES))]
    note = _text(body, "note", NOTE_LENGTH, errors)
    tags = _tags(body.get("tags"), errors)
    if errors:
        raise ValidationError(fields=errors)
    return {**cleaned, "distributor_id": body.get("distributor_id"), "kind": kind, "source": source, "note": note,
            "tags": tags}


def _distributor(principal, distributor_id: int | None, region_code: str) -> Distributor | None:
    """Whose customer it is: the one named (within scope), the caller's own, else routed by territory (or none)."""
    own = principal.distributor_id
    if distributor_id is None:
        if own is not None:
            return db.session.get(Distributor, own)
        return distributor_for(region_code, on=business_today())
    if own is not None and distributor_id != own and not principal.can(HQ_SCOPE):
        raise NotFound(_("Unknown distributor."))
    distributor = db.session.get(Distributor, distributor_id) if is_row_id(distributor_id) else None
    if distributor is None:
        raise ValidationError(fields={"distributor_id": [_("Unknown distributor.")]})
    return distributor


def register_customer(principal, body: dict) -> Customer:
    """A new customer from the API body, routed like an order; ValidationError, NotFound, Conflict `duplicate`."""
    data = _clean(body)
    distributor = _distributor(principal, data.pop("distributor_id"), data["region_code"])
    distributor_id = distributor.id if distributor is not None else None
    # Two registrations of one phone for one distributor at once: the second waits here, then sees the first
    # (the same lock the CRM form takes).
    lock_subject("customers", distributor_id or 0)
    existing = customers.phone_owner(distributor_id, data["phone"])
    if existing is not None:
        message = _("A customer with this phone already exists.")
        raise Conflict(message, fields={"phone": [message]}, code="duplicate", customer_id=existing.id)
    return customers.create_customer(principal, distributor_id, data)


# --- the endpoints -----------------------------------------------------------------------------------

@bp.post("/customers")
@api_view(permission="customers.manage", idempotent=True)
def create_customer():
    """Register a customer (routed by territory without distributor_id); 201; 409 duplicate for a known phone."""
    customer = register_customer(g.principal, json_body())
    return serialize_customer(customer, g.principal), 201, {"Location": f"/api/customers/{customer.id}"}


@bp.get("/customers")
@api_view(permission="customers.view")
def list_customers():
    """A page of the customers the caller may see, newest first; ?q= searches name and phones."""
    stmt = customers_query(g.principal)
    text = (request.args.get("q") or "").strip()[:SEARCH_LENGTH]
    if text:
        pattern = contains_pattern(text)
        other = select(CustomerPhone.customer_id).where(CustomerPhone.number.ilike(pattern, escape="\\"))
        stmt = stmt.where(or_(Customer.name.ilike(pattern, escape="\\"), Customer.phone.ilike(pattern, escape="\\"),
                              Customer.id.in_(other)))
    stmt = stmt.order_by(Customer.id.desc()).options(selectinload(Customer.phones), selectinload(Customer.addresses))
    return paginate(stmt, lambda customer: serialize_customer(customer, g.principal))


@bp.get("/customers/<int:customer_id>")
@api_view(permission="customers.view")
def get_customer(customer_id: int):
    """One customer with phones, addresses, tags and tier (404 outside the caller's scope)."""
    return serialize_customer(scoped_customer(g.principal, customer_id), g.principal)


# --- the OpenAPI document ------------------------------------------------------------------------------

PHONE_OUT = {"type": "string", "description": "Masked (138****8000) unless the caller may see customers' phones."}
openapi.add_schema("CustomerRequest", {
    "type": "object", "required": ["name", "phone", "region_code"],
    "properties": {
        "distributor_id": {"type": ["integer", "null"],
                           "description": "Whose customer. Default: the caller's own distributor; else the "
                                          "distributor whose territory covers `region_code`; none covers it: "
                                          "unassigned (HQ)."},
        "name": {"type": "string", "maxLength": 120},
        "phone": {"type": "string", "description": "A mainland mobile number.", "examples": ["13800138000"]},
        "kind": {"type": "string", "enum": list(CUSTOMER_KINDS), "default": "person"},
        "region_code": {"type": "string", "description": "GB/T 2260 code of the default address.",
                        "examples": ["440605"]},
        "street": {"type": "string", "maxLength": 100, "description": "Street or community (街道/小区)."},
        "address": {"type": "string", "maxLength": 255},
        "tags": {"type": "array", "maxItems": MAX_TAGS,
                 "items": {"type": "string", "minLength": 1, "maxLength": TAG_LENGTH},
                 "description": "Tag names; unknown tags are created."},
        "source": {"type": "string", "enum": list(CUSTOMER_SOURCES),
                   "description": "Default: mini_program for an integration client, other for a person."},
        "note": {"type": ["string", "null"], "maxLength": NOTE_LENGTH},
    },
    "examples": [{"name": "张三", "phone": "13800138000", "region_code": "440605", "street": "桂城街道",
                  "address": "南海大道北 88 号", "tags": ["VIP"]}],
})
openapi.add_schema("Customer", {
    "type": "object", "additionalProperties": False,
    "required": ["customer_id", "distributor_id", "kind", "name", "phone", "phones", "region_code", "street",
                 "address", "addresses", "tags", "source", "owner_id", "note", "tier", "tier_overridden",
                 "rfm_score", "created_at"],
    "properties": {
        "customer_id": {"type": "integer"},
        "distributor_id": {"type": ["integer", "null"], "description": "null: unassigned, waiting for HQ."},
        "kind": {"type": "string", "enum": list(CUSTOMER_KINDS)}, "name": {"type": "string"}, "phone": PHONE_OUT,
        "phones": {"type": "array", "description": "Other numbers.", "items": {
            "type": "object", "additionalProperties": False, "required": ["number", "label"],
            "properties": {"number": PHONE_OUT, "label": {"type": "string"}}}},
        "region_code": {"type": ["string", "null"]}, "street": {"type": "string"}, "address": {"type": "string"},
        "addresses": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["address_id", "label", "region_code", "street", "address", "is_default"],
            "properties": {"address_id": {"type": "integer"}, "label": {"type": "string"},
                           "region_code": {"type": "string"}, "street": {"type": "string"},
                           "address": {"type": "string"}, "is_default": {"type": "boolean"}}}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "source": {"type": "string", "enum": list(CUSTOMER_SOURCES)},
        "owner_id": {"type": ["integer", "null"], "description": "The distributor's user who looks after them."},
        "note": {"type": "string"},
        "tier": {"type": ["string", "null"], "description": "The tier in force (A, B, C ...): the manual override "
                                                             "when set, else the one computed from the RFM score."},
        "tier_overridden": {"type": "boolean"},
        "rfm_score": {"type": ["integer", "null"], "description": "Recency + frequency + monetary, each 1-5."},
        "created_at": {"type": "string", "format": "date-time"},
    },
})
CUSTOMER_ID = {"name": "customer_id", "in": "path", "required": True, "schema": {"type": "integer"}}
openapi.add_path("/api/customers", "post", {
    "operationId": "createCustomer", "tags": ["customers"],
    "summary": "Register a customer (customers.manage: admin, distributor, integration client)",
    "description": "The mini-program registers a household before it orders; its orders with the same `customer` "
                   "(name and phone) are then that customer's. 409 `duplicate` (with the existing `customer_id`) "
                   "when the distributor already has a customer with this phone; 404 for another distributor's "
                   "`distributor_id`; 422 names every bad field.",
    "parameters": [openapi.IDEMPOTENCY_KEY], "requestBody": openapi.json_body("CustomerRequest"),
    "responses": {"201": openapi.json_response("Customer", "Created.", idempotent=True),
                  **openapi.errors(400, 401, 403, 404, 409, 422)},
})
openapi.add_path("/api/customers", "get", {
    "operationId": "listCustomers", "tags": ["customers"], "summary": "Customers the caller may see, newest first",
    "description": "HQ sees all; a distributor's token its own; an integration client without a distributor the "
                   "customers it registered and those of the orders it placed.",
    "parameters": [*openapi.PAGE_PARAMETERS,
                   {"name": "q", "in": "query", "required": False, "schema": {"type": "string", "maxLength": 50},
                    "description": "Part of the name or of a phone number."}],
    "responses": {"200": openapi.json_response(openapi.page_of("Customer")), **openapi.errors(400, 401, 403)},
})
openapi.add_path("/api/customers/{customer_id}", "get", {
    "operationId": "getCustomer", "tags": ["customers"], "summary": "One customer with phones, addresses, tags, tier",
    "parameters": [CUSTOMER_ID],
    "responses": {"200": openapi.json_response("Customer"), **openapi.errors(401, 403, 404)},
})
