"""Demo orders for `flask dms seed-demo`: the demo county agent's customers and an order in every state.

The demo distributor user and the demo courier work for the county agent 黄丽 (南海区 440605), whose
warehouse the inventory seeder stocked; every order here is hers but one, which no territory covers
and which waits in HQ's unassigned queue. Made once: the demo customers' orders are the marker.
"""

from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from dms.core.cli import DEMO_SEEDERS

DEMO_REGION = "440605"  # 南海区, the county agent 黄丽
UNCOVERED_REGION = "110105"  # 北京市朝阳区: no demo territory covers it
CUSTOMERS = [
    # key, name, phone, region, street, address
    ("chen", "陈美玲", "13907570001", DEMO_REGION, "桂城街道", "南海大道北 88 号 3 座 1201"),
    ("he", "何家豪", "13907570002", DEMO_REGION, "大沥镇", "广佛路 216 号商铺"),
    ("liang", "梁淑仪", "13907570003", DEMO_REGION, "里水镇", "里官路 9 号 2 栋 502"),
    ("pan", "潘国强", "13907570004", DEMO_REGION, "狮山镇", "科技园南路 1 号 A 座前台"),
    ("wu", "伍晓彤", "13907570005", DEMO_REGION, "九江镇", "沙头村委会旁 17 号"),
]
UNASSIGNED_CUSTOMER = ("beijing", "赵一鸣", "13911050006", UNCOVERED_REGION, "望京街道", "阜通东大街 6 号 8 层")
# state, customer key, [(sku, quantity)], days ago placed, note
ORDERS = [
    ("pending", "chen", [("W-189", 2), ("F-5KG", 1)], 0, "下午三点后送"),
    ("paid", "he", [("W-550", 2)], 0, "店里自提不了，需要送货"),
    ("assigned", "liang", [("W-189", 3)], 1, ""),
    ("shipped", "pan", [("W-189", 2), ("O-5L", 1)], 1, "送到前台"),
    ("delivered", "chen", [("W-189", 4)], 2, ""),
    ("completed", "wu", [("W-550", 1), ("F-5KG", 2)], 9, ""),
    ("cancelled", "he", [("W-189", 1)], 3, ""),
    ("refunded", "liang", [("O-5L", 1)], 6, ""),
]
# How a pending order reaches each state: the moves, in order.
PATHS = {
    "pending": [], "paid": ["paid"], "assigned": ["paid", "assigned"], "shipped": ["paid", "assigned", "shipped"],
    "delivered": ["paid", "assigned", "shipped", "delivered"],
    "completed": ["paid", "assigned", "shipped", "delivered", "completed"],
    "cancelled": ["paid", "cancelled"], "refunded": ["paid", "assigned", "shipped", "delivered", "refunded"],
}
RATINGS = {"delivered": (5, "师傅很准时，还帮忙把水桶搬上楼。"), "completed": (4, "送货快，就是包装有点破。")}


def _user(username: str):
    from dms.accounts.models import User
    from dms.extensions import db

    return db.session.scalar(select(User).where(User.username == username))


def _link_demo_courier(distributor):
    """Make the demo user `courier` deliver for `distributor`, unless it already works for someone."""
    from dms.accounts import services as accounts

    courier = _user("courier")
    if courier is not None and courier.distributor_id is None:
        accounts.update_user(None, courier, distributor_id=distributor.id)
    return courier


def _customers(actor, distributor) -> dict:
    from dms.customers import services as customers

    rows = {}
    for key, name, phone, region, street, address in CUSTOMERS:
        rows[key] = customers.find_or_create(actor, distributor.id, {"name": name, "phone": phone,
                                                                     "region_code": region, "street": street,
                                                                     "address": address})
    return rows


def _already_made(distributor) -> bool:
    """The marker: an order of one of the demo customers exists."""
    from dms.customers.models import Customer
    from dms.extensions import db
    from dms.orders.models import Order

    phones = [c[2] for c in CUSTOMERS] + [UNASSIGNED_CUSTOMER[2]]
    return db.session.scalar(select(Order.id).join(Customer, Order.customer_id == Customer.id)
                             .where(Customer.phone.in_(phones)).limit(1)) is not None


def _backdate(order, days: int) -> None:
    """Spread the demo over the last days, so lists, the dispatch board and the auto-completion look lived in."""
    from dms.extensions import db

    if not days:
        return
    shift = timedelta(days=days)
    # In Python, not SQL: SQLite has no interval arithmetic on its text timestamps.
    for name in ("created_at", "updated_at", "paid_at", "assigned_at", "shipped_at", "delivered_at",
                 "completed_at", "cancelled_at", "refunded_at"):
        if getattr(order, name) is not None:
            setattr(order, name, getattr(order, name) - shift)
    for entry in [*order.events, *order.payments, *([order.rating] if order.rating else [])]:
        entry.at = entry.at - shift
    db.session.flush()


def _make_orders(staff, courier, distributor, customers, products) -> int:
    from dms.orders import ratings, services, transitions

    made = 0
    for state, customer_key, lines, days_ago, note in ORDERS:
        order = services.place_order(staff, {
            "distributor_id": distributor.id, "customer_id": customers[customer_key].id, "note": note,
            "lines": [{"product_id": products[sku].id, "quantity": quantity} for sku, quantity in lines]})
        for to in PATHS[state]:
            if to == "paid":
                transitions.pay(staff, order, "wechat", reference=f"WX{order.id:010d}")
            elif to == "assigned":
                transitions.assign_courier(staff, order, courier.id)
            elif to in ("shipped", "delivered"):
                transitions.transition(courier, order, to, note=_("Left with the customer.") if to == "delivered"
                                       else "")
            elif to == "cancelled":
                transitions.cancel(staff, order, _("The customer no longer needs it."))
            elif to == "refunded":
                transitions.refund(staff, order, _("Damaged in transit."), restock=True, method="wechat")
            else:
                transitions.transition(staff, order, to)
        if state in RATINGS:
            score, comment = RATINGS[state]
            ratings.rate_order(courier, order, score, comment)
        _backdate(order, days_ago)
        made += 1
    return made


def _make_unassigned(products) -> None:
    """A mini-program order from an address no territory covers: it waits for HQ to choose a distributor."""
    from dms.orders import services

    _key, name, phone, region, street, address = UNASSIGNED_CUSTOMER
    services.place_order(None, {"customer": {"name": name, "phone": phone, "region_code": region, "street": street,
                                             "address": address},
                                "lines": [{"product_id": products["W-189"].id, "quantity": 2}]})


def seed_demo_orders() -> list[str]:
    """The demo courier linked to 黄丽's agency, her customers, and one order in every state (made once)."""
    from dms.catalog.models import Product
    from dms.distributors.models import Distributor
    from dms.extensions import db

    distributor = db.session.scalars(select(Distributor).where(Distributor.region_code == DEMO_REGION)
                                     .order_by(Distributor.id)).first()
    if distributor is None:
        return [_("Demo orders skipped: the demo distributor of %(region)s is missing.", region=DEMO_REGION)]
    courier = _link_demo_courier(distributor)
    lines = []
    if courier is not None:
        lines.append(_("user %(user)s delivers for %(name)s", user=courier.username,
                       name=distributor.display_name if courier.distributor_id == distributor.id
                       else courier.distributor_id))
    if _already_made(distributor):
        return lines
    if courier is None or courier.distributor_id != distributor.id:
        return lines + [_("Demo orders skipped: the demo courier does not work for %(name)s.",
                          name=distributor.display_name)]
    staff = _user("distributor")
    staff = staff if staff is not None and staff.distributor_id == distributor.id else None
    skus = {sku for _s, _c, order_lines, _d, _n in ORDERS for sku, _q in order_lines}
    products = {p.sku: p for p in db.session.scalars(select(Product).where(Product.sku.in_(skus)))}
    if len(products) != len(skus):
        return lines + [_("Demo orders skipped: the demo products are missing.")]
    made = _make_orders(staff, courier, distributor, _customers(staff, distributor), products)
    _make_unassigned(products)
    db.session.flush()
    lines.append(_("Demo orders: %(count)d orders for %(name)s in every state, and 1 awaiting HQ.",
                   count=made, name=distributor.display_name))
    return lines


DEMO_SEEDERS.append(seed_demo_orders)
