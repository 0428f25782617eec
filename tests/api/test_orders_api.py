"""Placing orders over the API (API.md "Orders"): the seed body, multi-line, pricing, stock, routing, idempotency."""

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dms.extensions import db
from dms.inventory import services as inventory
from dms.orders.models import Order
from tests.api.conftest import bearer
from tests.api.test_distributor_applications import matches

URL = "/api/orders"
ADDRESS = {"name": "张三", "phone": "13800138000", "region_code": "440113", "street": "市桥街道",
           "address": "东环路 1 号"}


@pytest.fixture
def document(client):
    return client.get("/api/openapi.json").json


@pytest.fixture
def shop(app, make_distributor, make_product):
    """A county distributor (番禺区) whose warehouse holds 20 of a 50.00 product and 10 of an 18.00 one."""
    from dms.core.jobs import commit

    distributor = make_distributor("440113")
    flour = make_product(name="面粉", price="50.00")
    water = make_product(name="桶装水", price="18.00")
    inventory.receive(None, distributor.warehouse, [{"product": flour, "quantity": 20},
                                                    {"product": water, "quantity": 10}])
    commit()
    return {"distributor": distributor, "flour": flour, "water": water}


@pytest.fixture
def admin(make_user, get_token):
    return bearer(get_token(make_user("admin")))


@pytest.fixture
def client_token(client, make_client):
    """client_token(distributor_id=None) -> headers of an integration client (the mini-program)."""

    def make(distributor_id=None, name="小程序"):
        api_client, secret = make_client(name=name, distributor_id=distributor_id)
        response = client.post("/api/auth/token", {"grant_type": "client_credentials",
                                                   "client_id": api_client.client_id, "client_secret": secret},
                               csrf=False)
        assert response.status_code == 200, response.json
        return bearer(response.json["access_token"])

    return make


def post(client, data, headers, url=URL, key=None):
    headers = dict(headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    return client._send("post", url, data=body, content_type="application/json", headers=headers)


def available(product, distributor) -> int:
    db.session.expire_all()
    return inventory.available_of(product, distributor.warehouse)


def order_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Order))


def test_seed_body_exactly(client, document, admin, shop):
    flour, distributor = shop["flour"], shop["distributor"]
    seed = {"distributor_id": distributor.id, "product_id": flour.id, "quantity": 10, "total_price": 500.00}
    response = post(client, seed, admin)
    assert response.status_code == 201, response.json
    matches(document, "/api/orders", "post", response)
    body = response.json
    assert body["status"] == "pending" and body["total_price"] == "500.00"
    assert body["distributor_id"] == distributor.id and body["warehouse_id"] == distributor.warehouse.id
    assert response.headers["Location"] == f"/api/orders/{body['order_id']}"
    [line] = body["lines"]
    assert (line["product_id"], line["quantity"], line["unit_price"], line["amount"]) == (flour.id, 10, "50.00",
                                                                                         "500.00")
    assert [(e["kind"], e["to"]) for e in body["timeline"]] == [("placed", "pending")]
    assert available(flour, distributor) == 10
    order = db.session.get(Order, body["order_id"])
    assert order.total == Decimal("500.00") and order.source == "api"
    # A decimal string is accepted for money too, and the total may be left out.
    again = post(client, {**seed, "total_price": "500.00"}, admin)
    assert again.status_code == 201 and available(flour, distributor) == 0
    assert post(client, {k: v for k, v in seed.items() if k != "total_price"}, admin).status_code == 409


def test_multi_line_body_with_a_new_customer(client, document, shop, make_user, get_token):
    distributor, flour, water = shop["distributor"], shop["flour"], shop["water"]
    headers = bearer(get_token(make_user("distributor", distributor_id=distributor.id)))
    unknown = post(client, {"customer": ADDRESS, "campaign_code": "SUMMER",
                            "lines": [{"product_id": water.id, "quantity": 3}]}, headers)
    assert unknown.status_code == 422 and "campaign_code" in unknown.json["error"]["fields"]  # no such campaign
    response = post(client, {"customer": ADDRESS,
                             "lines": [{"product_id": water.id, "quantity": 3}, {"product_id": flour.id,
                                                                                  "quantity": 1}],
                             "total_price": 104}, headers)
    assert response.status_code == 201, response.json
    matches(document, "/api/orders", "post", response)
    body = response.json
    assert body["total_price"] == "104.00" and body["subtotal"] == "104.00" and body["campaign_code"] is None
    assert [(line["product_id"], line["amount"]) for line in body["lines"]] == [(water.id, "54.00"),
                                                                               (flour.id, "50.00")]
    assert body["distributor_id"] == distributor.id and body["customer_id"] is not None
    assert body["address"] == {**ADDRESS}  # the distributor may see its customers' phones
    assert (available(water, distributor), available(flour, distributor)) == (7, 19)
    # The same customer ordering again is found, not duplicated.
    second = post(client, {"customer": ADDRESS, "lines": [{"product_id": water.id, "quantity": 1}]}, headers)
    assert second.json["customer_id"] == body["customer_id"]


def test_price_mismatch_is_422_with_the_computed_total(client, document, admin, shop):
    distributor, flour = shop["distributor"], shop["flour"]
    response = post(client, {"distributor_id": distributor.id, "product_id": flour.id, "quantity": 3,
                             "total_price": 120}, admin)
    assert response.status_code == 422, response.json
    matches(document, "/api/orders", "post", response)
    error = response.json["error"]
    assert error["code"] == "price_mismatch" and error["computed_total"] == "150.00"
    assert "total_price" in error["fields"] and "150.00" in error["message"]
    assert order_count() == 0 and available(flour, distributor) == 20


def test_insufficient_stock_is_409_and_reserves_nothing(client, document, admin, shop):
    distributor, flour, water = shop["distributor"], shop["flour"], shop["water"]
    # The first line fits, the second does not: the first must not stay reserved.
    response = post(client, {"distributor_id": distributor.id, "lines": [
        {"product_id": flour.id, "quantity": 5}, {"product_id": water.id, "quantity": 11}]}, admin)
    assert response.status_code == 409, response.json
    matches(document, "/api/orders", "post", response)
    error = response.json["error"]
    assert error["code"] == "insufficient_stock" and error["product_id"] == water.id
    assert "桶装水" in error["message"] and error["available"] == 10 and error["requested"] == 11
    assert "lines.1.quantity" in error["fields"]
    assert order_count() == 0
    assert (available(flour, distributor), available(water, distributor)) == (20, 10)
    assert inventory.ledger_differences() == []
    seed = post(client, {"distributor_id": distributor.id, "product_id": water.id, "quantity": 11}, admin)
    assert seed.status_code == 409 and "quantity" in seed.json["error"]["fields"]


@pytest.fixture
def network(make_distributor, grant, make_product):
    """A county agent (番禺区), a city agent (广州市) and a province agent (广东省), each with stock."""
    from dms.core.jobs import commit

    water = make_product(name="桶装水", price="18.00")
    county = make_distributor("440113")
    city = make_distributor("440100")
    province = make_distributor("440000")
    grant(county, "440113")
    # The wider agents' grants are not exclusive, so the narrower ones may sit inside them.
    grant(city, "440100", exclusive=False)
    grant(province, "440000", exclusive=False)
    for distributor in (county, city, province):
        inventory.receive(None, distributor.warehouse, [{"product": water, "quantity": 5}])
    commit()
    return {"county": county, "city": city, "province": province, "water": water}


@pytest.mark.parametrize("region,expected", [
    ("440113", "county"),  # 番禺区: the county grant
    ("440106", "city"),  # 天河区: inside 广州市, no county agent
    ("440605", "province"),  # 南海区 (佛山): only the province agent
    ("110105", None),  # 朝阳区 (北京): no territory covers it
])
def test_routing_by_the_customers_region(client, document, client_token, network, region, expected):
    headers = client_token()
    response = post(client, {"customer": {**ADDRESS, "region_code": region},
                             "lines": [{"product_id": network["water"].id, "quantity": 2}]}, headers)
    assert response.status_code == 201, response.json
    matches(document, "/api/orders", "post", response)
    body = response.json
    assert body["status"] == "pending" and body["address"]["region_code"] == region
    if expected is None:
        # HQ's unassigned queue: no distributor, no warehouse, nothing reserved anywhere.
        assert body["distributor_id"] is None and body["warehouse_id"] is None
        assert "110105" in body["timeline"][0]["note"]
        assert all(available(network["water"], network[k]) == 5 for k in ("county", "city", "province"))
    else:
        distributor = network[expected]
        assert body["distributor_id"] == distributor.id
        assert available(network["water"], distributor) == 3
    # The client's phone is masked: it may not see customers' phone numbers.
    assert body["address"]["phone"] == "138****8000"
    listed = client.get(f"/api/orders?distributor_id={'none' if expected is None else body['distributor_id']}",
                        headers=headers).json
    assert [o["order_id"] for o in listed["items"]] == [body["order_id"]]


def test_routing_ignores_a_grant_not_in_force(client, client_token, make_distributor, grant, make_product):
    from dms.core.jobs import commit

    water = make_product(price="18.00")
    county = make_distributor("440113")
    grant(county, "440113", start=date(2020, 1, 1), end=date(2020, 12, 31))
    inventory.receive(None, county.warehouse, [{"product": water, "quantity": 5}])
    commit()
    response = post(client, {"customer": ADDRESS, "lines": [{"product_id": water.id, "quantity": 1}]},
                    client_token())
    assert response.status_code == 201 and response.json["distributor_id"] is None


def test_idempotency_key_replays_refuses_another_body_and_in_flight(client, admin, shop, make_user):
    from dms.api.idempotency import fingerprint
    from dms.api.models import IdempotencyRecord
    from dms.core.time import utcnow

    distributor, water = shop["distributor"], shop["water"]
    body = {"distributor_id": distributor.id, "product_id": water.id, "quantity": 2, "total_price": 36}
    first = post(client, body, admin, key="order-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    replay = post(client, body, admin, key="order-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json == first.json
    assert order_count() == 1 and available(water, distributor) == 8
    other = post(client, {**body, "quantity": 3, "total_price": 54}, admin, key="order-1")
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_key_reused"
    assert order_count() == 1
    # A request still running under the key (its committed marker): the duplicate answers 409.
    raw = json.dumps(body).encode()
    subject = db.session.scalar(select(IdempotencyRecord.subject))
    with db.engine.begin() as conn:
        conn.execute(IdempotencyRecord.__table__.insert().values(
            subject=subject, key="order-2", method="POST", path=URL, status="in_progress",
            request_hash=fingerprint("POST", URL, b"", raw), created_at=utcnow()))
    running = post(client, raw, admin, key="order-2")
    assert running.status_code == 409 and running.json["error"]["code"] == "idempotency_in_flight"
    assert order_count() == 1


def test_a_failed_order_frees_its_idempotency_key(client, admin, shop):
    distributor, water = shop["distributor"], shop["water"]
    body = {"distributor_id": distributor.id, "product_id": water.id, "quantity": 11}
    assert post(client, body, admin, key="k").status_code == 409
    inventory.receive(None, distributor.warehouse, [{"product": water, "quantity": 1}])
    db.session.commit()
    retry = post(client, body, admin, key="k")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers


def test_permissions_and_scope_of_placing(client, shop, make_distributor, make_user, get_token):
    distributor, water = shop["distributor"], shop["water"]
    other = make_distributor("440106")
    foreign = bearer(get_token(make_user("distributor", distributor_id=other.id)))
    body = {"distributor_id": distributor.id, "product_id": water.id, "quantity": 1}
    assert post(client, body, foreign).status_code == 404
    courier = bearer(get_token(make_user("courier", distributor_id=distributor.id)))
    assert post(client, body, courier).status_code == 403
    reviewer = bearer(get_token(make_user("reviewer")))
    assert post(client, body, reviewer).status_code == 201
    assert post(client, body, {}).status_code == 401
    assert order_count() == 1


def test_a_distributor_token_orders_for_itself_without_distributor_id(client, shop, make_user, get_token):
    distributor, water = shop["distributor"], shop["water"]
    headers = bearer(get_token(make_user("distributor", distributor_id=distributor.id)))
    response = post(client, {"product_id": water.id, "quantity": 1}, headers)
    assert response.status_code == 201 and response.json["distributor_id"] == distributor.id


def test_an_inactive_distributor_takes_no_orders(client, admin, shop):
    from dms.distributors import services as distributors

    distributor, water = shop["distributor"], shop["water"]
    distributors.set_status(None, distributor, "suspended", reason="audit")
    db.session.commit()
    response = post(client, {"distributor_id": distributor.id, "product_id": water.id, "quantity": 1}, admin)
    assert response.status_code == 409 and response.json["error"]["code"] == "distributor_inactive"


def test_a_client_gives_no_discounts(client, client_token, shop):
    distributor, water = shop["distributor"], shop["water"]
    response = post(client, {"distributor_id": distributor.id,
                             "lines": [{"product_id": water.id, "quantity": 1, "discount": "5"}]}, client_token())
    assert response.status_code == 422 and "lines.0.discount" in response.json["error"]["fields"]
    assert order_count() == 0


# "D" and "W" stand for the distributor's and the water's ids.
SEED = {"distributor_id": "D", "product_id": "W", "quantity": 1}
BAD_BODIES = [
    ({**SEED, "distributor_id": "1"}, "distributor_id"), ({**SEED, "distributor_id": True}, "distributor_id"),
    ({**SEED, "distributor_id": 2**40}, "distributor_id"), ({**SEED, "distributor_id": 999999}, "distributor_id"),
    ({**SEED, "distributor_id": [1]}, "distributor_id"),
    ({**SEED, "product_id": "water"}, "product_id"), ({**SEED, "product_id": [1]}, "product_id"),
    ({**SEED, "product_id": 999999}, "product_id"), ({**SEED, "product_id": 1.0}, "product_id"),
    ({"distributor_id": "D", "quantity": 1}, "product_id"), ({"distributor_id": "D"}, "product_id"),
    ({**SEED, "quantity": 0}, "quantity"), ({**SEED, "quantity": -3}, "quantity"),
    ({**SEED, "quantity": 1.5}, "quantity"), ({**SEED, "quantity": "2"}, "quantity"),
    ({**SEED, "quantity": None}, "quantity"), ({**SEED, "quantity": 10**9}, "quantity"),
    ({**SEED, "quantity": 10**30}, "quantity"),
    ({**SEED, "total_price": "abc"}, "total_price"), ({**SEED, "total_price": -1}, "total_price"),
    ({**SEED, "total_price": True}, "total_price"), ({**SEED, "total_price": [18]}, "total_price"),
    ({**SEED, "total_price": "NaN"}, "total_price"), ({**SEED, "total_price": "1e400"}, "total_price"),
    ({**SEED, "total_price": {"v": 18}}, "total_price"),
    ({"distributor_id": "D", "lines": []}, "lines"), ({"distributor_id": "D", "lines": "W"}, "lines"),
    ({"distributor_id": "D", "lines": {"product_id": 1}}, "lines"),
    ({"distributor_id": "D", "lines": [7]}, "lines.0"),
    ({"distributor_id": "D", "lines": [{"product_id": None, "quantity": 1}]}, "lines.0.product_id"),
    ({"distributor_id": "D", "lines": [{"quantity": 1}]}, "lines.0.product_id"),
    ({"distributor_id": "D", "lines": [{"product_id": "W", "quantity": 1}] * 2}, "lines.1.product_id"),
    ({"distributor_id": "D", "lines": [{"product_id": "W", "quantity": {"n": 1}}]}, "lines.0.quantity"),
    ({"distributor_id": "D", "lines": [{"product_id": "W", "quantity": 1}] * 101}, "lines"),
    ({**SEED, "customer_id": "7"}, "customer_id"), ({**SEED, "customer": "张三"}, "customer"),
    ({**SEED, "customer": {**ADDRESS, "phone": "123"}}, "customer.phone"),
    ({**SEED, "customer": {**ADDRESS, "phone": 13800138000}}, "customer.phone"),
    ({**SEED, "customer": {**ADDRESS, "region_code": "999999"}}, "customer.region_code"),
    ({**SEED, "customer": {**ADDRESS, "region_code": 440113}}, "customer.region_code"),
    ({**SEED, "customer": {**ADDRESS, "name": ["x"]}}, "customer.name"),
    ({**SEED, "customer": {**ADDRESS, "name": ""}}, "customer.name"),
    ({**SEED, "customer": {**ADDRESS, "address": "x" * 256}}, "customer.address"),
    ({**SEED, "campaign_code": 5}, "campaign_code"), ({**SEED, "campaign_code": "x" * 33}, "campaign_code"),
    ({**SEED, "note": {"a": 1}}, "note"),
]


@pytest.mark.parametrize("body,field", BAD_BODIES)
def test_malformed_bodies_are_422_naming_the_field(client, document, admin, shop, body, field):
    distributor, water = shop["distributor"], shop["water"]
    body = json.loads(json.dumps(body).replace('"D"', str(distributor.id)).replace('"W"', str(water.id)))
    response = post(client, body, admin)
    assert response.status_code == 422, (body, response.json)
    matches(document, "/api/orders", "post", response)
    assert field in response.json["error"]["fields"], response.json
    assert order_count() == 0 and available(water, distributor) == 10


@pytest.mark.parametrize("raw", ["{bad", "", '"text"', "[1, 2]", "null", b"\xff\xfe"])
def test_bodies_that_are_not_a_json_object_are_400(client, admin, shop, raw):
    response = post(client, raw, admin)
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"


def test_an_unpriced_product_is_not_for_sale(client, admin, shop, make_product):
    pending = make_product(price=None)
    response = post(client, {"distributor_id": shop["distributor"].id, "product_id": pending.id, "quantity": 1},
                    admin)
    assert response.status_code == 422 and "product_id" in response.json["error"]["fields"]


def test_a_client_without_distributor_must_give_an_address_or_distributor(client, client_token, shop):
    response = post(client, {"product_id": shop["water"].id, "quantity": 1}, client_token())
    assert response.status_code == 422 and "distributor_id" in response.json["error"]["fields"]
