"""The catalog over the API (API.md "Catalog and stock"): products and categories.

Callers who may manage the catalog see every product and every price; others see available
products only, with the retail price and, for a distributor, the distributor price of its level.
"""

from flask import g, request
from flask_babel import gettext as _

from dms.api import bp, openapi
from dms.api.auth import api_view
from dms.api.helpers import json_body, paginate
from dms.catalog import services
from dms.catalog.models import STATUSES, TRACKING, Category, Product
from dms.core.errors import ValidationError
from dms.core.rows import MAX_ID
from dms.distributors.models import Distributor
from dms.extensions import db

LEVELS = list(services.LEVELS)


def _money(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def _caller_level(principal) -> str | None:
    """The level of the caller's distributor, or None for HQ and integration clients."""
    if principal is None or principal.distributor_id is None:
        return None
    distributor = db.session.get(Distributor, principal.distributor_id)
    return distributor.level if distributor else None


def serialize_product(product: Product, principal=None) -> dict:
    """A product as the API shows it to this caller."""
    manages = principal is None or principal.can("catalog.manage")
    level = _caller_level(principal)
    if manages:
        prices = services.distributor_prices(product)
    elif level:
        own = services.price_for_distributor(product, level)
        prices = {level: own} if own is not None else {}
    else:
        prices = {}
    your_price = services.price_for_distributor(product, level) if level else None
    return {
        "product_id": product.id, "name": product.name, "sku": product.sku, "status": product.status,
        "category_id": product.category_id, "category_name": product.category.name if product.category else None,
        "tags": [t.name for t in product.tags], "unit": product.unit, "tracking": product.tracking,
        "low_stock_threshold": product.low_stock_threshold, "image_url": product.image_url,
        "description": product.description, "price": _money(services.current_price(product)),
        "distributor_prices": {lvl: _money(amount) for lvl, amount in prices.items()},
        "your_price": _money(your_price),
    }


def serialize_category(category: Category) -> dict:
    """A category as the API shows it."""
    return {"category_id": category.id, "name": category.name, "parent_id": category.parent_id}


@bp.post("/products")
@api_view(permission="catalog.manage", idempotent=True)
def create_product():
    """Create a product (unknown tags created; pending until it has a retail price); 201 with the product."""
    product = services.create_product(g.principal, json_body())
    return serialize_product(product, g.principal), 201


@bp.get("/products")
@api_view(permission="catalog.view")
def list_products():
    """A page of products, filtered by q (name or SKU), category_id (with subcategories), tag and status."""
    args = request.args
    stmt = services.products_query(g.principal, q=args.get("q"), category_id=args.get("category_id"),
                                   tag=args.get("tag"), status=args.get("status"))
    return paginate(stmt.order_by(Product.id), lambda p: serialize_product(p, g.principal))


@bp.get("/products/<int:product_id>")
@api_view(permission="catalog.view")
def get_product(product_id: int):
    """One product (404 for an unavailable one to a caller who cannot manage the catalog)."""
    return serialize_product(services.get_visible_product(g.principal, product_id), g.principal)


@bp.get("/categories")
@api_view(permission="catalog.view")
def list_categories():
    """Every category, depth first, with its depth and path of names."""
    return {"items": [{**serialize_category(n.category), "depth": n.depth, "path": list(n.path)}
                      for n in services.category_tree()]}


@bp.post("/categories")
@api_view(permission="catalog.manage", idempotent=True)
def create_category():
    """Create a category (a root when parent_id is null); 201; 409 for a sibling of the same name."""
    body = json_body()
    parent_id = body.get("parent_id")
    # An id past the database's integer range would overflow the lookup (a 500): it names no category.
    if not isinstance(parent_id, bool) and str(parent_id).isascii() and str(parent_id).isdigit() \
            and int(parent_id) > MAX_ID:
        raise ValidationError(fields={"parent_id": [_("Choose an existing category.")]})
    category = services.create_category(g.principal, body.get("name"), parent_id)
    return serialize_category(category), 201


NULLABLE_STRING = {"type": ["string", "null"]}
MONEY_IN = {"type": ["number", "string", "null"], "description": "Yuan, at most two decimal places, 0 or more.",
            "examples": ["12.50"]}
MONEY_OUT = {"type": ["string", "null"], "pattern": r"^\d+\.\d{2}$", "examples": ["12.50"]}

openapi.add_schema("ProductRequest", {
    "type": "object", "required": ["name"],
    "properties": {
        "name": {"type": "string", "maxLength": 200, "examples": ["面粉"]},
        "sku": {**NULLABLE_STRING, "maxLength": 64, "description": "Unique; generated when missing."},
        "image_url": {**NULLABLE_STRING, "format": "uri", "description": "http or https."},
        "category_id": {"type": ["integer", "null"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 32},
                 "description": "Tag names; unknown tags are created."},
        "unit": {"type": "string", "maxLength": 16, "default": "件"},
        "tracking": {"type": "string", "enum": list(TRACKING), "default": "none"},
        "low_stock_threshold": {"type": "integer", "minimum": 0, "default": 0},
        "description": {"type": "string"},
        "price": {**MONEY_IN, "description": "The retail price; without one the product is pending."},
        "distributor_price": {**MONEY_IN, "description": "One distributor price for all three levels."},
        "distributor_prices": {"type": "object", "propertyNames": {"enum": LEVELS},
                               "additionalProperties": MONEY_IN,
                               "description": "Distributor prices by level (overrides distributor_price)."},
    },
    "examples": [{"name": "面粉", "image_url": "https://example.com/flour.jpg", "category_id": 1,
                  "tags": ["热销", "食品"]}],
})
openapi.add_schema("Product", {
    "type": "object", "additionalProperties": False,
    "required": ["product_id", "name", "sku", "status", "category_id", "category_name", "tags", "unit", "tracking",
                 "low_stock_threshold", "image_url", "description", "price", "distributor_prices", "your_price"],
    "properties": {
        "product_id": {"type": "integer"}, "name": {"type": "string"}, "sku": {"type": "string"},
        "status": {"type": "string", "enum": list(STATUSES),
                   "description": "pending while no retail price is in force."},
        "category_id": {"type": ["integer", "null"]}, "category_name": NULLABLE_STRING,
        "tags": {"type": "array", "items": {"type": "string"}}, "unit": {"type": "string"},
        "tracking": {"type": "string", "enum": list(TRACKING)}, "low_stock_threshold": {"type": "integer"},
        "image_url": NULLABLE_STRING, "description": {"type": "string"},
        "price": {**MONEY_OUT, "description": "The retail price in force, or null."},
        "distributor_prices": {"type": "object", "propertyNames": {"enum": LEVELS},
                               "additionalProperties": {"type": "string"},
                               "description": "In force, by level: every level for HQ, the caller's own level "
                                              "for a distributor, none for other callers."},
        "your_price": {**MONEY_OUT, "description": "For a distributor: the price of its level; else null."},
    },
})
openapi.add_schema("CategoryRequest", {
    "type": "object", "required": ["name"],
    "properties": {"name": {"type": "string", "maxLength": 64, "examples": ["食品"]},
                   "parent_id": {"type": ["integer", "null"]}},
})
openapi.add_schema("Category", {
    "type": "object", "required": ["category_id", "name", "parent_id"], "additionalProperties": False,
    "properties": {"category_id": {"type": "integer"}, "name": {"type": "string"},
                   "parent_id": {"type": ["integer", "null"]}},
})
openapi.add_schema("CategoryNode", {
    "type": "object", "required": ["category_id", "name", "parent_id", "depth", "path"], "additionalProperties": False,
    "properties": {"category_id": {"type": "integer"}, "name": {"type": "string"},
                   "parent_id": {"type": ["integer", "null"]}, "depth": {"type": "integer", "minimum": 0},
                   "path": {"type": "array", "items": {"type": "string"}}},
})
PRODUCT_ID = {"name": "product_id", "in": "path", "required": True, "schema": {"type": "integer"}}
openapi.add_path("/api/products", "post", {
    "operationId": "createProduct", "tags": ["catalog"], "summary": "Create a product (catalog.manage)",
    "description": "Unknown tags are created. Without a retail price the product is `pending`, with one "
                   "`available`. 422 names every bad field (an unknown category_id too); 409 `duplicate` when the "
                   "SKU is taken.",
    "parameters": [openapi.IDEMPOTENCY_KEY], "requestBody": openapi.json_body("ProductRequest"),
    "responses": {"201": openapi.json_response("Product", "Created.", idempotent=True),
                  **openapi.errors(400, 401, 403, 409, 422)},
})
openapi.add_path("/api/products", "get", {
    "operationId": "listProducts", "tags": ["catalog"], "summary": "Products (catalog.view)",
    "description": "Callers who cannot manage the catalog see available products only.",
    "parameters": [*openapi.PAGE_PARAMETERS,
                   {"name": "q", "in": "query", "required": False, "schema": {"type": "string"},
                    "description": "Part of the name or SKU."},
                   {"name": "category_id", "in": "query", "required": False, "schema": {"type": "integer"},
                    "description": "The category and its subcategories."},
                   {"name": "tag", "in": "query", "required": False, "schema": {"type": "string"}},
                   {"name": "status", "in": "query", "required": False,
                    "schema": {"type": "string", "enum": list(STATUSES)}}],
    "responses": {"200": openapi.json_response(openapi.page_of("Product")), **openapi.errors(400, 401, 403)},
})
openapi.add_path("/api/products/{product_id}", "get", {
    "operationId": "getProduct", "tags": ["catalog"], "summary": "One product (catalog.view)",
    "parameters": [PRODUCT_ID],
    "responses": {"200": openapi.json_response("Product"), **openapi.errors(401, 403, 404)},
})
openapi.add_path("/api/categories", "get", {
    "operationId": "listCategories", "tags": ["catalog"], "summary": "The category tree, depth first (catalog.view)",
    "responses": {"200": openapi.json_response({
        "type": "object", "required": ["items"], "additionalProperties": False,
        "properties": {"items": {"type": "array", "items": openapi.ref("CategoryNode")}}}),
        **openapi.errors(401, 403)},
})
openapi.add_path("/api/categories", "post", {
    "operationId": "createCategory", "tags": ["catalog"], "summary": "Create a category (catalog.manage)",
    "description": "409 `duplicate` when the parent already has a category of that name; 422 for an unknown "
                   "parent_id.",
    "parameters": [openapi.IDEMPOTENCY_KEY], "requestBody": openapi.json_body("CategoryRequest"),
    "responses": {"201": openapi.json_response("Category", "Created.", idempotent=True),
                  **openapi.errors(400, 401, 403, 409, 422)},
})
