"""Order pricing: every line priced on the server from the price list in force (DESIGN.md §5).

Unit prices are the products' retail prices in force now; a discount is an amount off a line (staff
only, never from an integration client). Amounts are rounded to the fen with ROUND_HALF_UP once, per
line; the total is the sum of the line amounts, so the lines always add up to it.

Given the order's region and business day, a running campaign in scope prices a line automatically
(dms.campaigns.services): the unit price stays the list price and the campaign's reduction is the
line's discount; when several apply the largest wins, and a staff discount does not add to it (the
larger of the two stands, and only a campaign's records `campaign_id`).
"""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import lazyload

from dms.campaigns import services as campaigns
from dms.catalog import services as catalog
from dms.catalog.models import Product
from dms.core.errors import ValidationError
from dms.core.rows import is_row_id
from dms.extensions import db

CENT = Decimal("0.01")
MAX_LINES = 100
MAX_QUANTITY = 100_000


def money(value, field: str) -> Decimal:
    """A non-negative amount from a JSON number or decimal string, to two places; ValidationError."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValidationError(fields={field: [_("An amount such as 500.00.")]})
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(fields={field: [_("An amount such as 500.00.")]}) from None
    if not amount.is_finite() or amount < 0 or amount > Decimal("999999999999.99"):
        raise ValidationError(fields={field: [_("An amount such as 500.00.")]})
    # copy_abs: "-0" is not below 0, but would be kept as -0.00 and printed so.
    return amount.quantize(CENT, rounding=ROUND_HALF_UP).copy_abs()


@dataclass
class PricedLine:
    """A line as the server prices it."""

    product: Product
    quantity: int
    unit_price: Decimal
    discount: Decimal
    amount: Decimal
    campaign_id: int | None = None  # the campaign whose reduction is the discount, if one is


def _quantity(value, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUANTITY:
        raise ValidationError(fields={field: [_("A whole number from 1 to %(max)d.", max=MAX_QUANTITY)]})
    return value


def price_lines(raw_lines, allow_discount: bool = False, *, region_code: str | None = None, day: date | None = None,
                campaign_code: str | None = None) -> list[PricedLine]:
    """Price `[{"product_id", "quantity", "discount"?}]`; ValidationError naming each bad line's field.

    A product must exist and be available (priced, not withdrawn); a product may appear once. With the
    business `day` (and the order's region and code) campaigns in scope price the lines; an unknown or
    ended `campaign_code` is an error on that field.
    """
    if not isinstance(raw_lines, list) or not raw_lines:
        raise ValidationError(fields={"lines": [_("Add at least one product.")]})
    if len(raw_lines) > MAX_LINES:
        raise ValidationError(fields={"lines": [_("At most %(max)d lines.", max=MAX_LINES)]})
    errors: dict[str, list] = {}
    offers = []
    if day is not None:
        try:
            offers = campaigns.applicable(region_code, day, campaign_code)
        except ValidationError as exc:
            errors.update(exc.fields)
    ids = [raw.get("product_id") if isinstance(raw, dict) else None for raw in raw_lines]
    wanted = [i for i in ids if is_row_id(i)]
    # Each product with its retail price in force, in one query; tags are not needed to price (still loadable).
    rows = db.session.execute(select(Product, catalog.price_in_force(Product.id).scalar_subquery())
                              .options(lazyload(Product.tags)).where(Product.id.in_(wanted))).all() if wanted else []
    products = {product.id: product for product, _price in rows}
    prices = {product.id: price for product, price in rows}
    priced, seen = [], set()
    for n, raw in enumerate(raw_lines):
        if not isinstance(raw, dict):
            errors[f"lines.{n}"] = [_("A line is an object with product_id and quantity.")]
            continue
        product = products.get(ids[n]) if ids[n] in wanted else None
        if product is None:
            errors[f"lines.{n}.product_id"] = [_("Choose an existing product.")]
            continue
        if product.id in seen:
            errors[f"lines.{n}.product_id"] = [_("%(product)s is listed twice.", product=product.name)]
            continue
        seen.add(product.id)
        price = prices[product.id]
        if product.status != "available" or price is None:
            errors[f"lines.{n}.product_id"] = [_("%(product)s is not available for sale.", product=product.name)]
            continue
        try:
            quantity = _quantity(raw.get("quantity"), f"lines.{n}.quantity")
            gross = (price * quantity).quantize(CENT, rounding=ROUND_HALF_UP)
            discount = Decimal("0.00")
            if raw.get("discount") not in (None, ""):
                discount = money(raw.get("discount"), f"lines.{n}.discount")
            if discount:  # a zero discount ("0", 0, "0.00") is no discount, from anyone
                if not allow_discount:
                    raise ValidationError(fields={f"lines.{n}.discount": [_("Discounts are set by staff only.")]})
                if discount > gross:
                    raise ValidationError(fields={f"lines.{n}.discount": [
                        _("At most the line's amount, %(gross)s.", gross=f"{gross:.2f}")]})
        except ValidationError as exc:
            errors.update(exc.fields)
            continue
        offer, off = campaigns.best_offer(offers, product.id, price, quantity)
        if offer is not None and off >= discount:
            priced.append(PricedLine(product, quantity, price, off, gross - off, offer.campaign_id))
            continue
        priced.append(PricedLine(product, quantity, price, discount, gross - discount))
    if errors:
        raise ValidationError(fields=errors)
    return priced


def totals(lines: list[PricedLine]) -> tuple[Decimal, Decimal, Decimal]:
    """(subtotal before discounts, discounts, total) of priced lines."""
    subtotal = sum(((line.unit_price * line.quantity).quantize(CENT, rounding=ROUND_HALF_UP) for line in lines),
                   Decimal("0.00"))
    discount = sum((line.discount for line in lines), Decimal("0.00"))
    return subtotal, discount, subtotal - discount
