"""`flask dms seed-demo` adds CRM data once: customers with addresses, tags and owners, visits with follow-ups
due, and a finished campaign whose effect has real figures (worked out in dms/orders/crm_demo.py)."""

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from dms.accounts.models import User
from dms.campaigns.models import Campaign
from dms.core.time import business_today
from dms.customers.models import Customer, CustomerAddress, Interaction
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.inventory import services as inventory
from dms.orders import services
from dms.orders.campaign_effect import evaluate
from dms.orders.models import Order, OrderLine


def _counts() -> tuple:
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Customer, CustomerAddress, Interaction, Campaign, Order, User))


def test_seed_demo_adds_customers_visits_and_a_measured_campaign_once(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["dms", "seed-demo"])
    assert first.exit_code == 0, first.output
    db.session.expire_all()
    today = business_today()
    nanhai = db.session.scalar(select(Distributor).where(Distributor.region_code == "440605"))
    guangzhou = db.session.scalar(select(Distributor).where(Distributor.region_code == "440100"))
    demo_user = db.session.scalar(select(User).where(User.username == "distributor"))

    tower = db.session.scalar(select(Customer).where(Customer.phone == "13907572002"))
    assert (tower.distributor_id, tower.kind, tower.owner_id) == (nanhai.id, "business", demo_user.id)
    assert [t.name for t in tower.tags] == ["VIP", "写字楼"] and len(tower.phones) == 2
    assert [(a.label, a.is_default) for a in tower.addresses] == [("A 座", True), ("B 座", False)]
    assert tower.street == "桂城街道" and tower.tier is not None  # scored at once
    office = db.session.scalar(select(Customer).where(Customer.phone == "13902002001"))
    assert office.distributor_id == guangzhou.id and office.owner.distributor_id == guangzhou.id
    tagged = {t.name for c in db.session.scalars(select(Customer)) for t in c.tags}
    assert {"VIP", "写字楼", "学校"} <= tagged

    open_follow_ups = db.session.scalars(select(Interaction).where(
        Interaction.user_id == demo_user.id, Interaction.follow_up_on.is_not(None),
        Interaction.follow_up_done_at.is_(None))).all()
    days = sorted((i.follow_up_on - today).days for i in open_follow_ups)
    assert days == [-3, -1, 0, 0, 2, 4]  # overdue, due today, later this week
    assert {i.kind for i in db.session.scalars(select(Interaction))} == {"visit", "call", "message"}

    campaign = db.session.scalar(select(Campaign).where(Campaign.name == "夏季桶装水促销"))
    assert campaign.status == "ended"
    assert (campaign.starts_on, campaign.ends_on) == (today - timedelta(days=23), today - timedelta(days=10))
    priced = db.session.scalars(select(OrderLine).where(OrderLine.campaign_id == campaign.id)).all()
    assert len(priced) == 12
    # 10% off the 18.00 barrel, taken as the line's discount by the pricing service.
    assert all(line.unit_price == Decimal("18.00") and line.discount == line.unit_price * line.quantity / 10
               for line in priced)
    effect = evaluate(campaign, today)
    assert (effect.current.orders, effect.current.units, effect.current.revenue) == (12, 44, Decimal("712.80"))
    assert (effect.baseline.orders, effect.baseline.units, effect.baseline.revenue) == (7, 18, Decimal("324.00"))
    assert (effect.control_current.revenue, effect.control_baseline.revenue) == (Decimal("270.00"),
                                                                                 Decimal("252.00"))
    assert effect.new_customers == 5
    # (120% - 1/14) x 324.00; margin rate 140.80 / 712.80 (county price 13.00); ROI (72.23 - 60.00) / 60.00.
    assert (effect.uplift, effect.uplift_vs_control) == (Decimal("388.80"), Decimal("365.66"))
    assert (effect.incremental_margin, effect.roi) == (Decimal("72.23"), Decimal("0.2038"))

    before = _counts()
    again = runner.invoke(args=["dms", "seed-demo"])
    assert again.exit_code == 0, again.output
    db.session.expire_all()
    assert _counts() == before
    assert inventory.ledger_differences() == [] and services.stock_differences() == []
    check = runner.invoke(args=["dms", "check"])
    assert check.exit_code == 0, check.output
