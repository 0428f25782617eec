"""Customers over the API (issue 6): registering (routing, duplicates, idempotency), reading, scope, masking."""

import json

import pytest
from sqlalchemy import func, select

from dms.customers.models import Customer, CustomerPhone
from dms.extensions import db
from dms.inventory import services as inventory
from tests.api.conftest import bearer
from tests.api.test_openapi import _check

URL = "/api/customers"
HOUSEHOLD = {"name": "陈美玲", "phone": "13907571001", "region_code": "440605", "street": "桂城街道",
             "address": "南海大道北 88 号 3 座 1201"}


@pytest.fixture
def document(client):
    return client.get("/api/openapi.json").json


@pytest.fixture
def agents(make_distributor, grant):
    """Two county agents with their territories: 南海区 (440605) and 顺德区 (440606)."""
    nanhai, shunde = make_distributor("440605"), make_distributor("440606")
    grant(nanhai, "440605")
    grant(shunde, "440606")
    return {"nanhai": nanhai, "shunde": shunde}


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


@pytest.fixture
def user_token(make_user, get_token):
    """user_token(role, distributor=None) -> headers of a person's token."""

    def make(role, distributor=None):
        user = make_user(role, distributor_id=distributor.id if distributor else None)
        return bearer(get_token(user))

    return make


def post(client, data, headers, key=None):
    headers = dict(headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    return client._send("post", URL, data=body, content_type="application/json", headers=headers)


def count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Customer))


def test_a_client_registers_a_customer_routed_by_territory(client, document, agents, client_token):
    app_headers = client_token()
    response = post(client, {**HOUSEHOLD, "kind": "business", "tags": ["学校", "VIP", "VIP"]}, app_headers)
    assert response.status_code == 201, response.json
    _check(document, URL, "post", response)
    body = response.json
    assert body["distributor_id"] == agents["nanhai"].id
    assert (body["kind"], body["source"], body["tags"]) == ("business", "mini_program", ["VIP", "学校"])
    # The integration role may not see phones in full.
    assert body["phone"] == "139****1001"
    address, = body["addresses"]
    assert (address["region_code"], address["street"], address["is_default"]) == ("440605", "桂城街道", True)
    assert response.headers["Location"] == f"{URL}/{body['customer_id']}"
    again = client.get(response.headers["Location"], headers=app_headers)
    assert again.status_code == 200
    _check(document, f"{URL}/{{customer_id}}", "get", again)
    assert again.json == body
    stored = db.session.get(Customer, body["customer_id"])
    assert (stored.phone, stored.distributor_id) == ("13907571001", agents["nanhai"].id)


def test_orders_of_the_same_household_are_the_registered_customers(client, agents, client_token, make_product):
    headers = client_token()
    water = make_product(price="18.00")
    inventory.receive(None, agents["nanhai"].warehouse, [{"product": water, "quantity": 5}])
    db.session.commit()
    registered = post(client, HOUSEHOLD, headers).json
    order = client._send("post", "/api/orders", data=json.dumps({
        "customer": HOUSEHOLD, "lines": [{"product_id": water.id, "quantity": 2}]}),
        content_type="application/json", headers=headers)
    assert order.status_code == 201, order.json
    assert (order.json["customer_id"], order.json["distributor_id"]) == (registered["customer_id"],
                                                                         agents["nanhai"].id)
    assert count() == 1
    # The customer it registered is the client's to order for by id too; another client's is not.
    by_id = client._send("post", "/api/orders", data=json.dumps({
        "customer_id": registered["customer_id"], "lines": [{"product_id": water.id, "quantity": 1}]}),
        content_type="application/json", headers=headers)
    assert by_id.status_code == 201 and by_id.json["customer_id"] == registered["customer_id"], by_id.json
    other = client._send("post", "/api/orders", data=json.dumps({
        "customer_id": registered["customer_id"], "lines": [{"product_id": water.id, "quantity": 1}]}),
        content_type="application/json", headers=client_token())
    assert other.status_code == 404


def test_no_territory_leaves_the_customer_unassigned(client, agents, client_token):
    response = post(client, {**HOUSEHOLD, "region_code": "110105"}, client_token())
    assert response.status_code == 201, response.json
    assert response.json["distributor_id"] is None


def test_a_distributors_token_registers_its_own_and_sees_phones(client, agents, user_token):
    nanhai, shunde = agents["nanhai"], agents["shunde"]
    headers = user_token("distributor", nanhai)
    # Her own customer even for an address in the neighbour's county: the caller's distributor comes first.
    response = post(client, {**HOUSEHOLD, "region_code": "440606"}, headers)
    assert response.status_code == 201, response.json
    assert (response.json["distributor_id"], response.json["phone"]) == (nanhai.id, "13907571001")
    foreign = post(client, {**HOUSEHOLD, "phone": "13907571002", "distributor_id": shunde.id}, headers)
    assert foreign.status_code == 404
    unknown = post(client, {**HOUSEHOLD, "phone": "13907571002", "distributor_id": 999999}, user_token("admin"))
    assert unknown.status_code == 422 and "distributor_id" in unknown.json["error"]["fields"]
    assert count() == 1


def test_a_known_phone_is_409_duplicate_with_the_existing_customer(client, document, agents, client_token):
    headers = client_token()
    first = post(client, HOUSEHOLD, headers)
    assert first.status_code == 201
    twin = post(client, {**HOUSEHOLD, "name": "陈小姐", "street": ""}, headers)
    assert twin.status_code == 409
    _check(document, URL, "post", twin)
    error = twin.json["error"]
    assert (error["code"], error["customer_id"]) == ("duplicate", first.json["customer_id"])
    assert "phone" in error["fields"]
    # Another distributor may have a customer with the same phone: duplicates are per distributor.
    elsewhere = post(client, {**HOUSEHOLD, "region_code": "440606"}, headers)
    assert elsewhere.status_code == 201 and elsewhere.json["distributor_id"] == agents["shunde"].id
    # A customer's other numbers count too.
    db.session.add(CustomerPhone(customer_id=first.json["customer_id"], number="13907571009", label="办公室"))
    db.session.commit()
    other = post(client, {**HOUSEHOLD, "phone": "13907571009"}, headers)
    assert other.status_code == 409 and other.json["error"]["customer_id"] == first.json["customer_id"]
    assert count() == 2


def test_idempotency_key_replays_and_refuses_another_body(client, agents, client_token):
    headers = client_token()
    first = post(client, HOUSEHOLD, headers, key="reg-1")
    assert first.status_code == 201
    replay = post(client, HOUSEHOLD, headers, key="reg-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json == first.json
    assert count() == 1
    changed = post(client, {**HOUSEHOLD, "name": "别人"}, headers, key="reg-1")
    assert changed.status_code == 422 and changed.json["error"]["code"] == "idempotency_key_reused"
    # A refused registration frees its key: the same key may be sent again with a corrected body.
    duplicate = post(client, HOUSEHOLD, headers, key="reg-2")
    assert duplicate.status_code == 409
    corrected = post(client, {**HOUSEHOLD, "phone": "13907571003"}, headers, key="reg-2")
    assert corrected.status_code == 201 and corrected.headers.get("Idempotent-Replayed") is None
    assert count() == 2


def test_a_refused_registration_can_retry_its_key(client, agents, client_token):
    headers = client_token()
    bad = post(client, {**HOUSEHOLD, "phone": "123"}, headers, key="retry-me")
    assert bad.status_code == 422
    again = post(client, {**HOUSEHOLD, "phone": "123"}, headers, key="retry-me")
    assert again.status_code == 422 and again.headers.get("Idempotent-Replayed") is None
    assert count() == 0


def test_scope_of_reading(client, document, agents, client_token, user_token, make_product):
    nanhai, shunde = agents["nanhai"], agents["shunde"]
    mini, other_app = client_token(name="小程序"), client_token(name="另一个应用")
    mine = post(client, HOUSEHOLD, mini).json
    theirs = post(client, {**HOUSEHOLD, "name": "何家豪", "phone": "13907571002", "region_code": "440606"},
                  user_token("distributor", shunde)).json
    # A customer of an order the mini-program placed is in its scope too, though it did not register them.
    water = make_product(price="18.00")
    inventory.receive(None, nanhai.warehouse, [{"product": water, "quantity": 5}])
    db.session.commit()
    order = client._send("post", "/api/orders", data=json.dumps({"distributor_id": nanhai.id, "lines": [
        {"product_id": water.id, "quantity": 1}], "customer": {"name": "梁淑仪", "phone": "13907571004",
                                                               "region_code": "440605"}}),
                         content_type="application/json", headers=mini)
    assert order.status_code == 201, order.json
    ordered_customer = order.json["customer_id"]

    def ids(headers, **args):
        response = client.get(URL, headers=headers, query_string=args)
        assert response.status_code == 200, response.json
        _check(document, URL, "get", response)
        return [item["customer_id"] for item in response.json["items"]]

    assert ids(mini) == [ordered_customer, mine["customer_id"]]
    assert ids(other_app) == []
    assert ids(user_token("distributor", nanhai)) == [ordered_customer, mine["customer_id"]]
    assert ids(user_token("distributor", shunde)) == [theirs["customer_id"]]
    assert ids(user_token("reviewer")) == [ordered_customer, theirs["customer_id"], mine["customer_id"]]
    assert ids(client_token(shunde.id, name="顺德小程序")) == [theirs["customer_id"]]
    for headers, customer_id in ((other_app, mine["customer_id"]), (mini, theirs["customer_id"]),
                                 (user_token("distributor", nanhai), theirs["customer_id"])):
        response = client.get(f"{URL}/{customer_id}", headers=headers)
        assert response.status_code == 404
        _check(document, f"{URL}/{{customer_id}}", "get", response)
    assert client.get(f"{URL}/99999999999", headers=mini).status_code == 404


def test_search_by_name_and_phone_and_pagination(client, agents, user_token):
    headers = user_token("distributor", agents["nanhai"])
    for n, name in enumerate(["陈美玲", "何家豪", "陈国强"], start=1):
        assert post(client, {**HOUSEHOLD, "name": name, "phone": f"1390757100{n}"}, headers).status_code == 201

    def names(**args):
        response = client.get(URL, headers=headers, query_string=args)
        assert response.status_code == 200, response.json
        return [item["name"] for item in response.json["items"]], response.json["total"]

    assert names(q="陈") == (["陈国强", "陈美玲"], 2)
    assert names(q="71002") == (["何家豪"], 1)
    assert names(q="%") == ([], 0)
    assert names(per_page=2, page=2) == (["陈美玲"], 3)
    assert client.get(URL, headers=headers, query_string={"per_page": 0}).status_code == 400


def test_masking_follows_the_permission(client, agents, user_token):
    created = post(client, HOUSEHOLD, user_token("distributor", agents["nanhai"])).json
    url = f"{URL}/{created['customer_id']}"
    assert client.get(url, headers=user_token("admin")).json["phone"] == "13907571001"
    # The reviewer sees every customer but not their full numbers.
    assert client.get(url, headers=user_token("reviewer")).json["phone"] == "139****1001"


@pytest.mark.parametrize(("body", "fields"), [
    ({"phone": "13907571001", "region_code": "440605"}, {"name"}),
    ({**HOUSEHOLD, "phone": "12345"}, {"phone"}),
    ({**HOUSEHOLD, "phone": 13907571001}, {"phone"}),
    ({**HOUSEHOLD, "region_code": "999999"}, {"region_code"}),
    ({**HOUSEHOLD, "region_code": 440605}, {"region_code"}),
    ({**HOUSEHOLD, "kind": "alien"}, {"kind"}),
    ({**HOUSEHOLD, "tags": "VIP"}, {"tags"}),
    ({**HOUSEHOLD, "tags": ["", "VIP"]}, {"tags"}),
    ({**HOUSEHOLD, "tags": [{"name": "VIP"}]}, {"tags"}),
    ({**HOUSEHOLD, "tags": ["x" * 33]}, {"tags"}),
    ({**HOUSEHOLD, "distributor_id": "1"}, {"distributor_id"}),
    ({**HOUSEHOLD, "distributor_id": True}, {"distributor_id"}),
    ({**HOUSEHOLD, "source": "telepathy"}, {"source"}),
    ({**HOUSEHOLD, "note": ["x"]}, {"note"}),
    ({**HOUSEHOLD, "street": "x" * 101, "address": 7}, {"street", "address"}),
    ({"name": None, "phone": None, "region_code": None, "kind": 1}, {"name", "phone", "region_code", "kind"}),
])
def test_malformed_fields_are_422_naming_each(client, document, agents, client_token, body, fields):
    response = post(client, body, client_token())
    assert response.status_code == 422, response.json
    _check(document, URL, "post", response)
    assert set(response.json["error"]["fields"]) == fields
    assert count() == 0


@pytest.mark.parametrize("raw", ["", "not json", "[1, 2]", "\"text\"", "{\"name\": "])
def test_bodies_that_are_not_a_json_object_are_400(client, agents, client_token, raw):
    response = post(client, raw, client_token())
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"


def test_authentication_and_permissions(client, agents, user_token):
    assert client.get(URL).status_code == 401
    assert post(client, HOUSEHOLD, {}).status_code == 401
    # A reviewer reads customers but does not register them; a courier does neither.
    assert post(client, HOUSEHOLD, user_token("reviewer")).status_code == 403
    assert client.get(URL, headers=user_token("courier", agents["nanhai"])).status_code == 403
    assert count() == 0
