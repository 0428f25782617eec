"""The demo campaign for `flask dms seed-demo`: a finished bottled-water promotion whose effect page shows
real figures, and the orders it is measured on.

"夏季桶装水促销" took 10% off the 18.9L barrel (W-189) in 黄丽's county, 南海区 (440605), for 14 days ending
10 days ago; 天河区 (440106, served by the city agent 刘洋) is its control region. Orders are placed
through the orders service in the baseline period (the 14 days before), in the campaign period and in
the control region, moved to completed by the transitions service, then dated back into their days
(as dms/orders/demo.py does). The campaign-period orders are placed while the campaign runs, so the
pricing service itself gives them the discount and records the campaign on their lines; afterwards the
campaign is ended and its dates moved back to the period it covered. The campaign's name is the marker:
made once. Runs after dms/orders/demo.py (imported after it), whose customers it orders for again.
"""

from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from dms.core.cli import DEMO_SEEDERS

CAMPAIGN = "夏季桶装水促销"
SKU = "W-189"
TARGET, CONTROL = "440605", "440106"  # 南海区 (黄丽), 天河区 (刘洋's city, 440100)
CONTROL_AGENT = "440100"
DAYS = 14
END_AGO = 10  # the campaign's last day; the orders demo's own orders are all more recent
START_AGO = END_AGO + DAYS - 1
COURIER = ("courier_gz", "courier-gz-demo-2026", "刘洋团队 · 配送员小吴")
# Customers made here: households the promotion brought in (their first order is in the campaign), and
# customers of the control region. key, name, phone, region, street, address
NEW_CUSTOMERS = [
    ("new_wang", "王嘉欣", "13907573001", TARGET, "桂城街道", "海八路 12 号 2 座 1503"),
    ("new_lin", "林宇航", "13907573002", TARGET, "大沥镇", "黄岐广佛路 301 号"),
    ("th_mall", "天河城商户服务中心", "13902003001", CONTROL, "天河南街道", "天河路 208 号 B1 层"),
    ("th_chen", "陈晓东", "13902003002", CONTROL, "林和街道", "林和中路 6 号 1802"),
    ("th_he", "何丽娟", "13902003003", CONTROL, "石牌街道", "龙口西路 55 号 604"),
]
# (customer key, days ago, barrels): the orders of each group
TARGET_BASELINE = [("chen", 37, 2), ("he", 35, 3), ("liang", 33, 2), ("kindergarten", 31, 2), ("pan", 29, 4),
                   ("tower", 27, 2), ("wu", 25, 3)]
TARGET_CAMPAIGN = [("chen", 23, 3), ("tower", 22, 4), ("he", 21, 2), ("kindergarten", 20, 5), ("school", 19, 3),
                   ("new_wang", 18, 6), ("liang", 16, 4), ("family_li", 15, 3), ("tower", 14, 2), ("gym", 13, 5),
                   ("new_lin", 12, 4), ("pan", 11, 3)]
CONTROL_BASELINE = [("office_tianhe", 36, 2), ("th_mall", 34, 3), ("th_chen", 32, 2), ("family_zhou", 30, 2),
                    ("th_he", 28, 3), ("office_tianhe", 26, 2)]
CONTROL_CAMPAIGN = [("th_mall", 23, 3), ("office_tianhe", 21, 2), ("th_chen", 19, 2), ("th_he", 17, 3),
                    ("family_zhou", 15, 2), ("office_tianhe", 12, 3)]
MOVES = ["paid", "assigned", "shipped", "delivered", "completed"]


def _user(username: str):
    from dms.accounts.models import User
    from dms.extensions import db

    return db.session.scalar(select(User).where(User.username == username))


def _distributor(region_code: str):
    from dms.distributors.models import Distributor
    from dms.extensions import db

    return db.session.scalars(select(Distributor).where(Distributor.region_code == region_code)
                              .order_by(Distributor.id)).first()


def _courier_of(distributor):
    """The control agent's courier (created once): orders are delivered by their own distributor's courier."""
    from dms.accounts import services as accounts

    username, password, name = COURIER
    courier = _user(username)
    if courier is None:
        courier = accounts.create_user(None, username=username, password=password, roles=["courier"],
                                       display_name=name, distributor_id=distributor.id)
    return courier if courier.distributor_id == distributor.id else None


def _customers(target, control) -> dict:
    """The customers the orders are for: the other demo seeders' (by phone), and this seeder's new ones."""
    from dms.customers import demo as customers_demo
    from dms.customers import services as customers
    from dms.customers.models import Customer
    from dms.extensions import db
    from dms.orders import demo as orders_demo

    known = [(key, phone) for key, _n, phone, *_rest in orders_demo.CUSTOMERS]
    known += [(row[0], row[5]) for row in customers_demo.CUSTOMERS]
    found = {}
    for key, phone in known:
        customer = db.session.scalar(select(Customer).where(
            Customer.distributor_id.in_((target.id, control.id)), Customer.phone == phone).order_by(Customer.id))
        if customer is not None:
            found[key] = customer
    for key, name, phone, region, street, address in NEW_CUSTOMERS:
        owner = target if region == TARGET else control
        found[key] = customers.find_or_create(None, owner.id, {"name": name, "phone": phone, "region_code": region,
                                                               "street": street, "address": address})
    return found


def _stock(product, warehouses: dict) -> None:
    """Receive exactly what the demo orders deliver, so the warehouses end as the stock demo left them."""
    from dms.inventory import services as inventory
    from dms.inventory.demo import DEMO_SOURCE

    for warehouse, quantity in warehouses.items():
        inventory.receive(None, warehouse, [{"product": product, "quantity": quantity}],
                          reason=_("Demo campaign stock"), source_type=DEMO_SOURCE)


def _order(distributor, customer, product, quantity: int, days_ago: int, staff, courier):
    """One order placed (priced by the service), delivered and completed, then dated `days_ago` days back."""
    from dms.orders import services, transitions
    from dms.orders.demo import _backdate

    order = services.place_order(staff, {"distributor_id": distributor.id, "customer_id": customer.id,
                                         "lines": [{"product_id": product.id, "quantity": quantity}]})
    for to in MOVES:
        if to == "paid":
            transitions.pay(staff, order, "wechat", reference=f"WX{order.id:010d}")
        elif to == "assigned":
            transitions.assign_courier(staff, order, courier.id)
        elif to in ("shipped", "delivered"):
            transitions.transition(courier, order, to)
        else:
            transitions.transition(staff, order, to)
    _backdate(order, days_ago)
    # A customer signs up no later than their first order.
    if customer.created_at > order.created_at:
        customer.created_at = order.created_at - timedelta(hours=1)
    return order


def _prices_in_force(product) -> None:
    """Date the product's opening prices (a demo catalog made minutes ago) back before the baseline period,
    so the dated-back orders find the distributor price in force for the campaign's margin."""
    from dms.catalog.models import Price
    from dms.core.time import utcnow
    from dms.extensions import db

    since = utcnow() - timedelta(days=START_AGO + DAYS + 30)
    rows = list(db.session.scalars(select(Price).where(Price.product_id == product.id)))
    for row in rows:
        alone = sum(1 for r in rows if (r.kind, r.level) == (row.kind, row.level)) == 1
        if alone and row.effective_from > since:
            row.effective_from = since
    db.session.flush()


def _campaign(admin, product):
    """The campaign, planned and approved today so it runs while its orders are placed (dated back later)."""
    from dms.campaigns import services as campaigns
    from dms.core.time import business_today

    today = business_today()
    campaign = campaigns.create_campaign(admin, {
        "name": CAMPAIGN, "objective": "夏季用水高峰前，用九折桶装水拉动南海区家庭和单位客户的复购与新客。",
        "starts_on": today.isoformat(), "ends_on": (today + timedelta(days=DAYS - 1)).isoformat(),
        "mechanism": "percent", "percent_off": "10", "budget": "500.00", "cost": "60.00",
        "target_regions": [TARGET], "control_regions": [CONTROL], "product_ids": [product.id]})
    campaigns.approve(admin, campaign, today)
    return campaign


def _date_back(campaign) -> None:
    """Move the ended campaign's period and timestamps back to the days its orders were dated into."""
    from dms.core.time import business_today
    from dms.extensions import db

    shift = timedelta(days=START_AGO)
    campaign.starts_on = business_today() - shift
    campaign.ends_on = campaign.starts_on + timedelta(days=DAYS - 1)
    # Planned three weeks ahead and approved a week before it began; ended the morning after its last day.
    campaign.created_at = campaign.created_at - shift - timedelta(days=21)
    campaign.approved_at = campaign.approved_at - shift - timedelta(days=7)
    campaign.started_at = campaign.started_at - shift
    campaign.ended_at = campaign.ended_at - timedelta(days=END_AGO - 1)
    db.session.flush()


def seed_demo_campaign() -> list[str]:
    """The finished campaign 夏季桶装水促销 with baseline, campaign and control-region orders (made once)."""
    from dms.campaigns import services as campaigns
    from dms.campaigns.models import Campaign
    from dms.catalog.models import Product
    from dms.extensions import db

    if db.session.scalar(select(Campaign.id).where(Campaign.name == CAMPAIGN).limit(1)) is not None:
        return []
    target, control = _distributor(TARGET), _distributor(CONTROL_AGENT)
    product = db.session.scalar(select(Product).where(Product.sku == SKU))
    courier, staff = _user("courier"), _user("distributor")
    if target is None or control is None or product is None or courier is None \
            or courier.distributor_id != target.id or target.warehouse is None or control.warehouse is None:
        return [_("Demo campaign skipped: the demo distributors, courier or products are missing.")]
    staff = staff if staff is not None and staff.distributor_id == target.id else None
    control_courier = _courier_of(control)
    if control_courier is None:
        return [_("Demo campaign skipped: the user %(user)s works for another distributor.", user=COURIER[0])]
    _prices_in_force(product)
    customers = _customers(target, control)
    groups = [(TARGET_BASELINE, target, staff, courier), (CONTROL_BASELINE, control, None, control_courier),
              (TARGET_CAMPAIGN, target, staff, courier), (CONTROL_CAMPAIGN, control, None, control_courier)]
    groups = [([row for row in rows if row[0] in customers], *rest) for rows, *rest in groups]
    _stock(product, {target.warehouse: sum(q for rows, d, *_r in groups if d is target for _k, _d, q in rows),
                     control.warehouse: sum(q for rows, d, *_r in groups if d is control for _k, _d, q in rows)})
    admin = _user("admin")
    made = 0
    for n, (rows, distributor, actor, delivering) in enumerate(groups):
        if n == 2:  # the baseline is placed at list prices; the campaign period while the campaign runs
            campaign = _campaign(admin, product)
        for key, days_ago, quantity in rows:
            _order(distributor, customers[key], product, quantity, days_ago, actor, delivering)
            made += 1
    campaigns.end(admin, campaign, _("Period over."))
    _date_back(campaign)
    # Score the customers now rather than at night, so the demo's lists show tiers from the start.
    from dms.orders.customer_jobs import score_customers

    score_customers()
    return [_("Demo campaign: %(name)s (ended) with %(count)d orders in its baseline, period and control region; "
              "user %(user)s delivers for %(agent)s.", name=CAMPAIGN, count=made, user=COURIER[0],
              agent=control.display_name)]


DEMO_SEEDERS.append(seed_demo_campaign)
