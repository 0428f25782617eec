"""Order pages with CSRF on: the list (filters, counts, scope), the detail and its moves by role,
illegal moves (409 inline), the delivery note, HQ's unassigned queue."""

import re

import pytest
from sqlalchemy import func, select

from dms.core.jobs import commit
from dms.core.time import business_today
from dms.extensions import db
from dms.inventory import services as inventory
from dms.orders import transitions
from dms.orders.models import Order, OrderPayment


@pytest.fixture
def viewer(make_user):
    """A user of HQ who may view every order but not act on one (orders.view without orders.manage)."""
    from dms.accounts import services

    services.create_role(None, code="order_viewer", name="Viewer", permissions=["orders.view",
                                                                                "scope.all_distributors"])
    commit()
    return make_user("order_viewer")


@pytest.fixture
def rival(make_distributor, make_product, place):
    """Another distributor with an order of its own."""
    other = make_distributor("110106")
    tea = make_product(name="茶叶", price="30.00")
    inventory.receive(None, other.warehouse, [{"product": tea, "quantity": 5}])
    commit()
    order = place(None, {"distributor_id": other.id, "product_id": tea.id, "quantity": 1,
                         "customer": {"name": "李四", "phone": "13900139000", "region_code": "110106"}})
    return {"distributor": other, "tea": tea, "order": order}


def _order(place, shop, quantity=1, name="张三", phone="13800138000"):
    return place(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id,
                        "quantity": quantity, "customer": {"name": name, "phone": phone, "region_code": "440113",
                                                           "street": "市桥街", "address": "1号"}})


def _refs(html: str) -> set[str]:
    return set(re.findall(r'data-testid="order-ref">(DD\d+)<', html))


pytestmark = pytest.mark.usefixtures("english")


def test_list_filters_counts_and_scope(client, login_distributor, shop, place, rival):
    _user, distributor = login_distributor(shop["distributor"])
    first = _order(place, shop, 1, "王五", "13700137000")
    second = _order(place, shop, 2)
    transitions.pay(None, second, "cash")
    transitions.assign_courier(None, second, shop["courier"].id)
    commit()
    page = client.get("/orders")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and _refs(html) == {first.reference, second.reference}
    assert rival["order"].reference not in html, "another distributor's order is not listed"
    assert 'data-testid="count-pending">1<' in html and 'data-testid="count-assigned">1<' in html
    assert 'name="distributor"' not in html, "only HQ filters by distributor"
    assert _refs(client.get("/orders?status=pending").get_data(as_text=True)) == {first.reference}
    assert _refs(client.get(f"/orders?courier={shop['courier'].id}").get_data(as_text=True)) == {second.reference}
    assert _refs(client.get("/orders?customer=王五").get_data(as_text=True)) == {first.reference}
    assert _refs(client.get("/orders?customer=13800138").get_data(as_text=True)) == {second.reference}
    assert _refs(client.get(f"/orders?q={second.reference}").get_data(as_text=True)) == {second.reference}
    assert _refs(client.get(f"/orders?q={rival['order'].reference}").get_data(as_text=True)) == set()
    assert _refs(client.get(f"/orders?product={shop['water'].id}").get_data(as_text=True)) == {
        first.reference, second.reference}
    assert _refs(client.get(f"/orders?product={rival['tea'].id}").get_data(as_text=True)) == set()
    today = business_today().isoformat()
    assert len(_refs(client.get(f"/orders?date_from={today}&date_to={today}").get_data(as_text=True))) == 2
    assert _refs(client.get("/orders?date_to=2000-01-01").get_data(as_text=True)) == set()
    bad = client.get("/orders?date_from=01/05/2026")
    assert bad.status_code == 400 and "A date such as 2026-05-01." in bad.get_data(as_text=True)
    assert client.get("/orders?courier=abc&product=x&status=nope").status_code == 200
    # Sorted by total, ascending: the smaller order first.
    ordered = re.findall(r'data-testid="order-ref">(DD\d+)<', client.get("/orders?sort=total&dir=asc").get_data(
        as_text=True))
    assert ordered == [first.reference, second.reference]
    empty = client.get("/orders?q=nobody-at-all").get_data(as_text=True)
    assert "No order matches." in empty
    fragment = client.get("/orders?status=assigned", htmx=True)
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="orders-table"') and "<html" not in body
    assert "HX-Request" in fragment.headers["Vary"] and _refs(body) == {second.reference}
    assert "HX-Request" in client.get("/orders").headers["Vary"]


def test_pagination(client, login_as, shop, place):
    for n in range(3):
        _order(place, shop, 1, f"客户{n}")
    login_as("admin")
    html = client.get("/orders?per_page=2").get_data(as_text=True)
    assert len(_refs(html)) == 2 and "3 in all · page 1 of 2" in html and 'rel="next"' in html
    assert len(_refs(client.get("/orders?per_page=2&page=2").get_data(as_text=True))) == 1


def test_another_distributors_order_is_404_on_every_route(client, login_distributor, shop, rival):
    login_distributor(shop["distributor"])
    foreign = rival["order"].id
    for url in (f"/orders/{foreign}", f"/orders/{foreign}/edit", f"/orders/{foreign}/delivery-note",
                "/orders/999999", "/orders/99999999999"):
        assert client.get(url).status_code == 404, url
    client.get("/orders")
    for move in ("pay", "assign-courier", "ship", "deliver", "complete", "cancel", "refund", "rate",
                 "assign-distributor", "edit"):
        assert client.post(f"/orders/{foreign}/{move}", {"confirm": "y", "reason": "x"}).status_code == 404, move
    assert client.post(f"/orders/lines?order={foreign}", {}).status_code == 404
    assert client.post("/orders/lines?order=junk", {}).status_code == 404
    db.session.refresh(rival["order"])
    assert rival["order"].status == "pending" and rival["order"].events[-1].kind == "placed"


def test_distributor_staff_pay_assign_and_cancel(client, login_distributor, shop, place):
    login_distributor(shop["distributor"])
    order = _order(place, shop, 3)
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    for action in ("move-pay", "move-cancel"):
        assert f'data-testid="{action}"' in page
    assert 'data-testid="move-ship"' not in page and 'data-testid="move-assign-courier"' not in page
    assert "data-confirm" in page and "张三" in page and "<script>" not in page
    paid = client.post(f"/orders/{order.id}/pay", {"method": "wechat", "reference": "WX123"})
    assert paid.status_code == 302 and paid.headers["Location"] == f"/orders/{order.id}"
    db.session.refresh(order)
    assert order.status == "paid"
    assert [(p.method, p.reference, str(p.amount)) for p in order.payments] == [("wechat", "WX123", "54.00")]
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert f'value="{shop["courier"].id}"' in page and 'data-testid="move-pay"' not in page
    bad = client.post(f"/orders/{order.id}/assign-courier", {"courier_id": "999"})
    assert bad.status_code == 422 and "Choose one of the distributor&#39;s couriers." in bad.get_data(as_text=True)
    done = client.post(f"/orders/{order.id}/assign-courier", {"courier_id": str(shop["courier"].id)}, htmx=True)
    assert done.status_code == 204 and done.headers["HX-Redirect"] == f"/orders/{order.id}"
    db.session.refresh(order)
    assert order.status == "assigned" and order.courier_id == shop["courier"].id
    unconfirmed = client.post(f"/orders/{order.id}/cancel", {"reason": "客户不要了"})
    assert unconfirmed.status_code == 422 and "Tick the box to confirm." in unconfirmed.get_data(as_text=True)
    db.session.refresh(order)
    assert order.status == "assigned"
    cancelled = client.post(f"/orders/{order.id}/cancel", {"reason": "客户不要了", "confirm": "y"})
    assert cancelled.status_code == 302
    db.session.refresh(order)
    assert order.status == "cancelled" and str(order.refund_due) == "54.00"
    assert inventory.available_of(shop["water"], shop["distributor"].warehouse) == 10
    timeline = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert timeline.count('data-testid="event"') == 4 and "客户不要了" in timeline
    assert 'data-testid="actions"' not in timeline, "a cancelled order offers no move"


def test_viewer_sees_but_may_not_act(client, login_as, viewer, shop, place):
    order = _order(place, shop)
    login_as(viewer)
    assert "order-ref" in client.get("/orders").get_data(as_text=True)
    page = client.get(f"/orders/{order.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and order.reference in html and 'data-testid="actions"' not in html
    assert 'data-testid="edit-order"' not in html and 'data-testid="new-order"' not in client.get(
        "/orders").get_data(as_text=True)
    for move in ("pay", "cancel", "rate", "assign-courier"):
        assert client.post(f"/orders/{order.id}/{move}", {"method": "cash", "confirm": "y"}).status_code == 403
    for url in ("/orders/new", f"/orders/{order.id}/edit"):
        assert client.get(url).status_code == 403
    assert client.post("/orders/lines", {}).status_code == 403
    assert client.get(f"/orders/{order.id}/delivery-note").status_code == 200
    db.session.refresh(order)
    assert order.status == "pending" and not order.payments


def test_a_courier_has_no_order_pages(client, login_as, shop, place):
    order = _order(place, shop)
    login_as(shop["courier"])
    assert client.get("/orders").status_code == 403
    assert client.post(f"/orders/{order.id}/pay", {"method": "cash"}).status_code == 403


def test_illegal_move_is_an_inline_409(client, login_distributor, shop, place):
    login_distributor(shop["distributor"])
    order = _order(place, shop)
    client.get(f"/orders/{order.id}")
    response = client.post(f"/orders/{order.id}/ship", {})
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "it cannot become Out for delivery" in html
    assert 'id="order-detail"' in html and "<html" in html
    fragment = client.post(f"/orders/{order.id}/deliver", {}, htmx=True)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 409 and body.lstrip().startswith("<div id=\"order-detail\"")
    assert "it cannot become Delivered" in body and "HX-Request" in fragment.headers["Vary"]
    assert client.post(f"/orders/{order.id}/refund", {"reason": "坏了", "confirm": "y"}).status_code == 409
    assert client.post(f"/orders/{order.id}/rate", {"score": "5"}).status_code == 409
    db.session.refresh(order)
    assert order.status == "pending" and [e.kind for e in order.events] == ["placed"]
    assert inventory.available_of(shop["water"], shop["distributor"].warehouse) == 9


def test_the_whole_path_through_the_page(client, login_distributor, shop, place):
    user, _distributor = login_distributor(shop["distributor"])
    order = _order(place, shop, 2)
    client.get(f"/orders/{order.id}")
    assert client.post(f"/orders/{order.id}/pay", {"method": "cash"}).status_code == 302
    assert client.post(f"/orders/{order.id}/assign-courier", {"courier_id": str(shop["courier"].id)}).status_code \
        == 302
    assert client.post(f"/orders/{order.id}/ship", {"note": "出发"}).status_code == 302
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'data-testid="move-deliver"' in page and 'data-testid="move-cancel"' not in page
    assert client.post(f"/orders/{order.id}/deliver", {"note": "放在门口"}).status_code == 302
    bad = client.post(f"/orders/{order.id}/rate", {"score": "7"})
    assert bad.status_code == 422 and "Number must be between 1 and 5." in bad.get_data(as_text=True)
    assert client.post(f"/orders/{order.id}/rate", {"score": "4", "comment": "很快"}).status_code == 302
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'data-testid="rating"' in page and "很快" in page and 'data-testid="rate"' not in page
    assert client.post(f"/orders/{order.id}/complete", {}).status_code == 302
    no_reason = client.post(f"/orders/{order.id}/refund", {"confirm": "y"})
    assert no_reason.status_code == 422 and "Say why the order is refunded." in no_reason.get_data(as_text=True)
    refunded = client.post(f"/orders/{order.id}/refund", {"reason": "漏水", "restock": "y", "confirm": "y",
                                                          "method": "cash"})
    assert refunded.status_code == 302
    db.session.refresh(order)
    assert order.status == "refunded"
    assert [p.kind for p in order.payments] == ["payment", "refund"]
    assert inventory.available_of(shop["water"], shop["distributor"].warehouse) == 10
    html = client.get(f"/orders/{order.id}").get_data(as_text=True)
    timeline = html[html.index('data-testid="timeline"'):]
    for text in ("Placed", "Paid", "Courier assigned", "Out for delivery", "Delivered", "Rated", "Completed",
                 "Refunded", "放在门口", "漏水", "出发"):
        assert text in timeline, text
    assert timeline.count(user.label) == 7 and "system" in timeline, "who did each step (placing was the system)"
    assert timeline.count("<time datetime=") == 8
    assert not inventory.ledger_differences()


def test_delivery_note_renders(client, login_distributor, shop, place):
    login_distributor(shop["distributor"])
    order = _order(place, shop, 3)
    response = client.get(f"/orders/{order.id}/delivery-note")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-testid="delivery-note"' in html
    assert order.reference in html and "张三" in html and "13800138000" in html and "市桥街" in html
    assert "广东省 广州市 番禺区" in html, "the region as people write it"
    assert 'data-testid="signature-box"' in html and html.count('data-testid="note-line"') == 1
    assert "54.00" in html and "css/print.css" in html


def test_hq_assigns_an_unassigned_order(client, login_as, shop, place):
    order = place(None, {"product_id": shop["water"].id, "quantity": 4,
                         "customer": {"name": "赵六", "phone": "13600136000", "region_code": "110105"}})
    assert order.distributor_id is None
    login_as("admin")
    listing = client.get("/orders").get_data(as_text=True)
    assert 'data-testid="unassigned-queue"' in listing
    queue = client.get("/orders?distributor=unassigned").get_data(as_text=True)
    assert _refs(queue) == {order.reference} and 'data-testid="assign-distributor"' in queue
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'data-testid="assign-distributor"' in page and 'data-testid="move-pay"' not in page
    missing = client.post(f"/orders/{order.id}/assign-distributor", {"distributor_id": ""})
    assert missing.status_code == 422 and "Choose a distributor." in missing.get_data(as_text=True)
    done = client.post(f"/orders/{order.id}/assign-distributor", {"distributor_id": str(shop["distributor"].id),
                                                                  "back": "unassigned"})
    assert done.status_code == 302 and done.headers["Location"] == "/orders?distributor=unassigned"
    db.session.refresh(order)
    assert order.distributor_id == shop["distributor"].id and order.warehouse_id == shop["distributor"].warehouse.id
    assert inventory.available_of(shop["water"], shop["distributor"].warehouse) == 6
    assert _refs(client.get("/orders?distributor=unassigned").get_data(as_text=True)) == set()
    again = client.post(f"/orders/{order.id}/assign-distributor", {"distributor_id": str(shop["distributor"].id)})
    assert again.status_code == 409


def test_a_distributor_may_not_assign_distributors(client, login_distributor, shop, place):
    order = _order(place, shop)
    login_distributor(shop["distributor"])
    client.get("/orders")
    assert client.post(f"/orders/{order.id}/assign-distributor",
                       {"distributor_id": str(shop["distributor"].id)}).status_code == 403


def test_short_stock_when_assigning_answers_409(client, login_as, shop, place):
    order = place(None, {"product_id": shop["water"].id, "quantity": 11,
                         "customer": {"name": "赵六", "phone": "13600136000", "region_code": "110105"}})
    login_as("admin")
    client.get(f"/orders/{order.id}")
    response = client.post(f"/orders/{order.id}/assign-distributor", {"distributor_id": str(shop["distributor"].id)})
    assert response.status_code == 409 and "Not enough stock of 桶装水" in response.get_data(as_text=True)
    db.session.refresh(order)
    assert order.distributor_id is None
    assert db.session.scalar(select(func.count()).select_from(OrderPayment)) == 0
    assert inventory.available_of(shop["water"], shop["distributor"].warehouse) == 10


def test_orders_of_one_status_only(client, login_as, shop, place):
    order = _order(place, shop)
    login_as("admin")
    html = client.get(f"/orders?status=pending&distributor={shop['distributor'].id}").get_data(as_text=True)
    assert _refs(html) == {order.reference}
    assert _refs(client.get("/orders?distributor=999").get_data(as_text=True)) == set()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
