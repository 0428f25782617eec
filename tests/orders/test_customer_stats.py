"""Customers' figures from their orders: counts, last order, lifetime value, satisfaction, the history
fragment; and the nightly scoring job (worked example, overrides kept, idempotent)."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from dms.core.jobs import commit
from dms.core.time import business_tz
from dms.customers import services as customers
from dms.customers.models import Customer
from dms.extensions import db
from dms.orders import customer_jobs, customer_stats
from dms.orders.models import Order, OrderLine, OrderRating

TODAY = date(2026, 6, 30)


def placed(days_ago: int) -> datetime:
    """Noon (business time) `days_ago` days before TODAY, as the naive UTC the columns hold."""
    moment = datetime.combine(TODAY - timedelta(days=days_ago), time(12), tzinfo=business_tz())
    return moment.astimezone(UTC).replace(tzinfo=None)


def make_order(customer, product, days_ago: int, total: str, status: str = "completed", rating: int | None = None):
    """An order of the customer placed `days_ago` days before TODAY (rows made directly: the figures are tested)."""
    amount = Decimal(total)
    order = Order(status=status, distributor_id=customer.distributor_id, customer_id=customer.id, subtotal=amount,
                  total=amount, created_at=placed(days_ago), ship_name=customer.name, ship_phone=customer.phone)
    order.lines = [OrderLine(product_id=product.id, quantity=2, unit_price=amount / 2, amount=amount)]
    if rating:
        order.rating = OrderRating(score=rating)
    db.session.add(order)
    db.session.flush()
    return order


@pytest.fixture
def example(make_distributor, make_product, make_user):
    """The worked example: 王阿姨 with orders 3, 40, 100, 200 days ago (1500 + 1200 + 300 + 100), a cancelled one
    yesterday, a refunded one 50 days ago, and one 400 days ago; 李先生 with one order 400 days ago; 赵女士 none."""
    shop = make_distributor("440113")
    other = make_distributor("440106")
    water = make_product(name="桶装水", price="18.00")
    def new(name, phone, distributor=shop):
        return customers.create_customer(None, distributor.id, {"name": name, "phone": phone,
                                                                "region_code": distributor.region_code})
    wang, li, zhao = new("王阿姨", "13800000001"), new("李先生", "13800000002"), new("赵女士", "13800000003")
    foreign = new("外人", "13800000004", other)
    make_order(wang, water, 3, "1500.00", "completed", rating=5)
    make_order(wang, water, 40, "1200.00", "delivered", rating=4)
    make_order(wang, water, 100, "300.00", "completed")
    make_order(wang, water, 200, "100.00", "paid")
    make_order(wang, water, 1, "999.00", "cancelled")
    make_order(wang, water, 50, "800.00", "refunded")
    make_order(wang, water, 400, "5000.00", "completed")
    make_order(li, water, 400, "80.00", "completed", rating=3)
    make_order(foreign, water, 2, "60.00", "completed", rating=1)
    commit()
    return {"shop": shop, "other": other, "wang": wang, "li": li, "zhao": zhao, "foreign": foreign,
            "staff": make_user("distributor", distributor_id=shop.id)}


def test_figures_of_every_customer_in_one_grouped_query(example):
    wang, li = example["wang"], example["li"]
    stats = customer_stats.figures(None, TODAY)
    assert set(stats) == {wang.id, li.id, example["foreign"].id}  # 赵女士 has no orders
    figures = stats[wang.id]
    assert figures.order_count == 5  # cancelled and refunded ones do not count
    assert figures.last_order_day == TODAY - timedelta(days=3)
    assert figures.lifetime_value == Decimal("8000.00")  # 1500 + 1200 + 300 + 5000: delivered and completed
    assert figures.refunded == Decimal("800.00")
    assert (figures.orders_in_window, figures.spend_in_window) == (4, Decimal("3100.00"))
    assert customer_stats.figures_of(example["zhao"].id, TODAY) == customer_stats.Figures()


def test_satisfaction_per_customer_and_per_distributor(example):
    by_customer = customer_stats.satisfaction_by_customer([example["wang"].id, example["li"].id, example["zhao"].id])
    assert by_customer[example["wang"].id] == customer_stats.Satisfaction(Decimal("4.5"), 2)
    assert by_customer[example["li"].id] == customer_stats.Satisfaction(Decimal("3.0"), 1)
    assert example["zhao"].id not in by_customer
    by_distributor = customer_stats.satisfaction_by_distributor()
    assert by_distributor[example["shop"].id] == customer_stats.Satisfaction(Decimal("4.0"), 3)  # (5 + 4 + 3) / 3
    assert by_distributor[example["other"].id] == customer_stats.Satisfaction(Decimal("1.0"), 1)
    assert customer_stats.satisfaction_in_scope(example["staff"]).average == Decimal("4.0")
    assert customer_stats.satisfaction_in_scope(None).ratings == 4


def test_the_job_scores_the_worked_example_and_keeps_overrides(example):
    wang, li, zhao = example["wang"], example["li"], example["zhao"]
    customers.override_tier(None, li, "B", "老客户，每年春节订货")
    commit()
    result = customer_jobs.score_customers(TODAY)
    commit()
    assert result == {"customers": 4, "scored": 2, "day": "2026-06-30"}
    wang, li, zhao = (db.session.get(Customer, c.id) for c in (wang, li, zhao))
    # R 5 (3 days), F 3 (4 orders in 365 days), M 4 (3100 yuan) = 12 -> A.
    assert (wang.rfm_recency, wang.rfm_frequency, wang.rfm_monetary, wang.rfm_score, wang.tier) == (5, 3, 4, 12, "A")
    assert wang.last_order_at == placed(3) and wang.scored_at is not None
    # 李先生's only order is 400 days old: not scored, no computed tier; the manual B stays in force.
    assert (li.rfm_score, li.tier, li.tier_override, li.effective_tier) == (None, None, "B", "B")
    assert li.last_order_at == placed(400)
    assert (zhao.rfm_score, zhao.tier, zhao.last_order_at) == (None, None, None)
    # A second run the same day changes nothing.
    def state():
        return list(db.session.execute(select(Customer.rfm_score, Customer.tier, Customer.tier_override,
                                              Customer.last_order_at).order_by(Customer.id)))
    before = state()
    customer_jobs.score_customers(TODAY)
    commit()
    after = state()
    assert before == after


def test_the_job_recomputes_as_orders_age(example):
    customer_jobs.score_customers(TODAY)
    commit()
    # 250 days later the last order is 253 days old (R 1) and the order of 200 days has left the window: three
    # orders remain (F 3) for 1500 + 1200 + 300 = 3000 yuan (M 4): 8 -> B.
    customer_jobs.score_customers(TODAY + timedelta(days=250))
    commit()
    wang = db.session.get(Customer, example["wang"].id)
    assert (wang.rfm_recency, wang.rfm_frequency, wang.rfm_monetary, wang.rfm_score, wang.tier) == (1, 3, 4, 8, "B")


def test_the_job_is_registered_daily():
    from dms.core.schedule import PERIODIC

    entry = next(p for p in PERIODIC if p.func == "dms.orders.customer_jobs.score_customers")
    assert entry.cron == "30 2 * * *"


def test_the_history_fragment_shows_orders_and_figures_within_scope(example, client, login_as):
    login_as(example["staff"])
    client.http.set_cookie("dms_locale", "en")
    response = client.get(f"/orders/customers/{example['wang'].id}/history", htmx=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="customer-history"' in html and html.count('data-testid="history-row"') == 7
    assert "8,000.00" in html and "4.5 / 5 (2 ratings)" in html and "桶装水 × 2" in html
    assert client.get(f"/orders/customers/{example['foreign'].id}/history", htmx=True).status_code == 404
    assert client.get("/orders/customers/999999/history").status_code == 404
    satisfaction = client.get("/orders/customers/satisfaction", htmx=True).get_data(as_text=True)
    assert "4.0 / 5 from 3 ratings" in satisfaction
