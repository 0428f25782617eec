"""Campaign prices on orders: in and out of scope (product, region, day, code, status), each mechanism with
exact figures, the largest reduction wins, a staff discount does not add, the line records the campaign."""

from datetime import timedelta
from decimal import Decimal

import pytest

from dms.campaigns import services as campaigns
from dms.core.errors import ValidationError
from dms.core.jobs import commit
from dms.core.time import business_today
from dms.extensions import db
from dms.inventory import services as inventory
from dms.orders import pricing, services
from tests.campaigns.helpers import make_campaign

D = Decimal


def order_for(place, shop, quantity, **data):
    """An order of `quantity` bottles for the 番禺区 shop (shipped to its own region unless an address is given)."""
    return place(None, {"distributor_id": shop["distributor"].id,
                        "lines": [{"product_id": shop["water"].id, "quantity": quantity}], **data})


def figures(line):
    return line.unit_price, line.discount, line.amount


def test_percent_off_keeps_the_list_price_and_puts_the_reduction_in_the_discount(shop, place):
    campaign = make_campaign([shop["water"]], percent_off="12.5")
    order = order_for(place, shop, 3)
    line, = order.lines
    # 3 x 18.00 = 54.00; 12.5 % of it = 6.75.
    assert figures(line) == (D("18.00"), D("6.75"), D("47.25"))
    assert line.campaign_id == campaign.id
    assert (order.subtotal, order.discount, order.total) == (D("54.00"), D("6.75"), D("47.25"))


def test_percent_off_rounds_half_up_to_the_fen(shop, make_product):
    cheap = make_product(price="2.50")
    make_campaign([cheap], percent_off="5")
    line, = pricing.price_lines([{"product_id": cheap.id, "quantity": 1}], region_code="440113", day=business_today())
    assert line.discount == D("0.13")  # 2.50 x 5 % = 0.125 -> 0.13 (ROUND_HALF_UP, not banker's 0.12)
    assert line.amount == D("2.37")


def test_fixed_price_gives_the_difference_per_unit_only_when_lower(shop, place, make_product):
    campaign = make_campaign([shop["water"]], mechanism="fixed_price", fixed_price="15.00", percent_off=None)
    line, = order_for(place, shop, 3).lines
    assert figures(line) == (D("18.00"), D("9.00"), D("45.00"))  # (18.00 - 15.00) x 3
    assert line.campaign_id == campaign.id
    dear = make_product(price="12.00")
    make_campaign([dear], mechanism="fixed_price", fixed_price="20.00", name="贵了")
    line, = pricing.price_lines([{"product_id": dear.id, "quantity": 2}], region_code="440113", day=business_today())
    assert (line.discount, line.amount, line.campaign_id) == (D("0.00"), D("24.00"), None)


@pytest.mark.parametrize(("quantity", "free"), [(2, 0), (3, 1), (7, 2), (9, 3)])
def test_buy_two_get_one_free(shop, make_product, quantity, free):
    product = make_product(price="18.00")
    campaign = make_campaign([product], mechanism="buy_n_get_m", buy_n="2", get_m="1")
    line, = pricing.price_lines([{"product_id": product.id, "quantity": quantity}], region_code="440113",
                                day=business_today())
    assert line.discount == D("18.00") * free  # free = quantity // (2 + 1) x 1
    assert line.amount == D("18.00") * (quantity - free)
    assert line.campaign_id == (campaign.id if free else None)


def test_buy_n_get_m_on_an_order(shop, place):
    make_campaign([shop["water"]], mechanism="buy_n_get_m", buy_n="3", get_m="2")
    line, = order_for(place, shop, 10).lines
    assert figures(line) == (D("18.00"), D("72.00"), D("108.00"))  # 10 // 5 x 2 = 4 free


def test_the_largest_reduction_wins(shop, place):
    make_campaign([shop["water"]], percent_off="10", name="九折")
    fixed = make_campaign([shop["water"]], mechanism="fixed_price", fixed_price="15.00", name="特价")
    make_campaign([shop["water"]], mechanism="buy_n_get_m", buy_n="5", get_m="1", name="买五送一")
    line, = order_for(place, shop, 3).lines
    # 10 % = 5.40, fixed = 9.00, buy 5 get 1 = 0.00: the fixed price wins.
    assert (line.discount, line.campaign_id) == (D("9.00"), fixed.id)


def test_out_of_scope_product_region_day_and_status(shop, place, make_product):
    other = make_product(price="10.00")
    inventory.receive(None, shop["distributor"].warehouse, [{"product": other, "quantity": 5}])
    commit()
    campaign = make_campaign([shop["water"]], targets=("440100",))  # 广州市 covers 番禺区
    # The product: another one is list-priced, the campaign's one on the same order is not.
    order = place(None, {"distributor_id": shop["distributor"].id,
                         "lines": [{"product_id": other.id, "quantity": 1},
                                   {"product_id": shop["water"].id, "quantity": 1}]})
    by_product = {line.product_id: line for line in order.lines}
    assert (by_product[other.id].discount, by_product[other.id].campaign_id) == (D("0.00"), None)
    assert (by_product[shop["water"].id].discount, by_product[shop["water"].id].campaign_id) == (D("1.80"),
                                                                                                  campaign.id)
    # The region: shipped to 深圳 南山区 (not under 广州市), though sold by the 番禺 distributor.
    shenzhen = order_for(place, shop, 1, customer={"name": "李雷", "phone": "13900139000", "region_code": "440305",
                                                   "street": "粤海街道", "address": "科技园 1 号"})
    assert (shenzhen.lines[0].discount, shenzhen.lines[0].campaign_id) == (D("0.00"), None)
    # The day: before and after the period.
    for day in (campaign.starts_on - timedelta(days=1), campaign.ends_on + timedelta(days=1)):
        line, = pricing.price_lines([{"product_id": shop["water"].id, "quantity": 1}], region_code="440113", day=day)
        assert line.campaign_id is None
    # No day given (the form's live preview): no campaign either.
    line, = pricing.price_lines([{"product_id": shop["water"].id, "quantity": 1}], region_code="440113")
    assert line.campaign_id is None
    # The status: an ended campaign prices nothing, even within its period.
    campaigns.end(None, campaign)
    commit()
    assert order_for(place, shop, 1).lines[0].campaign_id is None


def test_a_draft_or_approved_campaign_prices_nothing(shop, make_product):
    product = make_product(price="10.00")
    make_campaign([product], status="draft")
    make_campaign([product], status="approved", name="下周",
                  starts_on=(business_today() + timedelta(days=1)).isoformat())
    line, = pricing.price_lines([{"product_id": product.id, "quantity": 1}], region_code="440113",
                                day=business_today() + timedelta(days=1))
    assert line.campaign_id is None


def test_a_province_target_covers_its_counties(shop, place):
    campaign = make_campaign([shop["water"]], targets=("440000",))
    line, = order_for(place, shop, 1).lines
    assert line.campaign_id == campaign.id


def test_a_campaign_with_a_code_prices_only_orders_carrying_it(shop, place):
    campaign = make_campaign([shop["water"]], code="summer26")
    assert campaign.code == "SUMMER26"
    assert order_for(place, shop, 1).lines[0].campaign_id is None
    order = order_for(place, shop, 2, campaign_code="Summer26")
    assert order.campaign_code == "SUMMER26"
    assert (order.lines[0].discount, order.lines[0].campaign_id) == (D("3.60"), campaign.id)


def test_an_unknown_or_ended_code_is_refused_on_its_field(shop, place):
    campaign = make_campaign([shop["water"]], code="SPRING")
    with pytest.raises(ValidationError) as unknown:
        services.place_order(None, {"distributor_id": shop["distributor"].id, "campaign_code": "NOPE",
                                    "lines": [{"product_id": shop["water"].id, "quantity": 1}]})
    assert unknown.value.status == 422 and "campaign_code" in unknown.value.fields
    db.session.rollback()
    campaigns.end(None, campaign)
    commit()
    with pytest.raises(ValidationError) as ended:
        services.place_order(None, {"distributor_id": shop["distributor"].id, "campaign_code": "spring",
                                    "lines": [{"product_id": shop["water"].id, "quantity": 1}]})
    assert "campaign_code" in ended.value.fields


def test_a_staff_discount_does_not_add_to_the_campaigns(shop, place):
    campaign = make_campaign([shop["water"]], percent_off="10")
    small = order_for(place, shop, 3, lines=[{"product_id": shop["water"].id, "quantity": 3, "discount": "2.00"}])
    assert (small.lines[0].discount, small.lines[0].campaign_id) == (D("5.40"), campaign.id)
    large = order_for(place, shop, 3, lines=[{"product_id": shop["water"].id, "quantity": 3, "discount": "10.00"}])
    assert (large.lines[0].discount, large.lines[0].campaign_id) == (D("10.00"), None)


def test_editing_an_order_prices_it_again_and_an_ended_code_just_stops_applying(shop, place):
    campaign = make_campaign([shop["water"]], mechanism="buy_n_get_m", buy_n="2", get_m="1", code="B2G1")
    order = order_for(place, shop, 2, campaign_code="B2G1")
    assert order.lines[0].campaign_id is None  # 2 // 3 = 0 free
    services.update_order(None, order, {"lines": [{"product_id": shop["water"].id, "quantity": 6}]})
    commit()
    assert (order.lines[0].discount, order.lines[0].campaign_id) == (D("36.00"), campaign.id)
    campaigns.end(None, campaign)
    commit()
    services.update_order(None, order, {"lines": [{"product_id": shop["water"].id, "quantity": 3}]})
    commit()
    assert (order.lines[0].discount, order.lines[0].campaign_id, order.total) == (D("0.00"), None, D("54.00"))
