"""Orders: the public interface of the orders area — placing, editing, routing, scope, the timeline.

Placing an order prices every line on the server (pricing.py), routes it to a distributor (given,
the actor's own, or by the customer's region with `distributor_for`), and reserves its stock in the
fulfilling warehouse for all lines at once: if one line is short, the InsufficientStock error names
it and the caller's transaction rolls back whole, so nothing stays reserved. Lines are reserved in
product-id order, so two orders touching the same products in opposite orders take the balance rows
in the same order and cannot deadlock. The state machine is in transitions.py. Services flush,
never commit.
"""

from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import false, select
from sqlalchemy.orm import joinedload

from dms.campaigns import services as campaigns
from dms.core import audit
from dms.core.errors import Conflict, Forbidden, InsufficientStock, InvalidTransition, NotFound, ValidationError
from dms.core.rows import is_row_id
from dms.core.scope import HQ_SCOPE
from dms.core.time import business_today
from dms.customers import services as customers
from dms.distributors.grants import distributor_for
from dms.distributors.models import Distributor, Warehouse
from dms.extensions import db
from dms.inventory import services as inventory
from dms.orders import pricing
from dms.orders.models import Order, OrderEvent, OrderLine

STOCK_SOURCE = "order"  # the source_type of an order's stock movements


# --- who may see what ------------------------------------------------------------------------------

def _client_id(actor):
    client = getattr(actor, "client", None)
    return client.id if client is not None else None


def orders_query(actor):
    """A select of the orders `actor` may see: HQ all; a distributor's users and clients its own; a
    courier those assigned to them; an integration client without a distributor those it placed."""
    stmt = select(Order)
    if actor is None or actor.can(HQ_SCOPE):
        return stmt
    if getattr(actor, "distributor_id", None) is not None and actor.can("orders.view"):
        return stmt.where(Order.distributor_id == actor.distributor_id)
    if actor.can("deliveries.own") and getattr(actor, "id", None) is not None:
        return stmt.where(Order.courier_id == actor.id)
    client_id = _client_id(actor)
    if client_id is not None:
        return stmt.where(Order.api_client_id == client_id)
    return stmt.where(false())


def get_order(actor, order_id) -> Order:
    """One order within the actor's scope; NotFound otherwise (another distributor's included)."""
    if not is_row_id(order_id):
        raise NotFound()
    order = db.session.scalar(orders_query(actor).where(Order.id == order_id))
    if order is None:
        raise NotFound()
    return order


def require(actor, permission: str) -> None:
    """Forbidden unless the actor (None: the system) holds `permission`."""
    if actor is not None and not actor.can(permission):
        raise Forbidden()


def is_hq(actor) -> bool:
    return actor is None or actor.can(HQ_SCOPE)


# --- the timeline ----------------------------------------------------------------------------------

def actor_label(actor) -> str:
    if actor is None:
        return "system"
    return str(getattr(actor, "label", None) or getattr(actor, "username", ""))[:120]


def record_event(order: Order, actor, kind: str, note: str = "", from_status: str | None = None,
                 to_status: str | None = None) -> OrderEvent:
    """Append one entry to the order's timeline (who, when, what)."""
    # Through the relationship, so an order whose timeline is loaded shows the new entry without a reload.
    event = OrderEvent(order=order, kind=kind, note=(note or "")[:500], from_status=from_status,
                       to_status=to_status, actor_id=getattr(actor, "id", None), actor_label=actor_label(actor))
    db.session.add(event)
    db.session.flush()
    return event


# --- routing and the customer --------------------------------------------------------------------

def _distributor(actor, distributor_id) -> Distributor | None:
    """The distributor an order is for: given (within scope), the actor's own, or None (route it)."""
    own = getattr(actor, "distributor_id", None) if actor is not None else None
    if distributor_id is None:
        return db.session.get(Distributor, own) if own is not None else None
    if not is_row_id(distributor_id):
        raise ValidationError(fields={"distributor_id": [_("A distributor id (a whole number).")]})
    if own is not None and distributor_id != own and not is_hq(actor):
        raise NotFound(_("Unknown distributor."))
    # Its warehouse in the same query: placing an order needs it.
    distributor = db.session.get(Distributor, distributor_id, options=[joinedload(Distributor.warehouse)])
    if distributor is None:
        raise ValidationError(fields={"distributor_id": [_("Unknown distributor.")]})
    return distributor


def _check_active(distributor: Distributor) -> None:
    if distributor.status != "active":
        raise Conflict(_("%(name)s is %(status)s and takes no orders.", name=distributor.display_name,
                         status=distributor.status), code="distributor_inactive")


def _warehouse(distributor: Distributor | None, ship_from_hq: bool) -> Warehouse | None:
    if distributor is None:
        return None
    if ship_from_hq:
        return inventory.hq_warehouse()
    if distributor.warehouse is None:
        raise Conflict(_("%(name)s has no warehouse to ship from.", name=distributor.display_name))
    return distributor.warehouse


def _ship_to(order: Order, customer, address: dict | None) -> None:
    """Copy the delivery address onto the order: the one given, else the customer's."""
    source = address or ({"name": customer.name, "phone": customer.phone, "region_code": customer.region_code,
                          "street": customer.street, "address": customer.address} if customer else None)
    if source:
        order.ship_name, order.ship_phone = source["name"], source["phone"]
        order.ship_region_code, order.ship_street = source["region_code"], source["street"]
        order.ship_address = source["address"]


# --- stock -----------------------------------------------------------------------------------------

def reserve_stock(actor, order: Order) -> None:
    """Reserve every line in the order's warehouse, in product-id order; InsufficientStock names the short one."""
    if order.warehouse_id is None:
        return
    warehouse = db.session.get(Warehouse, order.warehouse_id)
    fields = {}
    for n, line in sorted(enumerate(order.lines), key=lambda item: item[1].product_id):
        try:
            inventory.reserve(actor, warehouse, line.product, line.quantity, STOCK_SOURCE, order.id)
        except InsufficientStock as exc:
            fields[f"lines.{n}.quantity"] = [exc.message]
            raise InsufficientStock(exc.message, fields=fields, product_id=line.product_id,
                                    available=exc.extra.get("available"), requested=line.quantity) from exc


def release_stock(actor, order: Order, reason: str = "") -> None:
    """Release whatever the order still holds reserved."""
    if order.warehouse_id is None:
        return
    warehouse = db.session.get(Warehouse, order.warehouse_id)
    for line in sorted(order.lines, key=lambda line: line.product_id):
        inventory.release(actor, warehouse, line.product, None, STOCK_SOURCE, order.id, reason=reason)


def reserved_by_line(order: Order) -> dict[int, int]:
    """product id -> what the order holds reserved now (from the ledger)."""
    if order.warehouse_id is None:
        return {}
    warehouse = db.session.get(Warehouse, order.warehouse_id)
    return {line.product_id: sum(q for _b, q in inventory.held_by(warehouse, line.product, STOCK_SOURCE, order.id))
            for line in order.lines}


# --- placing and editing ---------------------------------------------------------------------------

def _lines_from(data: dict) -> list:
    """The lines of a request: `lines`, or the seed's single product_id + quantity."""
    if "lines" in data:
        return data["lines"]
    if "product_id" in data or "quantity" in data:
        return [{"product_id": data.get("product_id"), "quantity": data.get("quantity")}]
    return []


def _set_lines(order: Order, priced) -> None:
    order.lines = [OrderLine(product_id=p.product.id, product=p.product, quantity=p.quantity,
                             unit_price=p.unit_price, discount=p.discount, amount=p.amount,
                             campaign_id=p.campaign_id) for p in priced]
    order.subtotal, order.discount, order.total = pricing.totals(priced)


def _check_total(data: dict, total: Decimal) -> None:
    """A client's `total_price` must equal the server's total: 422 with the computed one otherwise."""
    if data.get("total_price") is None:
        return
    given = pricing.money(data.get("total_price"), "total_price")
    if given != total:
        message = _("The total is %(total)s, not %(given)s.", total=f"{total:.2f}", given=f"{given:.2f}")
        raise ValidationError(message, fields={"total_price": [message]}, code="price_mismatch",
                              computed_total=f"{total:.2f}")


def _pricing_region(customer, address: dict | None, distributor: Distributor | None) -> str | None:
    """The region campaigns price by: where the order ships (as _ship_to copies it), else the distributor's."""
    if address is not None:
        return address["region_code"]
    if customer is not None and customer.region_code:
        return customer.region_code
    return distributor.region_code if distributor is not None else None


def place_order(actor, data: dict) -> Order:
    """Place an order: price, route, reserve; ValidationError, NotFound, Conflict, InsufficientStock (409)."""
    require(actor, "orders.manage")
    if not isinstance(data, dict):
        raise ValidationError()
    hq = is_hq(actor)
    distributor = _distributor(actor, data.get("distributor_id"))
    customer, address = None, None
    if data.get("customer_id") is not None:
        customer = customers.get_customer(actor, data.get("customer_id"))
        if distributor is None and customer.distributor_id is not None:
            distributor = db.session.get(Distributor, customer.distributor_id)
        elif distributor is not None and customer.distributor_id not in (None, distributor.id):
            raise ValidationError(fields={"customer_id": [_("This customer belongs to another distributor.")]})
    elif data.get("customer") is not None:
        try:
            address = customers.clean_address(data.get("customer"))
        except ValidationError as exc:
            raise ValidationError(fields={f"customer.{k}": v for k, v in exc.fields.items()}) from exc
    routed = False
    if distributor is None and address is not None:
        distributor = distributor_for(address["region_code"], on=business_today())
        routed = True
    if distributor is None and not (hq or address is not None):
        raise ValidationError(fields={"distributor_id": [_("Choose the distributor, or give a customer address "
                                                           "to route the order by territory.")]})
    if distributor is not None:
        _check_active(distributor)
    ship_from_hq = bool(data.get("ship_from_hq")) and hq
    campaign_code = _text(data.get("campaign_code"), "campaign_code", 32).upper() or None
    priced = pricing.price_lines(_lines_from(data), allow_discount=getattr(actor, "client", None) is None,
                                 region_code=_pricing_region(customer, address, distributor), day=business_today(),
                                 campaign_code=campaign_code)
    # A new order has no payments, rating or events yet: said here, showing it afterwards asks nothing.
    order = Order(payments=[], events=[], rating=None, status="pending",
                  distributor_id=distributor.id if distributor else None,
                  source="api" if getattr(actor, "kind", None) else "web", api_client_id=_client_id(actor),
                  created_by_id=getattr(actor, "id", None), note=_text(data.get("note"), "note", 2000),
                  campaign_code=campaign_code)
    _set_lines(order, priced)
    _check_total(data, order.total)
    warehouse = _warehouse(distributor, ship_from_hq)
    order.warehouse_id = warehouse.id if warehouse else None
    if address is not None:
        customer = customers.find_or_create(actor, distributor.id if distributor else None, address)
    order.customer_id = customer.id if customer else None
    _ship_to(order, customer, address)
    db.session.add(order)
    db.session.flush()
    if distributor is None:
        note = _("No territory covers %(region)s: waiting for HQ to assign a distributor.",
                 region=order.ship_region_code or "—")
    elif routed:
        note = _("Routed by territory to %(name)s.", name=distributor.display_name)
    else:
        note = ""
    record_event(order, actor, "placed", note, to_status="pending")
    # Audited before reserving: the balance rows reserve_stock locks stay locked until commit, so the less
    # written after it, the less concurrent orders of the same stock wait (a failure rolls back both anyway).
    audit.record("order.place", "order", order.id, f"{order.reference} {order.total:.2f}", actor=actor)
    reserve_stock(actor, order)
    return order


def _text(value, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(fields={field: [_("Text of at most %(n)d characters.", n=limit)]})
    return value.strip()


def update_order(actor, order: Order, data: dict) -> Order:
    """Change a pending order's lines (re-reserved atomically) and note; InvalidTransition unless pending."""
    require(actor, "orders.manage")
    if order.status != "pending":
        raise InvalidTransition(_("Only a pending order can be edited."))
    before = {line.product_id: line.quantity for line in order.lines}
    region = order.ship_region_code or (order.distributor.region_code if order.distributor else None)
    # The code was accepted when the order was placed; once its campaign is over the lines are simply list-priced.
    code = order.campaign_code if campaigns.code_in_force(order.campaign_code, business_today()) else None
    priced = pricing.price_lines(_lines_from(data), allow_discount=getattr(actor, "client", None) is None,
                                 region_code=region, day=business_today(), campaign_code=code)
    release_stock(actor, order, reason="edited")
    for line in list(order.lines):
        order.lines.remove(line)
    db.session.flush()
    _set_lines(order, priced)
    _check_total(data, order.total)
    if "note" in data:
        order.note = _text(data.get("note"), "note", 2000)
    db.session.flush()
    reserve_stock(actor, order)
    after = {line.product_id: line.quantity for line in order.lines}
    record_event(order, actor, "edited", _("Lines changed; total %(total)s.", total=f"{order.total:.2f}"))
    audit.record("order.edit", "order", order.id, order.reference, audit.diff({"lines": before}, {"lines": after}),
                 actor=actor)
    return order


def assign_distributor(actor, order: Order, distributor_id: int, ship_from_hq: bool = False) -> Order:
    """HQ gives an unassigned order to a distributor; its stock is reserved then (InsufficientStock)."""
    require(actor, "orders.manage")
    if not is_hq(actor):
        raise Forbidden()
    if order.distributor_id is not None:
        raise Conflict(_("%(ref)s already belongs to a distributor.", ref=order.reference))
    if order.status != "pending":
        raise InvalidTransition(_("Only a pending order can be assigned to a distributor."))
    distributor = _distributor(actor, distributor_id)
    _check_active(distributor)
    warehouse = _warehouse(distributor, ship_from_hq)
    order.distributor_id, order.warehouse_id = distributor.id, warehouse.id
    if order.customer is not None:
        customers.adopt(order.customer, distributor.id)
    db.session.flush()
    record_event(order, actor, "routed", _("Assigned by HQ to %(name)s.", name=distributor.display_name))
    reserve_stock(actor, order)
    audit.record("order.assign_distributor", "order", order.id, f"{order.reference} -> {distributor.id}",
                 actor=actor)
    return order


# --- invariants --------------------------------------------------------------------------------------

def _expected_stock(status: str, quantity: int) -> set[tuple[int, int]]:
    """The (reserved, issued and not returned) an order line in `status` may hold in the ledger."""
    if status in ("pending", "paid", "assigned"):
        return {(quantity, 0)}
    if status in ("shipped", "delivered", "completed"):
        return {(0, quantity)}
    if status == "refunded":  # restocked or not
        return {(0, quantity), (0, 0)}
    return {(0, 0)}


def stock_differences() -> list[str]:
    """Orders whose reserved or issued stock in the ledger disagrees with their state and lines."""
    from sqlalchemy import func

    from dms.inventory.models import StockMovement

    sums = db.session.execute(
        select(StockMovement.source_id, StockMovement.product_id, func.sum(StockMovement.reserved_delta),
               func.sum(StockMovement.on_hand_delta))
        .where(StockMovement.source_type == STOCK_SOURCE)
        .group_by(StockMovement.source_id, StockMovement.product_id)).all()
    ledger = {(str(source), product): (int(reserved or 0), -int(on_hand or 0))
              for source, product, reserved, on_hand in sums}
    expected = {key: {(0, 0)} for key in ledger}  # a product no line of the order has any more holds nothing
    lines = db.session.execute(select(Order.id, Order.status, Order.warehouse_id, OrderLine.product_id,
                                      OrderLine.quantity).join(OrderLine, OrderLine.order_id == Order.id)).all()
    for order_id, status, warehouse_id, product_id, quantity in lines:
        expected[(str(order_id), product_id)] = _expected_stock(status, quantity) if warehouse_id else {(0, 0)}
    problems = []
    for (order_id, product_id), allowed in sorted(expected.items()):
        held = ledger.get((order_id, product_id), (0, 0))
        if held not in allowed:
            order = db.session.get(Order, int(order_id)) if order_id.isdigit() else None
            problems.append(_("order %(ref)s (%(status)s): product %(product)s has %(reserved)d reserved and "
                              "%(issued)d issued in the ledger", ref=order.reference if order else order_id,
                              status=order.status if order else "?", product=product_id, reserved=held[0],
                              issued=held[1]))
    return problems

