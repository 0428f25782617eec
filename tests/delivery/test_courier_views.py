"""The courier's phone page with CSRF on: their deliveries only, out for delivery and delivered (stock and
timeline), ratings once, bad input, htmx fragments."""

import pytest
from sqlalchemy import select

from dms.extensions import db
from dms.inventory import services as inventory
from dms.inventory.models import StockMovement
from dms.orders.models import Order, OrderEvent, OrderRating


@pytest.fixture
def ann(shop, login_as):
    """The courier Ann, logged in."""
    return login_as(shop["ann"])


def _transitions(order_id):
    return [(e.to_status, e.note, e.actor_label) for e in db.session.scalars(
        select(OrderEvent).where(OrderEvent.order_id == order_id, OrderEvent.kind == "transition")
        .order_by(OrderEvent.id))]


def test_the_page_lists_my_deliveries_oldest_first_with_tap_to_call(client, shop, order, ann):
    first = order("440113", "市桥街道", status="shipped", courier=shop["ann"])
    bobs = order(status="assigned", courier=shop["bob"])
    second = order("440106", "石牌街道", status="assigned", courier=shop["ann"])
    order(status="paid")

    response = client.get("/deliveries")

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert html.index(first.reference) < html.index(second.reference) and bobs.reference not in html
    assert f'href="tel:{second.ship_phone}"' in html and second.ship_name in html
    assert "广东省广州市天河区 石牌街道 " + second.ship_address in html
    assert "桶装水 × 1" in html
    assert html.count('data-testid="ship"') == 1 and html.count('data-testid="deliver"') == 1
    assert 'data-testid="nothing-delivered"' in html


def test_out_for_delivery_issues_the_reserved_stock_and_answers_the_list(client, shop, order, ann):
    assigned = order(status="assigned", quantity=3)
    warehouse = shop["distributor"].warehouse
    client.get("/deliveries")

    response = client.post(f"/deliveries/{assigned.id}/ship", htmx=True)

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and html.lstrip().startswith('<div id="deliveries"')
    assert f"{assigned.reference} is out for delivery." in html and 'data-testid="deliver"' in html
    issued = db.session.scalars(select(StockMovement).where(
        StockMovement.source_type == "order", StockMovement.source_id == str(assigned.id),
        StockMovement.kind == "issue")).all()
    assert [(m.on_hand_delta, m.reserved_delta, m.actor_label) for m in issued] == [(-3, -3, "Ann")]
    balance = inventory.stock_of(shop["water"], warehouse, include_empty=True)[0]
    assert (balance.on_hand, balance.reserved) == (47, 0)
    assert _transitions(assigned.id)[-1] == ("shipped", "", "Ann")


def test_delivered_with_a_note_moves_the_order_to_done_today(client, shop, order, ann):
    out = order(status="shipped")
    client.get("/deliveries")

    response = client.post(f"/deliveries/{out.id}/deliver", {"note": " 放在门口 "}, htmx=True)

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and f"{out.reference} is delivered." in html
    assert 'data-testid="nothing-to-deliver"' in html and 'data-testid="rating-form"' in html
    db.session.refresh(out)
    assert out.status == "delivered" and out.delivered_at is not None
    assert [t[0] for t in _transitions(out.id)] == ["paid", "assigned", "shipped", "delivered"]
    assert _transitions(out.id)[-1] == ("delivered", "放在门口", "Ann")


def test_a_plain_post_redirects_back_to_the_page(client, shop, order, ann):
    assigned = order(status="assigned")
    client.get("/deliveries")
    response = client.post(f"/deliveries/{assigned.id}/ship")
    assert response.status_code == 302 and response.headers["Location"].endswith("/deliveries")
    assert f"{assigned.reference} is out for delivery." in client.get("/deliveries").get_data(as_text=True)


def test_a_courier_cannot_touch_another_couriers_or_distributors_orders(client, shop, order, ann, make_distributor):
    bobs = order(status="assigned", courier=shop["bob"])
    bobs_out = order(status="shipped", courier=shop["bob"])
    other = make_distributor("440106")
    inventory.receive(None, other.warehouse, [{"product": shop["water"], "quantity": 5}])
    db.session.commit()
    client.get("/deliveries")

    for url in (f"/deliveries/{bobs.id}/ship", f"/deliveries/{bobs_out.id}/deliver",
                f"/deliveries/{bobs_out.id}/rating", "/deliveries/999999/ship"):
        assert client.post(url, {"score": "5"}).status_code == 404, url
        assert client.post(url, {"score": "5"}, htmx=True).status_code == 404, url
    assert db.session.get(Order, bobs.id).status == "assigned"
    assert db.session.get(Order, bobs_out.id).status == "shipped"


def test_a_move_the_order_does_not_allow_is_a_conflict_in_place(client, shop, order, ann):
    out = order(status="shipped")
    client.get("/deliveries")
    response = client.post(f"/deliveries/{out.id}/ship", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    errors = html[html.index('data-testid="delivery-errors"'):]
    assert "is Out for delivery: it cannot become Out for delivery." in errors[:300]
    assert len(db.session.scalars(select(StockMovement).where(StockMovement.kind == "issue")).all()) == 1


def test_a_too_long_note_is_refused_and_nothing_changes(client, shop, order, ann):
    out = order(status="shipped")
    client.get("/deliveries")
    response = client.post(f"/deliveries/{out.id}/deliver", {"note": "门" * 501})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" in html and 'data-testid="delivery-errors"' in html
    assert ("门" * 501) in html  # what was typed is kept
    assert db.session.get(Order, out.id).status == "shipped"
    assert client.post(f"/deliveries/{out.id}/deliver", {}, csrf=False).status_code == 400


def test_the_customers_rating_is_recorded_once(client, shop, order, ann):
    done = order(status="delivered")
    client.get("/deliveries")

    response = client.post(f"/deliveries/{done.id}/rating", {"score": "4", "comment": "送得快"}, htmx=True)

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "Rated 4/5: 送得快" in html and 'data-testid="rating-form"' not in html
    rating = db.session.scalar(select(OrderRating).where(OrderRating.order_id == done.id))
    assert (rating.score, rating.comment, rating.actor_label) == (4, "送得快", "Ann")
    assert db.session.scalar(select(OrderEvent.note).where(OrderEvent.order_id == done.id,
                                                           OrderEvent.kind == "rated")) == "Rated 4/5. 送得快"

    again = client.post(f"/deliveries/{done.id}/rating", {"score": "1"}, htmx=True)

    assert again.status_code == 409
    assert f"{done.reference} has already been rated." in again.get_data(as_text=True)
    assert db.session.scalar(select(OrderRating.score).where(OrderRating.order_id == done.id)) == 4


@pytest.mark.parametrize("data, message", [
    ({"score": "9"}, "A whole number from 1 to 5."),
    ({"score": "abc"}, "A whole number from 1 to 5."),
    ({}, "A whole number from 1 to 5."),
    ({"score": "3", "comment": "x" * 501}, "Field cannot be longer than 500 characters."),
])
def test_a_bad_rating_is_refused_in_place(client, shop, order, ann, data, message):
    done = order(status="delivered")
    client.get("/deliveries")
    response = client.post(f"/deliveries/{done.id}/rating", data, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html
    assert db.session.scalar(select(OrderRating).where(OrderRating.order_id == done.id)) is None


def test_an_order_not_yet_delivered_cannot_be_rated(client, shop, order, ann):
    out = order(status="shipped")
    client.get("/deliveries")
    response = client.post(f"/deliveries/{out.id}/rating", {"score": "5"}, htmx=True)
    assert response.status_code == 409 and "An order can be rated once it is delivered." in response.get_data(
        as_text=True)


def test_only_couriers_have_the_page(client, shop, login_as, make_user):
    login_as(make_user("distributor", distributor_id=shop["distributor"].id))
    assert client.get("/deliveries").status_code == 403
