"""Campaigns on the order form (CSRF on, htmx): the live prices show a campaign's reduction and name, placing
records the campaign and the code, a bad code is named beside its field (422), and editing a campaign-priced
order never turns the campaign's reduction into a staff discount."""

import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dms.campaigns import services as campaigns
from dms.core.jobs import commit
from dms.extensions import db
from dms.inventory import services as inventory
from dms.orders.models import Order
from tests.campaigns.helpers import make_campaign
from tests.orders.form_data import customer_form as _customer
from tests.orders.form_data import lines_form as _lines

D = Decimal


def _cell(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}">(.*?)</(?:td|small)>', html, re.S)
    return found.group(1) if found else ""


def _code_field(html: str) -> str:
    """The campaign code's field, with its errors."""
    start = html.index('data-testid="campaign-code"')
    return html[start:html.index("<table>", start)]


pytestmark = pytest.mark.usefixtures("english")


def test_the_live_prices_show_the_campaign_discount_and_name(client, login_distributor, shop, juice):
    summer = make_campaign([shop["water"]], percent_off="10")
    make_campaign([juice], percent_off="20", name="会员价", code="VIP8")
    login_distributor(shop["distributor"])
    client.get("/orders/new")
    lines = _lines({"product_id": str(shop["water"].id), "quantity": "3"}, {"product_id": str(juice.id),
                                                                           "quantity": "2"})
    response = client.post("/orders/lines", {**_customer(), **lines}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<div id="order-lines"')
    # 3 x 18.00 = 54.00, 10 % off = 5.40; the juice's campaign needs its code.
    assert "18.00" in _cell(html, "unit-price-0") and "48.60" in _cell(html, "amount-0")
    assert summer.name in _cell(html, "campaign-0") and "5.40" in _cell(html, "campaign-0")
    assert 'data-testid="campaign-1"' not in html and "15.00" in _cell(html, "amount-1")
    assert "63.60" in _cell(html, "running-total") and "5.40" in _cell(html, "discounts")
    assert 'name="campaign_code"' in html, "the code field is drawn with the lines"
    coded = client.post("/orders/lines", {**_customer(), **lines, "campaign_code": "vip8"},
                        htmx=True).get_data(as_text=True)
    assert "会员价 (VIP8)" in _cell(coded, "campaign-1") and "12.00" in _cell(coded, "amount-1")
    assert "60.60" in _cell(coded, "running-total")
    # A staff discount does not add to the campaign's: the larger stands.
    typed = client.post("/orders/lines", _lines({"product_id": str(shop["water"].id), "quantity": "3",
                                                 "discount": "2.00"}), htmx=True).get_data(as_text=True)
    assert "48.60" in _cell(typed, "amount-0") and "instead of the discount typed" in typed
    # The region the order ships to decides: 深圳 南山区 is outside the campaign.
    away = client.post("/orders/lines", {**_customer(region_code__city="440300", region_code__county="440305"),
                                         **lines}, htmx=True).get_data(as_text=True)
    assert 'data-testid="campaign-0"' not in away and "54.00" in _cell(away, "amount-0")
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_placing_through_the_form_records_the_campaign(client, login_distributor, shop, juice):
    summer = make_campaign([shop["water"]], percent_off="10")
    member = make_campaign([juice], percent_off="20", name="会员价", code="VIP8")
    login_distributor(shop["distributor"])
    client.get("/orders/new")
    done = client.post("/orders/new", {**_customer(), "campaign_code": " vip8 ", **_lines(
        {"product_id": str(shop["water"].id), "quantity": "3"}, {"product_id": str(juice.id), "quantity": "2"})})
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
    order = db.session.scalar(select(Order))
    assert order.campaign_code == "VIP8"
    assert [(line.product_id, line.discount, line.campaign_id) for line in order.lines] == [
        (shop["water"].id, D("5.40"), summer.id), (juice.id, D("3.00"), member.id)]
    assert (order.subtotal, order.discount, order.total) == (D("69.00"), D("8.40"), D("60.60"))


def test_a_wrong_code_is_named_beside_its_field(client, login_distributor, shop, juice):
    make_campaign([shop["water"]], percent_off="10")
    ended = make_campaign([juice], percent_off="20", name="会员价", code="VIP8")
    campaigns.end(None, ended)
    commit()
    login_distributor(shop["distributor"])
    client.get("/orders/new")
    lines = _lines({"product_id": str(shop["water"].id), "quantity": "3"})
    for code in ("NOPE", "vip8", "x" * 40):
        refused = client.post("/orders/new", {**_customer(), "campaign_code": code, **lines})
        html = refused.get_data(as_text=True)
        assert refused.status_code == 422, (code, refused.status_code)
        field = _code_field(html)
        assert 'id="campaign_code-errors"' in field and f'value="{code}"' in field, "kept as typed"
        if len(code) <= 32:
            assert "Unknown or ended campaign code." in field
            assert html.count("Unknown or ended campaign code.") == 1, "once, beside the field"
        assert "48.60" in _cell(html, "amount-0"), "the lines priced without the code"
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    preview = client.post("/orders/lines", {**_customer(), "campaign_code": "NOPE", **lines}, htmx=True)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Unknown or ended campaign code." in _code_field(html)
    assert "48.60" in _cell(html, "amount-0")
    for junk in ("²", "<b>", " ", "１２", "A" * 500):
        assert client.post("/orders/lines", {"campaign_code": junk, **lines}, htmx=True).status_code == 200
        assert client.post("/orders/new", {**_customer(), "campaign_code": junk, **lines}).status_code in (302, 422)


def test_editing_a_campaign_priced_order_keeps_no_staff_discount(client, login_distributor, shop, juice, place):
    summer = make_campaign([shop["water"]], percent_off="10")
    make_campaign([juice], percent_off="20", name="会员价", code="VIP8")
    order = place(None, {"distributor_id": shop["distributor"].id, "campaign_code": "VIP8", "lines": [
        {"product_id": shop["water"].id, "quantity": 3}, {"product_id": juice.id, "quantity": 2, "discount": "1.00"}]})
    assert [line.discount for line in order.lines] == [D("5.40"), D("3.00")]
    login_distributor(shop["distributor"])
    page = client.get(f"/orders/{order.id}/edit").get_data(as_text=True)
    # Only a staff discount is pre-filled; here both lines' discounts are the campaigns'.
    assert re.search(r'name="lines-0-discount" value=""', page) and re.search(r'name="lines-1-discount" value=""',
                                                                               page)
    assert summer.name in _cell(page, "campaign-0") and "会员价 (VIP8)" in _cell(page, "campaign-1")
    field = _code_field(page)
    assert 'value="VIP8"' in field and "readonly" in field and 'name="campaign_code"' not in field
    same = _lines({"product_id": str(shop["water"].id), "quantity": "3", "discount": ""},
                  {"product_id": str(juice.id), "quantity": "2", "discount": ""})
    preview = client.post(f"/orders/lines?order={order.id}", same, htmx=True).get_data(as_text=True)
    assert "60.60" in _cell(preview, "running-total"), "priced with the order's region and code"
    assert client.post(f"/orders/{order.id}/edit", same).status_code == 302
    db.session.refresh(order)
    assert [(line.discount, line.campaign_id is not None) for line in order.lines] == [(D("5.40"), True),
                                                                                        (D("3.00"), True)]
    # Once the campaign is over, the lines go back to list price: no discount was carried over as staff's.
    campaigns.end(None, db.session.get(type(summer), summer.id))
    commit()
    page = client.get(f"/orders/{order.id}/edit").get_data(as_text=True)
    assert re.search(r'name="lines-0-discount" value=""', page) and 'data-testid="campaign-0"' not in page
    assert client.post(f"/orders/{order.id}/edit", same).status_code == 302
    db.session.refresh(order)
    assert [(line.discount, line.campaign_id is not None) for line in order.lines] == [(D("0.00"), False),
                                                                                        (D("3.00"), True)]
    assert order.total == D("66.00") and not inventory.ledger_differences()
