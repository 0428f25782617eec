"""The catalog (public interface of the area): categories, tags, products, images and prices.

Prices are append-only and effective-dated: a change adds a row, so an order that copied an amount
is never altered. A product's status follows its retail price (pending without one in force,
available with one) unless HQ made it unavailable, which sticks until HQ makes it available again.
"""

import io
import re
import secrets
import warnings
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from urllib.parse import urlparse

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import column, event, exists, false, func, or_, select, table

from dms.catalog.models import (
    PRICE_KINDS,
    STATUSES,
    TRACKING,
    Category,
    Price,
    Product,
    ProductImage,
    Tag,
    product_tags,
)
from dms.catalog.storage import get_storage
from dms.core import audit
from dms.core.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationError
from dms.core.listing import contains_pattern
from dms.core.time import utcnow
from dms.extensions import db

LEVELS = ("province", "city", "county")
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")
THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d*)?")
DEFAULT_MAX_IMAGE_BYTES = 5 * 1024 * 1024
# Width x height (x frames of an animation) of an accepted image: 40 megapixels is a large photo.
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
# Magic numbers of the image formats we accept: (content type, file suffix, test on the first bytes).
IMAGE_TYPES = (
    ("image/jpeg", ".jpg", lambda b: b[:3] == b"\xff\xd8\xff"),
    ("image/png", ".png", lambda b: b[:8] == b"\x89PNG\r\n\x1a\n"),
    ("image/gif", ".gif", lambda b: b[:6] in (b"GIF87a", b"GIF89a")),
    ("image/webp", ".webp", lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP"),
)
# Inventory's table, named rather than imported: the catalog is below inventory (DESIGN.md "Areas").
_stock_balances = table("stock_balances", column("product_id"))


def _require(actor, permission: str = "catalog.manage"):
    if actor is not None and not actor.can(permission):
        raise Forbidden()


def _manages(actor) -> bool:
    return actor is None or actor.can("catalog.manage")


# ---------------------------------------------------------------- categories

@dataclass(frozen=True)
class TreeNode:
    """A category in depth-first order with its depth (0 for a root) and its names from the root."""

    category: Category
    depth: int
    path: tuple[str, ...]

    @property
    def label(self) -> str:
        return " / ".join(self.path)


def _get_category(category) -> Category:
    if isinstance(category, Category):
        return category
    found = db.session.get(Category, int(category)) if str(category).isdigit() else None
    if found is None:
        raise NotFound(_("This category does not exist."))
    return found


def _clean_category_name(name) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ValidationError(fields={"name": [_("Enter the name.")]})
    if len(name) > 64:
        raise ValidationError(fields={"name": [_("At most %(n)d characters.", n=64)]})
    return name


def _check_sibling_name(name: str, parent_id: int | None, exclude_id: int | None = None):
    # NULL parents are distinct to the unique constraint, so roots are checked here for both.
    stmt = select(Category.id).where(Category.name == name, Category.parent_id.is_(None) if parent_id is None
                                     else Category.parent_id == parent_id)
    if exclude_id is not None:
        stmt = stmt.where(Category.id != exclude_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        message = _("A category named %(name)s already exists here.", name=name)
        raise Conflict(message, fields={"name": [message]}, code="duplicate")


def _parent(parent_id) -> Category | None:
    if parent_id in (None, ""):
        return None
    if isinstance(parent_id, bool) or not str(parent_id).isdigit():
        raise ValidationError(fields={"parent_id": [_("Choose an existing category.")]})
    parent = db.session.get(Category, int(parent_id))
    if parent is None:
        raise ValidationError(fields={"parent_id": [_("Choose an existing category.")]})
    return parent


def create_category(actor, name, parent_id=None) -> Category:
    """Add a category under `parent_id` (a root when None); ValidationError, Conflict for a sibling's name."""
    _require(actor)
    errors = {}
    try:
        name = _clean_category_name(name)
    except ValidationError as exc:
        errors.update(exc.fields)
    try:
        parent = _parent(parent_id)
    except ValidationError as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationError(fields=errors)
    _check_sibling_name(name, parent.id if parent else None)
    category = Category(name=name, parent=parent)
    db.session.add(category)
    db.session.flush()
    audit.record("category.create", "category", category.id, name, {"name": [None, name],
                 "parent_id": [None, category.parent_id]}, actor=actor)
    return category


def rename_category(actor, category, name) -> Category:
    """Rename a category (a Category or its id); ValidationError, Conflict for a sibling's name."""
    _require(actor)
    category = _get_category(category)
    name = _clean_category_name(name)
    _check_sibling_name(name, category.parent_id, exclude_id=category.id)
    before = category.name
    category.name = name
    db.session.flush()
    audit.record("category.rename", "category", category.id, name, {"name": [before, name]}, actor=actor)
    return category


def move_category(actor, category, parent_id) -> Category:
    """Put a category under another (None: make it a root); ValidationError when that makes a loop."""
    _require(actor)
    category = _get_category(category)
    parent = _parent(parent_id)
    node = parent
    while node is not None:  # the new parent must not be the category or below it
        if node.id == category.id:
            raise ValidationError(fields={"parent_id": [_("A category cannot go under itself or its own "
                                                          "subcategories.")]})
        node = node.parent
    _check_sibling_name(category.name, parent.id if parent else None, exclude_id=category.id)
    before = category.parent_id
    category.parent = parent
    db.session.flush()
    audit.record("category.move", "category", category.id, category.name,
                 {"parent_id": [before, category.parent_id]}, actor=actor)
    return category


def delete_category(actor, category) -> None:
    """Delete an empty category; Conflict while it has subcategories or products."""
    _require(actor)
    category = _get_category(category)
    if db.session.scalar(select(exists().where(Category.parent_id == category.id))):
        raise Conflict(_("%(name)s has subcategories: move or delete them first.", name=category.name),
                       code="not_empty")
    if db.session.scalar(select(exists().where(Product.category_id == category.id))):
        raise Conflict(_("%(name)s still has products: move them to another category first.",
                         name=category.name), code="not_empty")
    audit.record("category.delete", "category", category.id, category.name, {"name": [category.name, None]},
                 actor=actor)
    db.session.delete(category)
    db.session.flush()


def category_tree() -> list[TreeNode]:
    """Every category, depth first, siblings by position then name."""
    categories = list(db.session.scalars(select(Category).order_by(Category.position, Category.name, Category.id)))
    children: dict[int | None, list[Category]] = {}
    for c in categories:
        children.setdefault(c.parent_id, []).append(c)
    nodes: list[TreeNode] = []

    def walk(parent_id, depth, path):
        for c in children.get(parent_id, []):
            nodes.append(TreeNode(c, depth, (*path, c.name)))
            walk(c.id, depth + 1, (*path, c.name))

    walk(None, 0, ())
    return nodes


def descendant_ids(category_id: int) -> list[int]:
    """The category's id and the ids of every category below it."""
    rows = db.session.execute(select(Category.id, Category.parent_id)).all()
    children: dict[int | None, list[int]] = {}
    for cid, parent in rows:
        children.setdefault(parent, []).append(cid)
    found, todo = [], [category_id]
    while todo:
        cid = todo.pop()
        if cid in found:
            continue
        found.append(cid)
        todo.extend(children.get(cid, []))
    return found


# ---------------------------------------------------------------- tags

def _clean_tag_names(names) -> list[str]:
    if isinstance(names, str):
        names = names.replace("，", ",").split(",")
    if not isinstance(names, (list, tuple)):
        raise ValidationError(fields={"tags": [_("A list of tag names.")]})
    cleaned = []
    for name in names:
        if not isinstance(name, str):
            raise ValidationError(fields={"tags": [_("A list of tag names.")]})
        name = name.strip()
        if len(name) > 32:
            raise ValidationError(fields={"tags": [_("A tag has at most %(n)d characters.", n=32)]})
        if name and name not in cleaned:
            cleaned.append(name)
    return cleaned


def get_or_create_tags(names) -> list[Tag]:
    """The tags of these names (a list, or comma-separated text), created when unknown, in the given order."""
    cleaned = _clean_tag_names(names)
    if not cleaned:
        return []
    existing = {t.name: t for t in db.session.scalars(select(Tag).where(Tag.name.in_(cleaned)))}
    for name in cleaned:
        if name not in existing:
            existing[name] = Tag(name=name)
            db.session.add(existing[name])
    db.session.flush()
    return [existing[name] for name in cleaned]


def tags_with_counts() -> list[tuple[Tag, int]]:
    """Every tag with the number of its products, by name."""
    count = func.count(product_tags.c.product_id)
    stmt = (select(Tag, count).outerjoin(product_tags, product_tags.c.tag_id == Tag.id)
            .group_by(Tag.id).order_by(Tag.name))
    return [(tag, n) for tag, n in db.session.execute(stmt).all()]


# ---------------------------------------------------------------- prices

def parse_money(value) -> Decimal:
    """An amount from a JSON number or text: at least 0, at most two decimal places; ValueError with a message."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(_("Enter an amount such as 12.50."))
    try:
        text = str(value).strip()
        if "," in text and not THOUSANDS.fullmatch(text):  # "12,50" is not 1250: commas only group thousands
            raise ValueError(_("Enter an amount such as 12.50."))
        amount = Decimal(text.replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValueError(_("Enter an amount such as 12.50.")) from None
    if not amount.is_finite():
        raise ValueError(_("Enter an amount such as 12.50."))
    if amount < 0:
        raise ValueError(_("An amount cannot be negative."))
    if amount > MAX_AMOUNT:  # first: quantizing a number beyond the context's 28 digits raises
        raise ValueError(_("The amount is too large."))
    if amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        raise ValueError(_("At most two decimal places."))
    return amount.quantize(CENT).copy_abs()  # "-0" is not below 0, but would be kept as -0.00 and printed so


def _check_kind(kind: str, level: str | None):
    if kind not in PRICE_KINDS:
        raise ValidationError(fields={"kind": [_("Either retail or distributor.")]})
    if kind == "distributor" and level not in LEVELS:
        raise ValidationError(fields={"level": [_("Choose province, city or county.")]})
    if kind == "retail" and level is not None:
        raise ValidationError(fields={"level": [_("A retail price has no level.")]})


def price_in_force(product_id, kind: str = "retail", level: str | None = None, at: datetime | None = None):
    """A select of the amount in force at `at` (now by default) for `product_id` (an id, or a column to correlate)."""
    return (select(Price.amount).where(Price.product_id == product_id, Price.kind == kind,
                                       Price.level.is_(None) if level is None else Price.level == level,
                                       Price.effective_from <= (at or utcnow()))
            .order_by(Price.effective_from.desc(), Price.id.desc()).limit(1))


def current_price(product: Product, kind: str = "retail", level: str | None = None,
                  at: datetime | None = None) -> Decimal | None:
    """The amount in force at `at` (now by default): the latest row effective by then, or None."""
    return db.session.scalar(price_in_force(product.id, kind, level, at))


def price_for_distributor(product: Product, distributor_level: str, at: datetime | None = None) -> Decimal | None:
    """The distributor price of that level in force at `at` (now by default), or None."""
    return current_price(product, "distributor", distributor_level, at)


def distributor_prices(product: Product, at: datetime | None = None) -> dict[str, Decimal]:
    """{level: amount} of the distributor prices in force (levels without one left out)."""
    found = {level: price_for_distributor(product, level, at) for level in LEVELS}
    return {level: amount for level, amount in found.items() if amount is not None}


def price_history(product: Product) -> list[Price]:
    """Every price row of the product, newest first."""
    return list(db.session.scalars(select(Price).where(Price.product_id == product.id)
                                   .order_by(Price.effective_from.desc(), Price.id.desc())))


def set_price(actor, product: Product, kind: str, amount, level: str | None = None,
              effective_from: datetime | None = None) -> Price:
    """Append a price from `effective_from` (now by default); older rows are never changed."""
    _require(actor)
    _check_kind(kind, level)
    try:
        amount = parse_money(amount)
    except ValueError as exc:
        raise ValidationError(fields={"amount": [str(exc)]}) from None
    price = Price(product_id=product.id, kind=kind, level=level, amount=amount,
                  effective_from=effective_from or utcnow(), created_by_id=getattr(actor, "id", None))
    db.session.add(price)
    db.session.flush()
    db.session.expire(product, ["prices"])
    audit.record("product.price", "product", product.id, f"{product.sku} {kind} {level or ''} {amount}".strip(),
                 {f"{kind}:{level}" if level else kind: [None, str(amount)],
                  "effective_from": [None, price.effective_from.isoformat(timespec="seconds")]}, actor=actor)
    _refresh_status(actor, product)
    return price


def _refresh_status(actor, product: Product) -> None:
    """Pending without a retail price in force, available with one; HQ's 'unavailable' is kept."""
    if product.status == "unavailable":
        return
    wanted = "available" if current_price(product) is not None else "pending"
    if wanted != product.status:
        before, product.status = product.status, wanted
        db.session.flush()
        audit.record("product.status", "product", product.id, f"{product.sku} {wanted}",
                     {"status": [before, wanted]}, actor=actor)


def set_status(actor, product: Product, status: str) -> Product:
    """HQ makes a product available or unavailable; InvalidTransition for a product without a retail price."""
    _require(actor)
    if status not in ("available", "unavailable"):
        raise ValidationError(fields={"status": [_("Either available or unavailable.")]})
    if status == "available" and current_price(product) is None:
        raise InvalidTransition(_("A product without a retail price stays pending until it has one."),
                                fields={"status": [_("Set a retail price first.")]})
    if status != product.status:
        before, product.status = product.status, status
        db.session.flush()
        audit.record("product.status", "product", product.id, f"{product.sku} {status}",
                     {"status": [before, status]}, actor=actor)
    return product


# ---------------------------------------------------------------- products

PRODUCT_FIELDS = ("name", "sku", "category_id", "unit", "tracking", "low_stock_threshold", "image_url",
                  "description")


def _text(errors, data, key, max_len, required=False, default=None):
    value = data.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[key] = [_("Must be text.")]
        return default
    value = value.strip()
    if required and not value:
        errors[key] = [_("Enter the name.") if key == "name" else _("Required.")]
    elif len(value) > max_len:
        errors[key] = [_("At most %(n)d characters.", n=max_len)]
    return value if value else default


def _clean_product(data: dict, product: Product | None) -> dict:
    """Check the fields present in `data` (all of them on create); ValidationError naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationError()
    errors: dict[str, list] = {}
    cleaned: dict = {}
    creating = product is None

    def given(key):
        return creating or key in data

    if given("name"):
        cleaned["name"] = _text(errors, data, "name", 200, required=True)
    if given("sku"):
        cleaned["sku"] = _text(errors, data, "sku", 64)
    if given("unit"):
        cleaned["unit"] = _text(errors, data, "unit", 16, default="件")
    if given("description"):
        cleaned["description"] = _text(errors, data, "description", 5000, default="")
    if given("category_id"):
        raw = data.get("category_id")
        if raw in (None, ""):
            cleaned["category_id"] = None
        elif isinstance(raw, bool) or not str(raw).isdigit() or len(str(raw)) > 9 \
                or db.session.get(Category, int(raw)) is None:
            errors["category_id"] = [_("Choose an existing category.")]
        else:
            cleaned["category_id"] = int(raw)
    if given("tags"):
        try:
            cleaned["tags"] = _clean_tag_names(data.get("tags") or [])
        except ValidationError as exc:
            errors.update(exc.fields)
    if given("tracking"):
        tracking = data.get("tracking") or "none"
        if tracking not in TRACKING:
            errors["tracking"] = [_("One of none, batch or serial.")]
        else:
            cleaned["tracking"] = tracking
    if given("low_stock_threshold"):
        raw = data.get("low_stock_threshold")
        if raw in (None, ""):
            cleaned["low_stock_threshold"] = 0
        elif isinstance(raw, bool) or not (isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isdigit())) \
                or int(raw) < 0 or int(raw) > 1_000_000_000:
            errors["low_stock_threshold"] = [_("A whole number, 0 or more.")]
        else:
            cleaned["low_stock_threshold"] = int(raw)
    if given("image_url"):
        url = _text(errors, data, "image_url", 500)
        if url:
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in url):
                errors["image_url"] = [_("An address starting with http:// or https://.")]
        cleaned["image_url"] = url
    cleaned["prices"] = _clean_prices(data, errors)
    if errors:
        raise ValidationError(fields=errors)
    return cleaned


def _clean_prices(data: dict, errors: dict) -> dict:
    """{"retail": amount, "province": amount, ...} of the prices given (empty values are not given)."""
    prices = {}

    def money(key, value, target):
        if value in (None, ""):
            return
        try:
            prices[target] = parse_money(value)
        except ValueError as exc:
            errors[key] = [str(exc)]

    money("price", data.get("price"), "retail")
    for level in LEVELS:
        money("distributor_price", data.get("distributor_price"), level)
    given = data.get("distributor_prices")
    if given not in (None, ""):
        if not isinstance(given, dict):
            errors["distributor_prices"] = [_("An object such as {\"city\": \"8.50\"}.")]
        else:
            for level, value in given.items():
                if level not in LEVELS:
                    errors[f"distributor_prices.{level}"] = [_("Choose province, city or county.")]
                else:
                    money(f"distributor_prices.{level}", value, level)
    return prices


def _check_sku(sku: str, exclude_id: int | None = None):
    stmt = select(Product.id).where(Product.sku == sku)
    if exclude_id is not None:
        stmt = stmt.where(Product.id != exclude_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        message = _("Another product already has the SKU %(sku)s.", sku=sku)
        raise Conflict(message, fields={"sku": [message]}, code="duplicate")


def _new_sku() -> str:
    while True:
        sku = f"P{secrets.token_hex(4).upper()}"
        if db.session.scalar(select(Product.id).where(Product.sku == sku)) is None:
            return sku


def has_stock(product: Product) -> bool:
    """True once inventory has recorded any stock of the product (a stock balance row exists)."""
    return bool(db.session.scalar(select(exists().where(_stock_balances.c.product_id == product.id))))


def _snapshot(p: Product) -> dict:
    return {"name": p.name, "sku": p.sku, "category_id": p.category_id, "unit": p.unit, "tracking": p.tracking,
            "low_stock_threshold": p.low_stock_threshold, "image_url": p.image_url, "description": p.description,
            "tags": ", ".join(sorted(t.name for t in p.tags))}


def _apply_prices(actor, product: Product, prices: dict):
    """Append the prices that differ from those in force."""
    for target, amount in prices.items():
        kind, level = ("retail", None) if target == "retail" else ("distributor", target)
        if current_price(product, kind, level) != amount:
            set_price(actor, product, kind, amount, level)


def create_product(actor, data: dict) -> Product:
    """Create a product (SKU generated when missing; unknown tags created); ValidationError, Conflict (SKU)."""
    _require(actor)
    cleaned = _clean_product(data, None)
    sku = cleaned.pop("sku") or _new_sku()
    _check_sku(sku)
    tags = get_or_create_tags(cleaned.pop("tags"))
    prices = cleaned.pop("prices")
    product = Product(sku=sku, status="pending", **cleaned)
    product.tags = tags
    db.session.add(product)
    db.session.flush()
    audit.record("product.create", "product", product.id, f"{product.sku} {product.name}",
                 audit.diff({}, _snapshot(product)), actor=actor)
    _apply_prices(actor, product, prices)
    _refresh_status(actor, product)
    return product


def update_product(actor, product: Product, data: dict) -> Product:
    """Change the fields given; tracking is fixed once stock exists; a price change appends a price."""
    _require(actor)
    cleaned = _clean_product(data, product)
    before = _snapshot(product)
    if cleaned.get("sku") is not None and cleaned["sku"] != product.sku:
        _check_sku(cleaned["sku"], exclude_id=product.id)
    elif "sku" in cleaned:
        cleaned.pop("sku")  # empty keeps the SKU
    if "tracking" in cleaned and cleaned["tracking"] != product.tracking and has_stock(product):
        raise ValidationError(fields={"tracking": [_("Stock of this product exists: its tracking cannot "
                                                     "change any more.")]})
    prices = cleaned.pop("prices")
    if "tags" in cleaned:
        product.tags = get_or_create_tags(cleaned.pop("tags"))
    for key, value in cleaned.items():
        setattr(product, key, value)
    db.session.flush()
    changes = audit.diff(before, _snapshot(product))
    if changes:
        audit.record("product.update", "product", product.id, f"{product.sku} {product.name}", changes, actor=actor)
    _apply_prices(actor, product, prices)
    return product


def get_product(product_id) -> Product:
    """The product of that id; NotFound."""
    product = db.session.get(Product, int(product_id)) if str(product_id).isdigit() else None
    if product is None:
        raise NotFound(_("This product does not exist."))
    return product


def get_visible_product(actor, product_id) -> Product:
    """The product if the actor may see it (those who cannot manage see available ones only); NotFound."""
    product = get_product(product_id)
    if not _manages(actor) and product.status != "available":
        raise NotFound(_("This product does not exist."))
    return product


def products_query(actor, *, q=None, category_id=None, tag=None, status=None):
    """A select of the products the actor may see, filtered; a category includes its subcategories.

    Those who cannot manage the catalog see available products only.
    """
    stmt = select(Product)
    if not _manages(actor):
        stmt = stmt.where(Product.status == "available")
    if q:
        pattern = contains_pattern(str(q).strip()[:100])
        stmt = stmt.where(or_(Product.name.ilike(pattern, escape="\\"), Product.sku.ilike(pattern, escape="\\")))
    if category_id not in (None, ""):
        ids = descendant_ids(int(category_id)) if str(category_id).isdigit() and len(str(category_id)) < 10 else []
        stmt = stmt.where(Product.category_id.in_(ids or [-1]))
    if tag:
        stmt = stmt.where(Product.id.in_(select(product_tags.c.product_id).join(Tag, Tag.id == product_tags.c.tag_id)
                                         .where(Tag.name == str(tag).strip())))
    if status:
        stmt = stmt.where(Product.status == status if status in STATUSES else false())
    return stmt


# ---------------------------------------------------------------- images

# Files follow the transaction: a new file is deleted again if its row is rolled back, and a removed
# image's file is deleted only once the removal is committed.
_SAVED, _RELEASED = "catalog.saved_files", "catalog.released_files"


@event.listens_for(db.session, "after_commit")
def _files_after_commit(session):
    session.info.pop(_SAVED, None)
    for key in session.info.pop(_RELEASED, []):
        get_storage().delete(key)


@event.listens_for(db.session, "after_rollback")
def _files_after_rollback(session):
    session.info.pop(_RELEASED, None)
    for key in session.info.pop(_SAVED, []):
        get_storage().delete(key)


def sniff_image(data: bytes) -> tuple[str, str] | None:
    """(content type, suffix) of a JPEG, PNG, GIF or WebP judged by its first bytes, else None."""
    for content_type, suffix, test in IMAGE_TYPES:
        if test(data[:16]):
            return content_type, suffix
    return None


def check_image_pixels(data: bytes) -> None:
    """Refuse a file Pillow cannot read as an image, or one whose size (from its header, not decoded)
    exceeds MAX_IMAGE_PIXELS: a few kilobytes can declare 50000x50000 pixels and take gigabytes to show."""
    from PIL import Image, UnidentifiedImageError

    limit = int(current_app.config.get("MAX_IMAGE_PIXELS") or DEFAULT_MAX_IMAGE_PIXELS)
    unreadable = ValidationError(fields={"image": [_("The file is not a readable image.")]})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:  # lazy: parses the header, decodes no pixel
                width, height = image.size
                frames = getattr(image, "n_frames", 1)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        width, height, frames = limit + 1, 1, 1
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise unreadable from None
    if width < 1 or height < 1:
        raise unreadable
    if width * height * frames > limit:
        raise ValidationError(fields={"image": [_("The image is too large: at most %(mp)s megapixels.",
                                                  mp=f"{limit / 1_000_000:g}")]})


def add_image(actor, product: Product, file_storage) -> ProductImage:
    """Store an uploaded image (JPEG, PNG, GIF or WebP by content, at most MAX_IMAGE_BYTES); ValidationError."""
    _require(actor)
    limit = int(current_app.config.get("MAX_IMAGE_BYTES") or DEFAULT_MAX_IMAGE_BYTES)
    if file_storage is None or not getattr(file_storage, "filename", None):
        raise ValidationError(fields={"image": [_("Choose an image file.")]})
    data = file_storage.stream.read(limit + 1)
    if not data:
        raise ValidationError(fields={"image": [_("The file is empty.")]})
    if len(data) > limit:
        raise ValidationError(fields={"image": [_("An image may be at most %(mb)s MB.",
                                                  mb=f"{limit / 1024 / 1024:g}")]})
    kind = sniff_image(data)
    if kind is None:
        raise ValidationError(fields={"image": [_("Only JPEG, PNG, GIF or WebP images are accepted.")]})
    check_image_pixels(data)
    content_type, suffix = kind
    key = get_storage().save(data, suffix)
    db.session.info.setdefault(_SAVED, []).append(key)
    position = db.session.scalar(select(func.coalesce(func.max(ProductImage.position), 0))
                                 .where(ProductImage.product_id == product.id)) + 1
    image = ProductImage(product_id=product.id, storage_key=key, content_type=content_type, size=len(data),
                         position=position)
    db.session.add(image)
    db.session.flush()
    db.session.expire(product, ["images"])
    audit.record("product.image_add", "product", product.id, f"{product.sku} {key}",
                 {"image": [None, key]}, actor=actor)
    return image


def get_image(image_id) -> ProductImage:
    """The image of that id; NotFound."""
    image = db.session.get(ProductImage, int(image_id)) if str(image_id).isdigit() else None
    if image is None:
        raise NotFound()
    return image


def remove_image(actor, product: Product, image_id) -> None:
    """Remove one of the product's images and its stored file; NotFound for another product's image."""
    _require(actor)
    image = get_image(image_id)
    if image.product_id != product.id:
        raise NotFound()
    key = image.storage_key
    db.session.delete(image)
    db.session.flush()
    db.session.expire(product, ["images"])
    audit.record("product.image_remove", "product", product.id, f"{product.sku} {key}",
                 {"image": [key, None]}, actor=actor)
    db.session.info.setdefault(_RELEASED, []).append(key)
