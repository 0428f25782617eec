"""The order form with CSRF on: customers found or new, lines priced live by the server (htmx), errors in
place (422), short stock (409, nothing reserved), the form without JavaScript, editing a pending order."""

import re

import pytest
from sqlalchemy import func, select

from dms.core.jobs import commit
from dms.customers.models import Customer
from dms.extensions import db
from dms.inventory import services as inventory
from dms.inventory.models import StockMovement
from dms.orders import transitions
from dms.orders.models import Order
from tests.orders.form_data import customer_form as _customer
from tests.orders.form_data import lines_form as _lines


def _orders() -> int:
    return db.session.scalar(select(func.count()).select_from(Order))


def _movements() -> int:
    return db.session.scalar(select(func.count()).select_from(StockMovement))


pytestmark = pytest.mark.usefixtures("english")


def test_a_distributor_places_an_order_for_a_new_customer(client, login_distributor, shop, juice):
    login_distributor(shop["distributor"])
    page = client.get("/orders/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.count('data-testid="line"') == 3, "blank lines work without JS"
    assert 'name="distributor_id"' not in html and 'name="ship_from_hq"' not in html, "its own distributor"
    assert "hx-post" in html and 'id="order-lines"' in html and "region_code__province" in html
    water = shop["water"]
    done = client.post("/orders/new", {**_customer(), **_lines(
        {"product_id": str(water.id), "quantity": "2", "discount": "1.00"}, {"product_id": str(juice.id),
                                                                           "quantity": "3"},
        {"product_id": "", "quantity": ""})})
    order = db.session.scalar(select(Order))
    assert done.status_code == 302 and done.headers["Location"] == f"/orders/{order.id}"
    assert order.distributor_id == shop["distributor"].id and str(order.total) == "57.50"
    assert [(line.product_id, line.quantity, str(line.discount)) for line in order.lines] == [
        (water.id, 2, "1.00"), (juice.id, 3, "0.00")]
    assert (order.ship_name, order.ship_phone, order.ship_region_code) == ("张三", "13800138000", "440113")
    customer = db.session.get(Customer, order.customer_id)
    assert customer.distributor_id == shop["distributor"].id and customer.street == "市桥街"
    assert inventory.available_of(water, shop["distributor"].warehouse) == 8
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"Order {order.reference} placed" in shown


def test_errors_are_shown_in_place_and_nothing_is_saved(client, login_distributor, shop):
    login_distributor(shop["distributor"])
    client.get("/orders/new")
    water = str(shop["water"].id)
    before = _movements()
    bad = client.post("/orders/new", {**_customer(phone="12345", region_code__province="",
                                                  region_code__city="", region_code__county=""),
                                      **_lines({"product_id": water, "quantity": "2"})})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Enter an 11-digit mainland mobile number starting with 1." in html
    assert re.search(r'id="phone-errors"', html), "beside the phone field"
    assert "Choose a region" in html and 'id="region-picker-region_code-errors"' in html
    assert f'value="{water}" selected' in html and 'value="2"' in html, "the lines are kept as typed"
    lines = client.post("/orders/new", {**_customer(), **_lines({"product_id": water, "quantity": "0"},
                                                               {"product_id": "", "quantity": "3"})})
    html = lines.get_data(as_text=True)
    assert lines.status_code == 422
    assert "A whole number from 1 to 100000." in html and "Choose an existing product." in html
    discount = client.post("/orders/new", {**_customer(), **_lines({"product_id": water, "quantity": "1",
                                                                   "discount": "abc"})})
    assert discount.status_code == 422 and "An amount such as 500.00." in discount.get_data(as_text=True)
    too_much = client.post("/orders/new", {**_customer(), **_lines({"product_id": water, "quantity": "1",
                                                                   "discount": "20"})})
    assert too_much.status_code == 422 and "At most the line&#39;s amount, 18.00." in too_much.get_data(as_text=True)
    nothing = client.post("/orders/new", _customer())
    assert nothing.status_code == 422 and "Add at least one product." in nothing.get_data(as_text=True)
    long_note = client.post("/orders/new", {**_customer(), "note": "x" * 2001, **_lines({"product_id": water,
                                                                                       "quantity": "1"})})
    assert long_note.status_code == 422
    assert client.post("/orders/new", {**_customer(), **_lines({"product_id": water, "quantity": "1"})},
                       csrf=False).status_code == 400
    assert _orders() == 0 and _movements() == before
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 0


def test_short_stock_names_the_product_and_reserves_nothing(client, login_distributor, shop, juice):
    login_distributor(shop["distributor"])
    client.get("/orders/new")
    before = _movements()
    response = client.post("/orders/new", {**_customer(), **_lines({"product_id": str(shop["water"].id),
                                                                    "quantity": "4"},
                                                                   {"product_id": str(juice.id), "quantity": "6"})})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Not enough stock of 果汁: 5 available, 6 requested." in html
    # Beside the short line too, and the first line's stock is not left reserved.
    line = html[html.index('data-line="1"'):]
    assert "Not enough stock of 果汁" in line[:line.index("</tr>")]
    assert _orders() == 0 and _movements() == before
    assert inventory.available_of(shop["water"], shop["distributor"].warehouse) == 10
    assert inventory.available_of(juice, shop["distributor"].warehouse) == 5


def test_lines_are_priced_live_without_saving(client, login_distributor, shop, juice):
    login_distributor(shop["distributor"])
    client.get("/orders/new")
    before = _movements()
    response = client.post("/orders/lines", _lines({"product_id": str(shop["water"].id), "quantity": "3",
                                                    "discount": "4.00"},
                                                   {"product_id": str(juice.id), "quantity": "7"},
                                                   {"product_id": "", "quantity": ""}), htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith("{#") is False
    assert html.lstrip().startswith('<div id="order-lines"') and "<html" not in html
    assert "HX-Request" in response.headers["Vary"]
    cell = dict(re.findall(r'data-testid="(unit-price-\d|available-\d|amount-\d|running-total|subtotal)">(.*?)</td>',
                           html, re.S))
    assert "18.00" in cell["unit-price-0"] and cell["available-0"].strip() == "10"
    assert "50.00" in cell["amount-0"] and "52.50" in cell["amount-1"]
    assert "Only 5 available" in cell["available-1"], "a warning: placing decides"
    assert "102.50" in cell["running-total"] and "106.50" in cell["subtotal"]
    assert _orders() == 0 and _movements() == before
    added = client.post("/orders/lines", {**_lines({"product_id": str(juice.id), "quantity": "1"}),
                                          "add_line": "1"}, htmx=True).get_data(as_text=True)
    assert added.count('data-testid="line"') == 2 and 'name="lines-1-product_id"' in added
    removed = client.post("/orders/lines", {**_lines({"product_id": str(juice.id), "quantity": "1"},
                                                     {"product_id": str(shop["water"].id), "quantity": "1"}),
                                            "remove_line": "0"}, htmx=True).get_data(as_text=True)
    assert removed.count('data-testid="line"') == 1 and 'name="lines-0-product_id"' not in removed
    assert "18.00" in re.search(r'data-testid="running-total">(.*?)</td>', removed, re.S).group(1)
    bad = client.post("/orders/lines", _lines({"product_id": str(juice.id), "quantity": "x"},
                                              {"product_id": str(shop["water"].id), "quantity": "2"}), htmx=True)
    text = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "A whole number from 1 to 100000." in text
    assert "36.00" in re.search(r'data-testid="running-total">(.*?)</td>', text, re.S).group(1), \
        "the total of the lines that can be priced"
    twice = client.post("/orders/lines", _lines({"product_id": str(juice.id), "quantity": "1"},
                                                {"product_id": str(juice.id), "quantity": "1"}), htmx=True)
    assert "果汁 is listed twice." in twice.get_data(as_text=True)


def test_the_form_works_without_javascript(client, login_distributor, shop, juice):
    login_distributor(shop["distributor"])
    client.get("/orders/new")
    more = client.post("/orders/new", {**_customer(), **_lines({"product_id": str(juice.id), "quantity": "2"}),
                                       "add_line": "1"})
    html = more.get_data(as_text=True)
    assert more.status_code == 200 and html.count('data-testid="line"') == 2 and _orders() == 0
    assert 'value="张三"' in html, "what was typed is kept"
    priced = client.post("/orders/new", {**_customer(), **_lines({"product_id": str(juice.id), "quantity": "2"}),
                                         "recalculate": "1"}).get_data(as_text=True)
    assert "15.00" in re.search(r'data-testid="running-total">(.*?)</td>', priced, re.S).group(1)
    searched = client.post("/orders/new", {**_customer(), **_lines({"q": "JUICE", "product_id": ""}),
                                           "recalculate": "1"}).get_data(as_text=True)
    options = re.search(r'name="lines-0-product_id".*?</select>', searched, re.S).group(0)
    assert "果汁" in options and "桶装水" not in options
    assert _orders() == 0


def test_product_and_customer_search(client, login_distributor, shop, juice, make_distributor):
    _user, distributor = login_distributor(shop["distributor"])
    from dms.customers import services as customers

    mine = customers.create_customer(None, distributor.id, {"name": "老客户", "phone": "13500135000",
                                                            "region_code": "440113"})
    other = make_distributor("110106")
    customers.create_customer(None, other.id, {"name": "老客户乙", "phone": "13500135001", "region_code": "110106"})
    commit()
    options = client.get(f"/orders/products?line=2&lines-2-q=果&lines-2-product_id={shop['water'].id}", htmx=True)
    html = options.get_data(as_text=True)
    assert options.status_code == 200 and "果汁" in html and f'value="{shop["water"].id}" selected' in html
    assert "HX-Request" in options.headers["Vary"]
    assert client.get("/orders/products?line=x", htmx=True).status_code == 404
    found = client.get("/orders/customers?customer_q=老客户", htmx=True)
    html = found.get_data(as_text=True)
    assert found.status_code == 200 and html.lstrip().startswith('<div id="customer-results"')
    assert f'value="{mine.id}"' in html and "老客户乙" not in html, "only the distributor's own customers"
    by_phone = client.get("/orders/customers?customer_q=1350013500", htmx=True).get_data(as_text=True)
    assert f'value="{mine.id}"' in by_phone
    placed = client.post("/orders/new", {"customer_id": str(mine.id), **_lines({"product_id": str(juice.id),
                                                                               "quantity": "1"})})
    assert placed.status_code == 302
    order = db.session.scalar(select(Order))
    assert order.customer_id == mine.id and order.ship_name == "老客户"
    foreign = db.session.scalar(select(Customer).where(Customer.name == "老客户乙"))
    refused = client.post("/orders/new", {"customer_id": str(foreign.id), **_lines({"product_id": str(juice.id),
                                                                                   "quantity": "1"})})
    assert refused.status_code in (404, 422) and _orders() == 1


def test_hq_chooses_the_distributor_and_may_ship_from_hq(client, login_as, shop, juice, hq_warehouse,
                                                         make_product):
    login_as("admin")
    page = client.get("/orders/new").get_data(as_text=True)
    assert 'name="distributor_id"' in page and 'name="ship_from_hq"' in page
    water = shop["water"]
    inventory.receive(None, hq_warehouse, [{"product": water, "quantity": 50}])
    commit()
    preview = client.post("/orders/lines", {"distributor_id": str(shop["distributor"].id), "ship_from_hq": "y",
                                            **_lines({"product_id": str(water.id), "quantity": "20"})},
                          htmx=True).get_data(as_text=True)
    assert re.search(r'data-testid="available-0">\s*50', preview), "the stock of the warehouse it ships from"
    done = client.post("/orders/new", {**_customer(), "distributor_id": str(shop["distributor"].id),
                                       "ship_from_hq": "y", **_lines({"product_id": str(water.id),
                                                                      "quantity": "20"})})
    assert done.status_code == 302
    order = db.session.scalar(select(Order))
    assert order.distributor_id == shop["distributor"].id and order.warehouse_id == hq_warehouse.id
    assert inventory.available_of(water, hq_warehouse) == 30
    unknown = client.post("/orders/new", {**_customer(), "distributor_id": "99999",
                                          **_lines({"product_id": str(water.id), "quantity": "1"})})
    assert unknown.status_code == 422 and _orders() == 1


def test_editing_a_pending_order_re_reserves(client, login_distributor, shop, juice, place):
    login_distributor(shop["distributor"])
    order = place(None, {"distributor_id": shop["distributor"].id, "lines": [
        {"product_id": shop["water"].id, "quantity": 4}]})
    page = client.get(f"/orders/{order.id}/edit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="4"' in html and f"order={order.id}" in html
    assert 'name="customer_id"' not in html, "the customer of an order stays"
    short = client.post(f"/orders/{order.id}/edit", _lines({"product_id": str(shop["water"].id), "quantity": "11"}))
    assert short.status_code == 409 and "Not enough stock of 桶装水" in short.get_data(as_text=True)
    db.session.refresh(order)
    assert [line.quantity for line in order.lines] == [4]
    assert inventory.available_of(shop["water"], shop["distributor"].warehouse) == 6
    preview = client.post(f"/orders/lines?order={order.id}", _lines({"product_id": str(shop["water"].id),
                                                                     "quantity": "2"}), htmx=True)
    assert re.search(r'data-testid="available-0">\s*6', preview.get_data(as_text=True))
    done = client.post(f"/orders/{order.id}/edit", {"note": "改了", **_lines(
        {"product_id": str(shop["water"].id), "quantity": "2"}, {"product_id": str(juice.id), "quantity": "1"})})
    assert done.status_code == 302
    db.session.refresh(order)
    assert [(line.product_id, line.quantity) for line in order.lines] == [(shop["water"].id, 2), (juice.id, 1)]
    assert order.note == "改了" and str(order.total) == "43.50"
    assert inventory.available_of(shop["water"], shop["distributor"].warehouse) == 8
    transitions.pay(None, order, "cash")
    commit()
    assert client.get(f"/orders/{order.id}/edit").status_code == 409
    assert client.post(f"/orders/{order.id}/edit", _lines({"product_id": str(juice.id), "quantity": "1"})
                       ).status_code == 409
    assert not inventory.ledger_differences()


def test_junk_never_gives_a_500(client, login_as, shop, place):
    order = place(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id, "quantity": 1})
    login_as("admin")
    client.get("/orders/new")
    junk = ["²", "１２", "-1", "1e9", "NaN", "99999999999999", "<b>", " "]
    for value in junk:
        for data in ({"lines-0-product_id": value, "lines-0-quantity": value, "lines-0-discount": value},
                     {f"lines-{value}-q": "x", "remove_line": value, "distributor_id": value},
                     {"customer_id": value, "lines-0-product_id": str(shop["water"].id), "lines-0-quantity": "1"}):
            for url in ("/orders/new", "/orders/lines", f"/orders/{order.id}/edit"):
                status = client.post(url, data).status_code
                assert status in (200, 302, 400, 404, 409, 422), (url, data, status)
        assert client.post(f"/orders/lines?order={value}", {}).status_code in (200, 404)
        assert client.get(f"/orders/products?line={value}").status_code in (200, 404)
        for move, field in (("pay", "method"), ("assign-courier", "courier_id"), ("rate", "score"),
                            ("assign-distributor", "distributor_id"), ("refund", "method")):
            assert client.post(f"/orders/{order.id}/{move}", {field: value, "confirm": "y", "reason": value}
                               ).status_code in (302, 409, 422), (move, value)
        assert client.get(f"/orders?status={value}&courier={value}&product={value}&distributor={value}"
                          f"&q={value}&customer={value}&page={value}&sort={value}").status_code == 200
    db.session.refresh(order)
    assert order.status in ("pending", "paid") and not inventory.ledger_differences()
