"""Reading, listing, moving and rating orders over the API: scope, pagination, the state machine, satisfaction."""

import pytest

from dms.extensions import db
from dms.inventory import services as inventory
from dms.orders.models import Order
from tests.api import test_orders_api as placing
from tests.api.conftest import bearer
from tests.api.test_distributor_applications import matches
from tests.api.test_orders_api import ADDRESS, post

# The placing tests' fixtures, shared here.
admin, client_token, document, shop = placing.admin, placing.client_token, placing.document, placing.shop


@pytest.fixture
def staff(shop, make_user, get_token):
    """Headers of the shop's distributor user and its courier (with the courier user)."""
    distributor = shop["distributor"]
    courier = make_user("courier", distributor_id=distributor.id, display_name="王师傅")
    return {"distributor": bearer(get_token(make_user("distributor", distributor_id=distributor.id))),
            "courier": bearer(get_token(courier)), "courier_user": courier}


@pytest.fixture
def order(client, shop, staff):
    """A pending order of two waters (36.00) placed by the shop's distributor user."""
    response = post(client, {"customer": ADDRESS, "product_id": shop["water"].id, "quantity": 2,
                             "total_price": 36}, staff["distributor"])
    assert response.status_code == 201, response.json
    return response.json


def move(client, order_id, body, headers, key=None):
    return post(client, body, headers, url=f"/api/orders/{order_id}/transitions", key=key)


def stock(shop):
    db.session.expire_all()
    balance = inventory.stock_of(shop["water"], shop["distributor"].warehouse, include_empty=True)[0]
    return balance.on_hand, balance.reserved


def test_the_whole_path_through_the_transitions_endpoint(client, document, shop, staff, order):
    url = "/api/orders/{order_id}/transitions"
    manager, courier = staff["distributor"], staff["courier"]
    oid = order["order_id"]
    paid = move(client, oid, {"to": "paid", "payment": {"method": "wechat", "reference": "WX1", "amount": "36.00"}},
                manager)
    assert paid.status_code == 200, paid.json
    matches(document, url, "post", paid)
    assert paid.json["status"] == "paid" and paid.json["paid_at"]
    assert [(p["kind"], p["method"], p["reference"], p["amount"]) for p in paid.json["payments"]] == [
        ("payment", "wechat", "WX1", "36.00")]
    assigned = move(client, oid, {"to": "assigned", "courier_id": staff["courier_user"].id}, manager)
    assert assigned.status_code == 200, assigned.json
    assert assigned.json["courier"] == {"courier_id": staff["courier_user"].id, "name": "王师傅"}
    # The courier ships and delivers their own order with their own token.
    assert move(client, oid, {"to": "shipped"}, courier).status_code == 200
    assert stock(shop) == (8, 0)
    delivered = move(client, oid, {"to": "delivered", "note": "放在门口"}, courier)
    assert delivered.status_code == 200 and delivered.json["delivered_at"]
    # The courier may not complete: that is the distributor's move.
    assert move(client, oid, {"to": "completed"}, courier).status_code == 403
    completed = move(client, oid, {"to": "completed"}, manager)
    assert completed.status_code == 200 and completed.json["status"] == "completed"
    detail = client.get(f"/api/orders/{oid}", headers=manager)
    assert detail.status_code == 200
    matches(document, "/api/orders/{order_id}", "get", detail)
    timeline = detail.json["timeline"]
    assert [(e["kind"], e["from"], e["to"]) for e in timeline] == [
        ("placed", None, "pending"), ("transition", "pending", "paid"), ("transition", "paid", "assigned"),
        ("transition", "assigned", "shipped"), ("transition", "shipped", "delivered"),
        ("transition", "delivered", "completed")]
    # Over the API the actor is the token's subject: the courier's username.
    assert timeline[4]["note"] == "放在门口" and timeline[4]["actor"] == staff["courier_user"].username
    assert all(e["at"].endswith("+00:00") for e in timeline)
    assert detail.json["allowed_transitions"] == ["refunded"]
    refunded = move(client, oid, {"to": "refunded", "reason": "破损", "restock": True}, manager)
    assert refunded.status_code == 200 and refunded.json["refund_due"] == "36.00"
    assert [p["kind"] for p in refunded.json["payments"]] == ["payment", "refund"]
    assert stock(shop) == (10, 0) and inventory.ledger_differences() == []


def test_invalid_transition_is_409(client, document, staff, order):
    url = "/api/orders/{order_id}/transitions"
    response = move(client, order["order_id"], {"to": "shipped"}, staff["distributor"])
    assert response.status_code == 409
    matches(document, url, "post", response)
    assert response.json["error"]["code"] == "invalid_transition"
    assert (response.json["error"]["status"], response.json["error"]["to"]) == ("pending", "shipped")
    assert move(client, order["order_id"], {"to": "completed"}, staff["distributor"]).status_code == 409
    assert move(client, order["order_id"], {"to": "refunded", "reason": "x"}, staff["distributor"]).status_code == 409
    cancelled = move(client, order["order_id"], {"to": "cancelled", "reason": "客户取消"}, staff["distributor"])
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    again = move(client, order["order_id"], {"to": "paid"}, staff["distributor"])
    assert again.status_code == 409 and again.json["error"]["code"] == "invalid_transition"


def test_cancelling_releases_the_reservation(client, shop, staff, order):
    assert stock(shop) == (10, 2)
    response = move(client, order["order_id"], {"to": "cancelled", "reason": "客户取消"}, staff["distributor"])
    assert response.status_code == 200
    assert response.json["timeline"][-1]["note"] == "客户取消"
    assert stock(shop) == (10, 0)


@pytest.mark.parametrize("body,field", [
    ({}, "to"), ({"to": 5}, "to"), ({"to": ["paid"]}, "to"), ({"to": "lost"}, "to"), ({"to": None}, "to"),
    ({"to": "paid", "payment": "cash"}, "payment"), ({"to": "paid", "payment": [1]}, "payment"),
    ({"to": "paid", "payment": {"method": "bitcoin"}}, "payment.method"),
    ({"to": "paid", "payment": {"method": ["cash"]}}, "payment.method"),
    ({"to": "paid", "payment": {"reference": 12}}, "payment.reference"),
    ({"to": "paid", "payment": {"amount": "35.00"}}, "payment.amount"),
    ({"to": "paid", "payment": {"amount": "abc"}}, "payment.amount"),
    ({"to": "paid", "payment": {"amount": True}}, "payment.amount"),
    ({"to": "paid", "note": 5}, "note"), ({"to": "paid", "note": "x" * 501}, "note"),
    ({"to": "cancelled", "reason": {"a": 1}}, "reason"), ({"to": "cancelled", "restock": "yes"}, "restock"),
    ({"to": "assigned"}, "courier_id"), ({"to": "assigned", "courier_id": "7"}, "courier_id"),
    ({"to": "assigned", "courier_id": 999999}, "courier_id"),
])
def test_malformed_transitions_are_422(client, document, staff, order, body, field):
    oid = order["order_id"]
    if body.get("to") == "assigned":
        assert move(client, oid, {"to": "paid"}, staff["distributor"]).status_code == 200
    response = move(client, oid, body, staff["distributor"])
    assert response.status_code == 422, response.json
    matches(document, "/api/orders/{order_id}/transitions", "post", response)
    assert field in response.json["error"]["fields"], response.json


def test_a_refund_needs_a_reason(client, staff, order):
    headers, oid = staff["distributor"], order["order_id"]
    for body in ({"to": "paid"}, {"to": "assigned", "courier_id": staff["courier_user"].id}, {"to": "shipped"},
                 {"to": "delivered"}):
        assert move(client, oid, body, headers).status_code == 200
    response = move(client, oid, {"to": "refunded"}, headers)
    assert response.status_code == 422 and "reason" in response.json["error"]["fields"]


def test_another_couriers_or_distributors_order_is_404(client, shop, staff, order, make_distributor, make_user,
                                                       get_token, client_token):
    oid = order["order_id"]
    other = make_distributor("440106")
    foreign = bearer(get_token(make_user("distributor", distributor_id=other.id)))
    assert client.get(f"/api/orders/{oid}", headers=foreign).status_code == 404
    assert move(client, oid, {"to": "paid"}, foreign).status_code == 404
    assert post(client, {"score": 5}, foreign, url=f"/api/orders/{oid}/rating").status_code == 404
    assert client.get("/api/orders", headers=foreign).json["items"] == []
    assert client.get(f"/api/orders?distributor_id={shop['distributor'].id}", headers=foreign).json["total"] == 0
    # A client bound to another distributor, and one with no distributor that did not place it.
    assert client.get(f"/api/orders/{oid}", headers=client_token(distributor_id=other.id)).status_code == 404
    assert client.get(f"/api/orders/{oid}", headers=client_token(name="ERP")).status_code == 404
    # A courier sees only the orders assigned to them.
    assert client.get(f"/api/orders/{oid}", headers=staff["courier"]).status_code == 404
    assert move(client, oid, {"to": "paid"}, staff["courier"]).status_code == 404
    assert client.get("/api/orders/99999", headers=staff["distributor"]).status_code == 404
    # Nothing changed on the order.
    db.session.expire_all()
    assert db.session.get(Order, oid).status == "pending"


def test_scope_of_the_list(client, document, admin, shop, staff, order, make_distributor, make_user, get_token,
                           client_token):
    from dms.core.jobs import commit

    other = make_distributor("440106")
    inventory.receive(None, other.warehouse, [{"product": shop["water"], "quantity": 5}])
    commit()
    mini = client_token()
    mine = post(client, {"distributor_id": other.id, "product_id": shop["water"].id, "quantity": 1}, mini).json
    admin_list = client.get("/api/orders", headers=admin)
    assert admin_list.status_code == 200
    matches(document, "/api/orders", "get", admin_list)
    assert [o["order_id"] for o in admin_list.json["items"]] == [mine["order_id"], order["order_id"]]
    assert [o["order_id"] for o in client.get("/api/orders", headers=staff["distributor"]).json["items"]] == [
        order["order_id"]]
    # The mini-program without a distributor sees the orders it placed.
    assert [o["order_id"] for o in client.get("/api/orders", headers=mini).json["items"]] == [mine["order_id"]]
    assert client.get(f"/api/orders/{mine['order_id']}", headers=mini).status_code == 200
    bound = client_token(distributor_id=other.id, name="ERP")
    assert [o["order_id"] for o in client.get("/api/orders", headers=bound).json["items"]] == [mine["order_id"]]
    filtered = client.get(f"/api/orders?distributor_id={other.id}&status=pending", headers=admin).json
    assert [o["order_id"] for o in filtered["items"]] == [mine["order_id"]]
    assert client.get("/api/orders?status=paid", headers=admin).json["total"] == 0
    assert client.get("/api/orders?distributor_id=none", headers=admin).json["total"] == 0
    # No permission to read orders at all: 403; no token: 401.
    nobody = bearer(get_token(make_user([])))
    assert client.get("/api/orders", headers=nobody).status_code == 403
    assert client.get(f"/api/orders/{order['order_id']}", headers=nobody).status_code == 403
    assert client.get("/api/orders").status_code == 401


def test_the_courier_lists_their_deliveries(client, staff, order):
    oid = order["order_id"]
    assert client.get("/api/orders", headers=staff["courier"]).json["total"] == 0
    assert move(client, oid, {"to": "paid"}, staff["distributor"]).status_code == 200
    assert move(client, oid, {"to": "assigned", "courier_id": staff["courier_user"].id},
                staff["distributor"]).status_code == 200
    listed = client.get("/api/orders", headers=staff["courier"]).json
    assert [o["order_id"] for o in listed["items"]] == [oid]
    assert listed["items"][0]["allowed_transitions"] == ["shipped"]


@pytest.mark.parametrize("query", ["status=lost", "status=PENDING", "distributor_id=abc", "distributor_id=-1",
                                   "distributor_id=1.5", "distributor_id=99999999999", "page=0", "per_page=201",
                                   "page=x"])
def test_list_query_junk_is_400(client, admin, query):
    response = client.get(f"/api/orders?{query}", headers=admin)
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"
    assert response.json["error"]["fields"]


def test_pagination(client, admin, shop):
    distributor, water = shop["distributor"], shop["water"]
    ids = [post(client, {"distributor_id": distributor.id, "product_id": water.id, "quantity": 1}, admin)
           .json["order_id"] for _n in range(5)]
    first = client.get("/api/orders?per_page=2", headers=admin).json
    assert (first["page"], first["per_page"], first["total"]) == (1, 2, 5)
    second = client.get("/api/orders?per_page=2&page=2", headers=admin).json
    third = client.get("/api/orders?per_page=2&page=3", headers=admin).json
    listed = [o["order_id"] for page in (first, second, third) for o in page["items"]]
    assert listed == sorted(ids, reverse=True)
    assert client.get("/api/orders?per_page=2&page=4", headers=admin).json["items"] == []
    assert client.get("/api/orders", headers=admin).json["per_page"] == 50


def test_unassigned_order_waits_for_hq(client, admin, client_token, shop, make_user, get_token):
    response = post(client, {"customer": {**ADDRESS, "region_code": "110105"},
                             "lines": [{"product_id": shop["water"].id, "quantity": 1}]}, client_token())
    oid = response.json["order_id"]
    queue = client.get("/api/orders?distributor_id=none", headers=admin).json
    assert [o["order_id"] for o in queue["items"]] == [oid]
    assert queue["items"][0]["allowed_transitions"] == ["cancelled"]
    # Not the shop's: its distributor does not see it.
    shop_headers = bearer(get_token(make_user("distributor", distributor_id=shop["distributor"].id)))
    assert client.get(f"/api/orders/{oid}", headers=shop_headers).status_code == 404
    paid = move(client, oid, {"to": "paid"}, admin)
    assert paid.status_code == 409 and paid.json["error"]["code"] == "invalid_transition"


def test_rating_after_delivery(client, document, staff, order, client_token):
    url, oid, headers = "/api/orders/{order_id}/rating", order["order_id"], staff["distributor"]
    early = post(client, {"score": 5}, headers, url=f"/api/orders/{oid}/rating")
    assert early.status_code == 409 and early.json["error"]["code"] == "invalid_transition"
    for body in ({"to": "paid"}, {"to": "assigned", "courier_id": staff["courier_user"].id}, {"to": "shipped"},
                 {"to": "delivered"}):
        assert move(client, oid, body, headers).status_code == 200
    rated = post(client, {"score": 4, "comment": " 送货很快 "}, headers, url=f"/api/orders/{oid}/rating")
    assert rated.status_code == 201, rated.json
    matches(document, url, "post", rated)
    assert (rated.json["score"], rated.json["comment"], rated.json["source"]) == (4, "送货很快", "api")
    again = post(client, {"score": 1}, headers, url=f"/api/orders/{oid}/rating")
    assert again.status_code == 409 and again.json["error"]["code"] == "duplicate"
    matches(document, url, "post", again)
    detail = client.get(f"/api/orders/{oid}", headers=headers).json
    assert detail["rating"]["score"] == 4 and detail["timeline"][-1]["kind"] == "rated"


def test_the_mini_program_rates_its_own_order(client, client_token, shop, staff):
    mini = client_token()
    placed = post(client, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id, "quantity": 1},
                  mini).json
    oid = placed["order_id"]
    for body in ({"to": "paid"}, {"to": "assigned", "courier_id": staff["courier_user"].id}):
        assert move(client, oid, body, staff["distributor"]).status_code == 200
    for body in ({"to": "shipped"}, {"to": "delivered"}):
        assert move(client, oid, body, staff["courier"]).status_code == 200
    response = post(client, {"score": 5}, mini, url=f"/api/orders/{oid}/rating", key="rate-1")
    assert response.status_code == 201 and response.json["comment"] == ""
    replay = post(client, {"score": 5}, mini, url=f"/api/orders/{oid}/rating", key="rate-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("body,field", [
    ({}, "score"), ({"score": 0}, "score"), ({"score": 6}, "score"), ({"score": "5"}, "score"),
    ({"score": 4.5}, "score"), ({"score": True}, "score"), ({"score": None}, "score"),
    ({"score": 5, "comment": 5}, "comment"), ({"score": 5, "comment": "x" * 501}, "comment"),
    ({"score": 5, "comment": ["ok"]}, "comment"),
])
def test_malformed_ratings_are_422(client, document, staff, order, body, field):
    response = post(client, body, staff["distributor"], url=f"/api/orders/{order['order_id']}/rating")
    assert response.status_code == 422, response.json
    matches(document, "/api/orders/{order_id}/rating", "post", response)
    assert field in response.json["error"]["fields"]


@pytest.mark.parametrize("raw", ["{bad", "", "[]", "null"])
def test_transition_and_rating_bodies_must_be_objects(client, staff, order, raw):
    oid = order["order_id"]
    for url in (f"/api/orders/{oid}/transitions", f"/api/orders/{oid}/rating"):
        response = post(client, raw, staff["distributor"], url=url)
        assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"


def test_a_retried_transition_with_its_key_replays(client, staff, order):
    oid, headers = order["order_id"], staff["distributor"]
    first = move(client, oid, {"to": "paid"}, headers, key="pay-1")
    assert first.status_code == 200
    replay = move(client, oid, {"to": "paid"}, headers, key="pay-1")
    assert replay.status_code == 200 and replay.headers["Idempotent-Replayed"] == "true"
    assert len(client.get(f"/api/orders/{oid}", headers=headers).json["payments"]) == 1
