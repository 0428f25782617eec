"""A campaign's measured effect on a worked example with exact figures, computed by hand.

Campaign 2026-03-11..2026-03-20 (10 days), target 番禺区, control 天河区, water only, cost 100.00.
Baseline 2026-03-01..03-10. Water's county distributor price: 6.00 (7.00 only from 03-25, after the period).

target, baseline:  600.00 (Y, 03-02) + 400.00 (Z, 03-05)                                  = 1000.00
target, period:    150.00 (Z, 03-11 00:30 Shanghai = 03-10 16:30 UTC, no campaign line)
                 + 810.00 (Y, 03-12, no address: the distributor's region, campaign line)
                 + 540.00 (X, 03-14, first order ever, campaign line; its juice line does not count) = 1500.00
control: 800.00 (03-03) -> 880.00 (03-15)
Not in scope: cancelled, refunded and pending orders, an order after the period, one shipped to 南山区.

uplift vs baseline = 1500 - 1000 = 500.00 (50.00 %)
growth: target 50 %, control 10 % -> uplift vs control = (0.50 - 0.10) x 1000 = 400.00 = incremental revenue
units 15 + 90 + 60 = 165; margin = 1500 - 6.00 x 165 = 510.00; rate = 510 / 1500 = 0.34
incremental margin = 400.00 x 0.34 = 136.00; ROI = (136 - 100) / 100 = 0.36
new customers: X only (Y and Z ordered before; Q's first order was cancelled... and is not in scope).
"""

from datetime import date, datetime
from decimal import Decimal

import pytest

from dms.campaigns import services as campaigns
from dms.campaigns.models import Campaign
from dms.catalog.models import Price
from dms.core.jobs import commit
from dms.customers.models import Customer
from dms.extensions import db
from dms.orders import campaign_effect
from dms.orders.models import Order, OrderLine
from tests.campaigns.helpers import plan

D = Decimal


@pytest.fixture
def example(make_distributor, make_product):
    """The worked example of the module docstring: the campaign (ended) and its orders."""
    panyu, tianhe = make_distributor("440113"), make_distributor("440106")
    water, juice = make_product(name="桶装水", price="10.00"), make_product(name="果汁", price="9.00")
    for amount, since in (("6.00", datetime(2020, 1, 1)), ("7.00", datetime(2026, 3, 25))):
        db.session.add(Price(product_id=water.id, kind="distributor", level="county", amount=D(amount),
                             effective_from=since))
    campaign = campaigns.create_campaign(None, plan([water], targets=("440113",), controls=("440106",),
                                                    starts_on="2026-03-11", ends_on="2026-03-20", cost="100.00"))
    # The state machine is tested elsewhere: this campaign simply ran and ended in March.
    campaign.status, campaign.ended_at = "ended", datetime(2026, 3, 20, 15, 0)
    customers = {}
    for name, distributor in (("X", panyu), ("Y", panyu), ("Z", panyu), ("Q", panyu), ("C", tianhe)):
        customers[name] = Customer(distributor_id=distributor.id, name=name, region_code=distributor.region_code)
        db.session.add(customers[name])
    db.session.flush()

    def order(at, customer, lines, status="delivered", region="440113", distributor=panyu):
        o = Order(status=status, distributor_id=distributor.id, customer_id=customers[customer].id,
                  ship_region_code=region, created_at=at)
        total = D("0.00")
        for product, quantity, amount, priced in lines:
            gross = product_price[product.id] * quantity
            o.lines.append(OrderLine(product_id=product.id, quantity=quantity, unit_price=product_price[product.id],
                                     discount=gross - D(amount), amount=D(amount),
                                     campaign_id=campaign.id if priced else None))
            total += D(amount)
        o.subtotal = o.total = total
        db.session.add(o)
        db.session.flush()
        return o

    product_price = {water.id: D("10.00"), juice.id: D("9.00")}
    order(datetime(2026, 3, 2, 4), "Y", [(water, 60, "600.00", False)])
    order(datetime(2026, 3, 5, 4), "Z", [(water, 40, "400.00", False)], status="completed")
    order(datetime(2026, 3, 10, 16, 30), "Z", [(water, 15, "150.00", False)])
    order(datetime(2026, 3, 12, 4), "Y", [(water, 90, "810.00", True)], region=None)
    order(datetime(2026, 3, 14, 4), "X", [(water, 60, "540.00", True), (juice, 11, "99.00", False)])
    order(datetime(2026, 3, 13, 4), "Q", [(water, 50, "450.00", True)], status="cancelled")
    order(datetime(2026, 3, 15, 4), "Y", [(water, 20, "180.00", True)], status="refunded")
    order(datetime(2026, 3, 16, 4), "Z", [(water, 20, "180.00", True)], status="pending")
    order(datetime(2026, 3, 21, 4), "Y", [(water, 30, "300.00", False)])
    order(datetime(2026, 3, 17, 4), "Y", [(water, 30, "300.00", False)], region="440305")
    order(datetime(2026, 3, 3, 4), "C", [(water, 80, "800.00", False)], region="440106", distributor=tianhe)
    order(datetime(2026, 3, 15, 4), "C", [(water, 88, "880.00", False)], region="440106", distributor=tianhe)
    commit()
    return campaign


def test_the_worked_example(example):
    effect = campaign_effect.evaluate(example, today=date(2026, 6, 1))
    assert (effect.start, effect.end, effect.days) == (date(2026, 3, 11), date(2026, 3, 20), 10)
    assert (effect.baseline_start, effect.baseline_end) == (date(2026, 3, 1), date(2026, 3, 10))
    assert (effect.current.orders, effect.current.revenue, effect.current.units) == (3, D("1500.00"), 165)
    assert (effect.baseline.orders, effect.baseline.revenue, effect.baseline.units) == (2, D("1000.00"), 100)
    assert (effect.control_current.revenue, effect.control_baseline.revenue) == (D("880.00"), D("800.00"))
    assert effect.new_customers == 1
    assert (effect.uplift, effect.uplift_pct) == (D("500.00"), D("50.00"))
    assert (effect.target_growth, effect.control_growth) == (D("0.5"), D("0.1"))
    assert effect.uplift_vs_control == D("400.00")
    assert (effect.incremental_revenue, effect.incremental_basis) == (D("400.00"), "control")
    assert effect.current.margin == D("510.00") and effect.margin_rate == D("0.34")
    assert effect.incremental_margin == D("136.00")
    assert effect.roi == D("0.3600")
    # The chart's days: each day of the period beside the same day of the baseline.
    series = {day: (revenue, before, baseline) for day, revenue, before, baseline in effect.series}
    assert len(series) == 10
    assert series[date(2026, 3, 11)] == (D("150.00"), date(2026, 3, 1), D("0.00"))
    assert series[date(2026, 3, 12)] == (D("810.00"), date(2026, 3, 2), D("600.00"))
    assert series[date(2026, 3, 14)][0] == D("540.00") and series[date(2026, 3, 15)][2] == D("400.00")


def test_without_control_regions_the_baseline_uplift_is_the_increment_and_no_cost_means_no_roi(example):
    for region in [r for r in example.regions if r.role == "control"]:
        example.regions.remove(region)
    example.cost = D("0.00")
    commit()
    effect = campaign_effect.evaluate(example, today=date(2026, 6, 1))
    assert effect.control_current is None and effect.uplift_vs_control is None
    assert (effect.incremental_revenue, effect.incremental_basis) == (D("500.00"), "baseline")
    assert effect.incremental_margin == D("170.00")  # 500.00 x 0.34
    assert effect.roi is None


def test_an_early_end_shortens_the_period_and_its_baseline(example):
    example.ended_at = datetime(2026, 3, 15, 2, 0)  # 10:00 in Shanghai on 03-15
    commit()
    effect = campaign_effect.evaluate(example, today=date(2026, 6, 1))
    assert (effect.start, effect.end, effect.days) == (date(2026, 3, 11), date(2026, 3, 15), 5)
    assert (effect.baseline_start, effect.baseline_end) == (date(2026, 3, 6), date(2026, 3, 10))
    # Baseline 03-06..03-10 has nothing in local days (the 03-10 16:30 UTC order is 03-11 in Shanghai).
    assert (effect.current.revenue, effect.baseline.revenue, effect.uplift_pct) == (D("1500.00"), D("0.00"), None)
    assert effect.target_growth is None and effect.incremental_basis == "baseline"


def test_the_effect_page_shows_the_figures_the_method_and_an_inline_chart(example, client, login_as):
    client.http.set_cookie("dms_locale", "en")
    login_as("admin")
    response = client.get(f"/campaigns/{example.id}/effect")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for testid, text in (("revenue", "1,500.00"), ("baseline-revenue", "1,000.00"), ("uplift", "500.00"),
                         ("uplift-control", "400.00"), ("incremental-margin", "136.00"), ("roi", "36%"),
                         ("new-customers", ">1<"), ("units", ">165<")):
        start = html.index(f'data-testid="{testid}"')
        assert text in html[start:start + 200], testid
    assert "<svg" in html and 'data-testid="current-line"' in html and "difference in differences" in html
    assert "<script" not in html.split('id="campaign-effect"')[1]
    fragment = client.get(f"/campaigns/{example.id}/effect", htmx=True)
    assert fragment.get_data(as_text=True).lstrip().startswith("<div id=\"campaign-effect\">")
    assert "HX-Request" in fragment.headers["Vary"]
    # The campaign's page links to it.
    assert f"/campaigns/{example.id}/effect" in client.get(f"/campaigns/{example.id}").get_data(as_text=True)


def test_the_effect_page_answers_404_for_an_unknown_campaign_and_403_outside_hq(example, client, login_as,
                                                                                login_distributor):
    login_as("admin")
    assert client.get(f"/campaigns/{example.id + 1}/effect").status_code == 404
    client.post("/logout")
    login_distributor()
    assert client.get(f"/campaigns/{example.id}/effect").status_code == 403
    assert db.session.get(Campaign, example.id) is not None
