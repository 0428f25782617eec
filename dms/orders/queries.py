"""Read-only queries of the order pages: the list's filters and counts, choices, the live line prices.

The live prices use what placing (or editing) will use: the business day, the region campaigns price by
and the order's campaign code, so the form shows the campaign reductions the order will get.

Every query starts from `services.orders_query(actor)`, so a distributor only ever counts, lists or
chooses among its own orders (DESIGN.md §9). Nothing here writes.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import false, func, or_, select

from dms.accounts.models import User
from dms.campaigns import services as campaigns
from dms.campaigns.models import Campaign
from dms.catalog import services as catalog
from dms.catalog.models import Product
from dms.core.errors import NotFound, ValidationError
from dms.core.listing import contains_pattern
from dms.core.time import business_day_bounds_utc, business_today
from dms.customers import services as customers
from dms.customers.models import Customer
from dms.distributors.grants import distributor_for
from dms.distributors.models import Distributor, Warehouse
from dms.extensions import db
from dms.inventory import services as inventory
from dms.orders import pricing
from dms.orders.models import ORDER_STATES, Order, OrderLine
from dms.orders.services import orders_query
from dms.territories.services import ancestors, find_region

UNASSIGNED = "unassigned"  # the distributor filter's value for HQ's queue of orders no territory covers
PRODUCT_OPTIONS_LIMIT = 50
REFERENCE = re.compile(r"^(?:DD)?0*([0-9]{1,9})$", re.IGNORECASE)


def number(value, digits: int = 9) -> int | None:
    """A whole number of at most `digits` ASCII digits from a form or the address, or None for junk."""
    value = (value or "").strip() if isinstance(value, str) else ""
    return int(value) if value.isascii() and value.isdigit() and 0 < len(value) <= digits else None


def _id(value: str) -> int | None:
    """A positive id from a query argument, or None for junk."""
    return number(value) or None


# --- the list ---------------------------------------------------------------------------------------

def search(stmt, text: str):
    """Orders whose reference (DD000017, 17) or customer name or phone matches `text`."""
    text = (text or "").strip()[:100]
    if not text:
        return stmt
    pattern = contains_pattern(text)
    customers = select(Customer.id).where(Customer.name.ilike(pattern, escape="\\")
                                          | Customer.phone.ilike(pattern, escape="\\"))
    matches = [Order.ship_name.ilike(pattern, escape="\\"), Order.ship_phone.ilike(pattern, escape="\\"),
               Order.customer_id.in_(customers)]
    reference = REFERENCE.match(text)
    if reference:
        matches.append(Order.id == int(reference.group(1)))
    return stmt.where(or_(*matches))


def by_status(stmt, value: str):
    return stmt.where(Order.status == value) if value in ORDER_STATES else stmt.where(false())


def by_customer(stmt, value: str):
    """The customer filter: a name or phone, of the customer or of the delivery."""
    pattern = contains_pattern(value[:50])
    customers = select(Customer.id).where(Customer.name.ilike(pattern, escape="\\")
                                          | Customer.phone.ilike(pattern, escape="\\"))
    return stmt.where(or_(Order.ship_name.ilike(pattern, escape="\\"), Order.ship_phone.ilike(pattern, escape="\\"),
                          Order.customer_id.in_(customers)))


def by_courier(stmt, value: str):
    return stmt.where(Order.courier_id == _id(value)) if _id(value) else stmt.where(false())


def by_product(stmt, value: str):
    product_id = _id(value)
    if product_id is None:
        return stmt.where(false())
    return stmt.where(Order.id.in_(select(OrderLine.order_id).where(OrderLine.product_id == product_id)))


def by_distributor(stmt, value: str):
    """HQ's distributor filter; `unassigned` is the queue of orders waiting for HQ to assign them."""
    if value == UNASSIGNED:
        return stmt.where(Order.distributor_id.is_(None))
    return stmt.where(Order.distributor_id == _id(value)) if _id(value) else stmt.where(false())


def since(day: date | None):
    """A filter: orders placed on or after the business day `day` (none when None)."""
    return lambda stmt, _v: stmt.where(Order.created_at >= business_day_bounds_utc(day)[0]) if day else stmt


def until(day: date | None):
    """A filter: orders placed on or before the business day `day` (none when None)."""
    return lambda stmt, _v: stmt.where(Order.created_at < business_day_bounds_utc(day)[1]) if day else stmt


def region_path(code: str | None) -> str:
    """A region as people write it, province to county (广东省 广州市 番禺区); the code when unknown."""
    region = find_region(code) if code else None
    if region is None:
        return code or ""
    return " ".join(r.name for r in [*ancestors(region.code), region])


def status_counts(stmt) -> dict[str, int]:
    """status -> how many of the orders `stmt` selects (the list's other filters applied)."""
    sub = stmt.order_by(None).subquery()
    rows = db.session.execute(select(sub.c.status, func.count()).group_by(sub.c.status))
    return {status: count for status, count in rows}


def unassigned_count(actor) -> int:
    """How many orders wait in HQ's unassigned queue."""
    stmt = orders_query(actor).where(Order.distributor_id.is_(None), Order.status == "pending")
    return db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0


def courier_choices(actor) -> list[tuple[str, str]]:
    """The couriers of the orders the actor sees, as (id, name)."""
    ids = orders_query(actor).with_only_columns(Order.courier_id).where(Order.courier_id.is_not(None))
    users = db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.display_name, User.username))
    return [(str(u.id), u.label) for u in users]


def product_choices() -> list[tuple[str, str]]:
    """Every product by name, for the list's product filter."""
    rows = db.session.execute(select(Product.id, Product.name, Product.sku).order_by(Product.name, Product.id))
    return [(str(i), f"{name} ({sku})" if sku else name) for i, name, sku in rows]


def distributor_choices(active_only: bool = False) -> list[tuple[str, str]]:
    """Distributors by name (HQ's filter; the active ones for choosing who takes an order)."""
    # Columns, not objects: HQ's filter lists every distributor (thousands) on each list page.
    stmt = select(Distributor.id, Distributor.kind, Distributor.name, Distributor.company_name).order_by(
        Distributor.name, Distributor.id)
    if active_only:
        stmt = stmt.where(Distributor.status == "active")
    rows = db.session.execute(stmt)
    return [(str(i), company or name if kind == "company" else name) for i, kind, name, company in rows]


# --- the order form: products and live prices ------------------------------------------------------

def sellable_products(text: str = "", selected: int | None = None, limit: int = PRODUCT_OPTIONS_LIMIT) -> list[Product]:
    """Products for sale matching `text` (name or SKU), by name; the `selected` one always included."""
    stmt = select(Product).where(Product.status == "available")
    text = (text or "").strip()[:50]
    if text:
        pattern = contains_pattern(text)
        stmt = stmt.where(Product.name.ilike(pattern, escape="\\") | Product.sku.ilike(pattern, escape="\\"))
    products = list(db.session.scalars(stmt.order_by(Product.name, Product.id).limit(limit)))
    if selected is not None and selected not in {p.id for p in products}:
        chosen = db.session.get(Product, selected)
        if chosen is not None:
            products.insert(0, chosen)
    return products


def fulfilling_warehouse(actor, distributor_id: int | None, ship_from_hq: bool, region_code: str = "",
                         order: Order | None = None) -> Warehouse | None:
    """The warehouse an order being written would ship from (None while no one takes it)."""
    if order is not None:
        return order.warehouse
    try:
        if ship_from_hq:
            return inventory.hq_warehouse()
    except NotFound:
        return None
    distributor = db.session.get(Distributor, distributor_id) if distributor_id else None
    if distributor is None and getattr(actor, "distributor_id", None) is not None:
        distributor = db.session.get(Distributor, actor.distributor_id)
    if distributor is None and region_code:
        distributor = distributor_for(region_code, on=business_today())
    return distributor.warehouse if distributor is not None else None


def campaign_region(actor, distributor_id: int | None, customer_id: int | None, region_code: str = "",
                    order: Order | None = None) -> str | None:
    """The region campaigns price an order being written by, as `services.place_order`/`update_order` take it.

    An order's ship region (else its distributor's); for a new order the chosen customer's region or the
    typed one, else the region of the distributor it is for (chosen, the user's own, the customer's).
    """
    if order is not None:
        return order.ship_region_code or (order.distributor.region_code if order.distributor else None)
    customer = None
    if customer_id is not None:
        try:
            customer = customers.get_customer(actor, customer_id)
        except NotFound:
            customer = None
        if customer is not None and customer.region_code:
            return customer.region_code
    elif region_code:
        return region_code
    distributor = db.session.get(Distributor, distributor_id) if distributor_id else None
    if distributor is None and getattr(actor, "distributor_id", None) is not None:
        distributor = db.session.get(Distributor, actor.distributor_id)
    if distributor is None and customer is not None and customer.distributor_id is not None:
        distributor = db.session.get(Distributor, customer.distributor_id)
    return distributor.region_code if distributor is not None else None


def order_campaign_code(order: Order, day: date | None = None) -> str | None:
    """The code an edit of `order` prices with: its own while that campaign runs, else none (list prices)."""
    day = day or business_today()
    return order.campaign_code if campaigns.code_in_force(order.campaign_code, day) else None


@dataclass
class LineRow:
    """One line of the order form as typed, with what the server says about it."""

    index: int
    product_id: str = ""
    quantity: str = ""
    discount: str = ""
    q: str = ""
    product: Product | None = None
    unit_price: Decimal | None = None
    available: int | None = None
    amount: Decimal | None = None
    errors: dict[str, list[str]] = field(default_factory=dict)
    options: list[Product] = field(default_factory=list)
    campaign: Campaign | None = None  # the campaign whose reduction is the line's discount, if one is
    campaign_discount: Decimal | None = None

    @property
    def blank(self) -> bool:
        return not (self.product_id or self.quantity or self.discount)

    @property
    def short(self) -> bool:
        """True when more is asked than the warehouse has available now (a warning; placing decides)."""
        return (self.available is not None and number(self.quantity) is not None
                and number(self.quantity) > self.available)

    def payload(self) -> dict:
        """The line as the pricing service takes it; junk is passed on for the service to name."""
        quantity = number(self.quantity)
        return {"product_id": number(self.product_id), "quantity": self.quantity or None if quantity is None
                else quantity, "discount": self.discount or None}


@dataclass
class LinesPreview:
    """The lines of an order form priced by the server, without saving anything."""

    rows: list[LineRow]
    subtotal: Decimal = Decimal("0.00")
    discount: Decimal = Decimal("0.00")
    total: Decimal = Decimal("0.00")
    errors: list[str] = field(default_factory=list)
    warehouse: Warehouse | None = None
    campaign_code: str = ""  # as typed (a new order) or the order's own (an edit)
    code_errors: list[str] = field(default_factory=list)


def place_line_errors(rows: list[LineRow], fields: dict) -> list[str]:
    """Put a service's `lines.<n>.<field>` messages on the n-th non-blank row; the names placed."""
    filled = [row for row in rows if not row.blank]
    placed = []
    for name, messages in fields.items():
        parts = name.split(".")
        if len(parts) in (2, 3) and parts[0] == "lines" and parts[1].isdigit() and int(parts[1]) < len(filled):
            shown = filled[int(parts[1])].errors.setdefault(parts[2] if len(parts) == 3 else "product_id", [])
            shown.extend(m for m in map(str, messages) if m not in shown)  # a message placed twice shows once
            placed.append(name)
    return placed


def preview_lines(rows: list[LineRow], warehouse: Warehouse | None, check: bool = True, *,
                  region_code: str | None = None, campaign_code: str | None = None,
                  day: date | None = None) -> LinesPreview:
    """Price the typed lines with `pricing.price_lines` (saving nothing): unit price, stock, amounts, total.

    Campaigns running on `day` (the business day) in `region_code` price the lines, with `campaign_code`'s
    campaign too; an unknown or ended code is put in `code_errors` and the lines priced without it. With
    `check` the lines' mistakes are put beside them; the total is that of the lines priced.
    """
    day = day or business_today()
    typed = (campaign_code or "").strip()[:64]
    code = typed.upper() or None
    preview = LinesPreview(rows=rows, warehouse=warehouse, campaign_code=typed)
    if code is not None:
        try:
            campaigns.check_code(code, day)
        except ValidationError as exc:
            preview.code_errors = [str(m) for m in exc.fields.get("campaign_code", [exc.message])]
            code = None
    ids = {number(r.product_id) for r in rows} - {None}
    products = {p.id: p for p in db.session.scalars(select(Product).where(Product.id.in_(ids)))} if ids else {}
    for row in rows:
        row.product = products.get(number(row.product_id))
        row.options = sellable_products(row.q, row.product.id if row.product else None)
        if row.product is not None:
            row.unit_price = catalog.current_price(row.product)
            row.available = inventory.available_of(row.product, warehouse) if warehouse is not None else None
    filled = [row for row in rows if not row.blank]
    if not filled:
        return preview

    def price(some: list[LineRow]):
        return pricing.price_lines([row.payload() for row in some], allow_discount=True, region_code=region_code,
                                   day=day, campaign_code=code)

    try:
        good = list(zip(filled, price(filled), strict=True))
    except ValidationError as exc:
        if check:
            placed = place_line_errors(rows, exc.fields)
            preview.errors += [str(m) for name, ms in exc.fields.items() if name not in placed for m in ms]
        bad = {int(name.split(".")[1]) for name in exc.fields if name.count(".") >= 1 and name.split(".")[1].isdigit()}
        rest = [row for n, row in enumerate(filled) if n not in bad]
        try:
            good = list(zip(rest, price(rest), strict=True)) if rest else []
        except ValidationError:
            good = []
    chosen = {line.campaign_id for _row, line in good} - {None}
    found = {c.id: c for c in db.session.scalars(select(Campaign).where(Campaign.id.in_(chosen)))} if chosen else {}
    for row, line in good:
        row.amount = line.amount
        if line.campaign_id is not None:
            row.campaign, row.campaign_discount = found.get(line.campaign_id), line.discount
    preview.subtotal, preview.discount, preview.total = pricing.totals([line for _row, line in good])
    return preview
