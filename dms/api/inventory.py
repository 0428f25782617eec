"""Stock over the API (API.md "Catalog and stock"): the stock count and stock by warehouse and batch.

A distributor works on its own warehouse only: another's `warehouse_id` answers 404, and its reads
show only its own warehouse (DESIGN.md §9).
"""

from datetime import date

from flask import g
from flask_babel import gettext as _
from sqlalchemy import select

from dms.api import bp, openapi
from dms.api.auth import api_view
from dms.api.helpers import json_body
from dms.catalog.models import Product
from dms.core.errors import NotFound, ValidationError
from dms.core.rows import MAX_ID
from dms.core.scope import scoped
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import services


def _product(product_id: int) -> Product:
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound()
    return product


def _count_body(body: dict) -> dict:
    """The fields of a count request; ValidationError naming each bad one."""
    errors = {}
    stock = body.get("stock")
    if isinstance(stock, bool) or not isinstance(stock, int) or stock < 0:
        errors["stock"] = [_("A whole number, 0 or more.")]
    code = body.get("batch_id")
    if code is not None and not isinstance(code, str):
        errors["batch_id"] = [_("The batch code must be text.")]
    expiry = body.get("expiry_date")
    if expiry is not None:
        try:
            expiry = date.fromisoformat(expiry) if isinstance(expiry, str) and len(expiry) == 10 else None
        except ValueError:
            expiry = None
        if expiry is None:
            errors["expiry_date"] = [_("A date such as 2026-05-01.")]
    warehouse_id = body.get("warehouse_id")
    if warehouse_id is not None and (isinstance(warehouse_id, bool) or not isinstance(warehouse_id, int)):
        errors["warehouse_id"] = [_("A warehouse id (a whole number).")]
    if errors:
        raise ValidationError(fields=errors)
    return {"stock": stock, "batch_code": code, "expiry_date": expiry, "warehouse_id": warehouse_id}


def _renamed(exc: ValidationError) -> ValidationError:
    """The service's field names as the API calls them (batch -> batch_id)."""
    fields = {("batch_id" if name == "batch" else name): messages for name, messages in exc.fields.items()}
    return ValidationError(exc.message, fields=fields)


@bp.put("/inventory/<int:product_id>")
@api_view(permission="inventory.manage")
def set_inventory(product_id: int):
    """Set the counted stock of one batch in a warehouse; the difference is one "count" movement."""
    data = _count_body(json_body())
    product = _product(product_id)
    if data["warehouse_id"] is not None and data["warehouse_id"] > MAX_ID:
        raise NotFound()  # past the integer columns' range: no warehouse (and no overflow in the lookup)
    warehouse = services.warehouse_for(g.principal, data["warehouse_id"])
    try:
        balance, _movement = services.set_count(g.principal, warehouse, product, data["batch_code"], data["stock"],
                                                data["expiry_date"], source_type="api")
    except ValidationError as exc:
        raise _renamed(exc) from exc
    return {"product_id": product.id, "warehouse_id": warehouse.id, "batch_id": balance.batch.code,
            "stock": balance.on_hand, "available": balance.available}


@bp.get("/inventory/<int:product_id>")
@api_view(permission="inventory.view")
def get_inventory(product_id: int):
    """The product's stock by warehouse and batch, within the caller's scope."""
    product = _product(product_id)
    warehouse_ids = set(db.session.scalars(scoped(select(Warehouse.id), Warehouse.distributor_id, g.principal)))
    items, on_hand, available = [], 0, 0
    for balance in services.stock_of(product):
        if balance.warehouse_id not in warehouse_ids:
            continue
        expired = services.is_expired(balance.batch)
        items.append({"warehouse_id": balance.warehouse_id, "batch_id": balance.batch.code,
                      "expiry_date": balance.batch.expiry_date.isoformat() if balance.batch.expiry_date else None,
                      "on_hand": balance.on_hand, "reserved": balance.reserved, "available": balance.available,
                      "expired": expired})
        on_hand += balance.on_hand
        # Expired stock cannot be allocated, so it is not available however much lies on the shelf.
        available += 0 if expired else balance.available
    return {"product_id": product.id, "items": items, "on_hand": on_hand, "available": available}


openapi.add_schema("InventoryCount", {
    "type": "object", "required": ["stock"],
    "properties": {
        "stock": {"type": "integer", "minimum": 0, "description": "The counted quantity on hand."},
        "batch_id": {"type": ["string", "null"], "maxLength": 64,
                     "description": "The batch code (required for batch- and serial-tracked products; created "
                                    "when new)."},
        "expiry_date": {"type": ["string", "null"], "format": "date",
                        "description": "The batch's expiry date; must match it if the batch exists."},
        "warehouse_id": {"type": ["integer", "null"],
                         "description": "Default: the caller's own warehouse (HQ's for headquarters)."},
    },
    "examples": [{"stock": 50, "batch_id": "BATCH202309", "expiry_date": "2024-09-13"}],
})
openapi.add_schema("InventoryCountResult", {
    "type": "object", "required": ["product_id", "warehouse_id", "batch_id", "stock", "available"],
    "additionalProperties": False,
    "properties": {"product_id": {"type": "integer"}, "warehouse_id": {"type": "integer"},
                   "batch_id": {"type": "string", "description": "The batch code (empty: no batch)."},
                   "stock": {"type": "integer", "description": "On hand after the count."},
                   "available": {"type": "integer", "description": "On hand minus reserved."}},
})
openapi.add_schema("InventoryItem", {
    "type": "object", "additionalProperties": False,
    "required": ["warehouse_id", "batch_id", "expiry_date", "on_hand", "reserved", "available", "expired"],
    "properties": {"warehouse_id": {"type": "integer"}, "batch_id": {"type": "string"},
                   "expiry_date": {"type": ["string", "null"], "format": "date"},
                   "on_hand": {"type": "integer"}, "reserved": {"type": "integer"}, "available": {"type": "integer"},
                   "expired": {"type": "boolean",
                               "description": "The expiry date is before today (business time zone)."}},
})
openapi.add_schema("Inventory", {
    "type": "object", "required": ["product_id", "items", "on_hand", "available"], "additionalProperties": False,
    "properties": {"product_id": {"type": "integer"},
                   "items": {"type": "array", "items": openapi.ref("InventoryItem")},
                   "on_hand": {"type": "integer"},
                   "available": {"type": "integer", "description": "Available in batches that are not expired."}},
})
PRODUCT_ID = {"name": "product_id", "in": "path", "required": True, "schema": {"type": "integer"}}
openapi.add_path("/api/inventory/{product_id}", "put", {
    "operationId": "setInventory", "tags": ["inventory"],
    "summary": "Set the counted stock of a batch (inventory.manage)",
    "description": "The difference to the stock on hand is recorded as one movement of kind `count`; the same "
                   "request again records nothing. A distributor counts its own warehouse only (another's "
                   "`warehouse_id` is 404). 409 when the count is below the reserved quantity; 422 for a "
                   "negative or non-integer stock, a bad date, or an expiry different from the batch's.",
    "parameters": [PRODUCT_ID], "requestBody": openapi.json_body("InventoryCount"),
    "responses": {"200": openapi.json_response("InventoryCountResult"), **openapi.errors(400, 401, 403, 404, 409, 422)},
})
openapi.add_path("/api/inventory/{product_id}", "get", {
    "operationId": "getInventory", "tags": ["inventory"],
    "summary": "Stock of a product by warehouse and batch (inventory.view)",
    "description": "Batches with stock, in FEFO order per warehouse; a distributor sees its own warehouse only.",
    "parameters": [PRODUCT_ID],
    "responses": {"200": openapi.json_response("Inventory"), **openapi.errors(401, 403, 404)},
})
