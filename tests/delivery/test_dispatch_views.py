"""The dispatch board with CSRF on: grouping, loads, one-click assign and reassign (htmx), scope, bad input."""

import pytest

from dms.extensions import db
from dms.orders.models import Order, OrderEvent


@pytest.fixture
def dispatcher(shop, login_as, make_user):
    """A user of the shop's distributor, logged in."""
    return login_as(make_user("distributor", distributor_id=shop["distributor"].id))


def _events(order_id):
    return db.session.query(OrderEvent).filter_by(order_id=order_id).order_by(OrderEvent.id).all()


def test_the_board_groups_paid_orders_by_area_and_shows_each_couriers_load(client, shop, order, dispatcher):
    order("440113", "市桥街道")
    order("440106", "石牌街道")
    order(status="assigned", courier=shop["ann"])
    order(status="shipped", courier=shop["ann"])

    response = client.get("/dispatch")

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html and "HX-Request" in response.headers["Vary"]
    assert html.index("广州市 天河区") < html.index("广州市 番禺区") and "市桥街道" in html and "石牌街道" in html
    assert 'data-testid="awaiting-count">2<' in html and 'data-testid="assigned-count">1<' in html
    ann_row = html[html.index('data-courier="ann"'):]
    assert 'data-testid="load-assigned">1<' in ann_row[:600] and 'data-testid="load-total"><strong>2<' in ann_row[:700]
    assert "Dispatch board" in html  # the navigation points at it


def test_the_board_fragment_answers_htmx(client, shop, order, dispatcher):
    order()
    response = client.get("/dispatch", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert html.lstrip().startswith('<div id="dispatch-board"') and "<html" not in html


def test_one_click_assigns_and_answers_the_updated_board(client, shop, order, dispatcher):
    paid = order("440113", "市桥街道")
    client.get("/dispatch")

    response = client.post(f"/dispatch/orders/{paid.id}/courier", {"courier_id": shop["bob"].id}, htmx=True)

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and '<div id="dispatch-board"' in html
    assert f"{paid.reference} goes with Bob." in html
    assert 'data-testid="awaiting-count">0<' in html and 'data-testid="assigned-count">1<' in html
    db.session.refresh(paid)
    assert (paid.status, paid.courier_id) == ("assigned", shop["bob"].id)
    assert _events(paid.id)[-1].note == "Courier: Bob."

    response = client.post(f"/dispatch/orders/{paid.id}/courier", {"courier_id": shop["ann"].id}, htmx=True)

    assert response.status_code == 200
    db.session.refresh(paid)
    assert (paid.status, paid.courier_id) == ("assigned", shop["ann"].id)
    assert _events(paid.id)[-1].note == "Reassigned from Bob to Ann."
    assert 'data-testid="current-courier">Ann<' in response.get_data(as_text=True)


def test_a_plain_post_assigns_and_redirects_to_the_board(client, shop, order, dispatcher):
    paid = order()
    client.get("/dispatch")
    response = client.post(f"/dispatch/orders/{paid.id}/courier", {"courier_id": str(shop["ann"].id)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/dispatch")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"{paid.reference} goes with Ann." in page


@pytest.mark.parametrize("data, message", [
    ({"courier_id": "abc"}, "Choose a courier."),
    ({"courier_id": ""}, "Choose a courier."),
    ({}, "Choose a courier."),
    ({"courier_id": "99999"}, "Choose one of the distributor&#39;s couriers."),
    ({"courier_id": "1", "note": "x" * 501}, "Field cannot be longer than 500 characters."),
])
def test_bad_input_is_shown_beside_the_order_and_changes_nothing(client, shop, order, dispatcher, data, message):
    paid = order()
    client.get("/dispatch")
    response = client.post(f"/dispatch/orders/{paid.id}/courier", data, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    errors = html[html.index(f'id="assign-errors-{paid.id}"'):]
    assert message in errors[:400]
    db.session.refresh(paid)
    assert (paid.status, paid.courier_id) == ("paid", None)


def test_another_distributors_courier_cannot_be_chosen(client, shop, order, dispatcher, make_distributor, make_user):
    stranger = make_user("courier", distributor_id=make_distributor("440106").id)
    paid = order()
    client.get("/dispatch")
    response = client.post(f"/dispatch/orders/{paid.id}/courier", {"courier_id": stranger.id})
    assert response.status_code == 422 and "<html" in response.get_data(as_text=True)
    assert db.session.get(Order, paid.id).courier_id is None


def test_an_order_already_out_cannot_be_reassigned(client, shop, order, dispatcher):
    out = order(status="shipped", courier=shop["ann"])
    client.get("/dispatch")
    response = client.post(f"/dispatch/orders/{out.id}/courier", {"courier_id": shop["bob"].id}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and 'data-testid="board-error"' in html
    assert "it cannot become Courier assigned" in html
    db.session.refresh(out)
    assert (out.status, out.courier_id) == ("shipped", shop["ann"].id)


def test_without_the_csrf_token_nothing_is_assigned(client, shop, order, dispatcher):
    paid = order()
    response = client.post(f"/dispatch/orders/{paid.id}/courier", {"courier_id": shop["ann"].id}, csrf=False)
    assert response.status_code == 400
    assert db.session.get(Order, paid.id).status == "paid"


def test_a_distributor_reaches_only_its_own_board_and_orders(client, shop, order, login_as, make_user,
                                                            make_distributor):
    paid = order()
    other = make_distributor("440106")
    login_as(make_user("distributor", distributor_id=other.id))

    assert client.get(f"/dispatch?distributor={shop['distributor'].id}").status_code == 404
    assert client.get("/dispatch?distributor=abc").status_code == 404
    response = client.get("/dispatch")
    assert response.status_code == 200 and paid.reference not in response.get_data(as_text=True)
    assert client.post(f"/dispatch/orders/{paid.id}/courier", {"courier_id": shop["ann"].id}).status_code == 404
    assert client.post(f"/dispatch/orders/{paid.id}/courier", {"courier_id": shop["ann"].id},
                       htmx=True).status_code == 404
    assert client.post("/dispatch/orders/999999/courier", {"courier_id": shop["ann"].id}).status_code == 404
    assert db.session.get(Order, paid.id).status == "paid"


def test_hq_chooses_the_distributor_whose_board_it_sees(client, shop, order, login_as):
    paid = order()
    login_as("admin")
    chooser = client.get("/dispatch").get_data(as_text=True)
    assert 'data-testid="choose-distributor"' in chooser and 'id="dispatch-board"' not in chooser
    board = client.get(f"/dispatch?distributor={shop['distributor'].id}").get_data(as_text=True)
    assert paid.reference in board
    response = client.post(f"/dispatch/orders/{paid.id}/courier", {"courier_id": shop["ann"].id})
    assert response.status_code == 302 and f"distributor={shop['distributor'].id}" in response.headers["Location"]
    assert client.get("/dispatch?distributor=999999").status_code == 404


def test_couriers_and_strangers_have_no_board(client, shop, login_as):
    assert client.get("/dispatch").status_code == 302  # to the login page
    login_as(shop["ann"])
    assert client.get("/dispatch").status_code == 403
