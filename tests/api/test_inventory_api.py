"""The stock API (API.md "Catalog and stock"): the seed count body, repeats, errors, scoping, stock by batch."""

import json

import pytest
from sqlalchemy import func, select

from dms.extensions import db
from dms.inventory import services
from dms.inventory.models import StockMovement
from tests.api.conftest import bearer
from tests.api.test_distributor_applications import matches

SEED = {"stock": 50, "batch_id": "BATCH202309", "expiry_date": "2024-09-13"}


@pytest.fixture
def document(client):
    return client.get("/api/openapi.json").json


@pytest.fixture
def admin(make_user, get_token):
    return bearer(get_token(make_user("admin")))


def put(client, url, data, headers):
    return client._send("put", url, data=json.dumps(data), content_type="application/json", headers=headers)


def movements() -> list[StockMovement]:
    return db.session.scalars(select(StockMovement).order_by(StockMovement.id)).all()


def test_seed_body_exactly(client, document, admin, make_product, hq_warehouse):
    product = make_product(tracking="batch")
    response = put(client, f"/api/inventory/{product.id}", SEED, admin)
    assert response.status_code == 200, response.json
    matches(document, "/api/inventory/{product_id}", "put", response)
    assert response.json == {"product_id": product.id, "warehouse_id": hq_warehouse.id, "batch_id": "BATCH202309",
                             "stock": 50, "available": 50}
    (movement,) = movements()
    assert (movement.kind, movement.on_hand_delta, movement.reason) == ("count", 50, "count")
    again = put(client, f"/api/inventory/{product.id}", SEED, admin)
    assert again.status_code == 200 and again.json == response.json
    assert len(movements()) == 1, "repeating the count records nothing new"
    lower = put(client, f"/api/inventory/{product.id}", {**SEED, "stock": 45}, admin)
    assert lower.json["stock"] == 45 and [m.on_hand_delta for m in movements()] == [50, -5]
    assert services.ledger_differences() == []


def test_untracked_product_without_a_batch(client, admin, make_product):
    product = make_product()
    response = put(client, f"/api/inventory/{product.id}", {"stock": 7}, admin)
    assert response.status_code == 200 and response.json["batch_id"] == "" and response.json["stock"] == 7


@pytest.mark.parametrize("body,field", [
    ({"stock": -1}, "stock"), ({"stock": 1.5}, "stock"), ({"stock": "5"}, "stock"), ({"stock": True}, "stock"),
    ({}, "stock"), ({"stock": 5, "batch_id": "B", "expiry_date": "2024-13-01"}, "expiry_date"),
    ({"stock": 5, "batch_id": "B", "expiry_date": "13/09/2024"}, "expiry_date"),
    ({"stock": 5, "batch_id": 7}, "batch_id"), ({"stock": 5, "warehouse_id": "x"}, "warehouse_id"),
    ({"stock": 5}, "batch_id"),  # a batch-tracked product needs its batch
])
def test_bad_counts_are_422(client, document, admin, make_product, body, field):
    product = make_product(tracking="batch")
    response = put(client, f"/api/inventory/{product.id}", body, admin)
    assert response.status_code == 422, response.json
    matches(document, "/api/inventory/{product_id}", "put", response)
    assert field in response.json["error"]["fields"]
    assert movements() == []


def test_other_expiry_of_a_known_batch_is_422(client, admin, make_product):
    product = make_product(tracking="batch")
    put(client, f"/api/inventory/{product.id}", SEED, admin)
    response = put(client, f"/api/inventory/{product.id}", {**SEED, "expiry_date": "2024-10-01"}, admin)
    assert response.status_code == 422 and "expiry_date" in response.json["error"]["fields"]


def test_unknown_product_or_warehouse_is_404(client, admin):
    assert put(client, "/api/inventory/999999", SEED, admin).status_code == 404
    assert client.get("/api/inventory/999999", headers=admin).status_code == 404


def test_count_below_reserved_is_409(client, admin, make_product, hq_warehouse):
    product = make_product(tracking="batch")
    put(client, f"/api/inventory/{product.id}", {"stock": 10, "batch_id": "B"}, admin)
    services.reserve(None, hq_warehouse, product, 6, "order", 1)
    db.session.commit()
    response = put(client, f"/api/inventory/{product.id}", {"stock": 5, "batch_id": "B"}, admin)
    assert response.status_code == 409 and response.json["error"]["code"] == "conflict"
    ok = put(client, f"/api/inventory/{product.id}", {"stock": 8, "batch_id": "B"}, admin)
    assert ok.json["stock"] == 8 and ok.json["available"] == 2


def test_distributor_counts_only_its_own_warehouse(client, document, admin, make_product, make_distributor,
                                                   make_user, get_token, hq_warehouse):
    mine, theirs = make_distributor("110105"), make_distributor("110106")
    token = bearer(get_token(make_user("distributor", distributor_id=mine.id)))
    product = make_product(tracking="batch")
    own = put(client, f"/api/inventory/{product.id}", {**SEED, "stock": 5}, token)
    assert own.status_code == 200 and own.json["warehouse_id"] == mine.warehouse.id
    same = put(client, f"/api/inventory/{product.id}", {**SEED, "stock": 5, "warehouse_id": mine.warehouse.id}, token)
    assert same.status_code == 200
    for foreign in (theirs.warehouse.id, hq_warehouse.id):
        response = put(client, f"/api/inventory/{product.id}", {**SEED, "warehouse_id": foreign}, token)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    admin_there = put(client, f"/api/inventory/{product.id}", {**SEED, "stock": 9,
                                                               "warehouse_id": theirs.warehouse.id}, admin)
    assert admin_there.status_code == 200 and admin_there.json["warehouse_id"] == theirs.warehouse.id
    assert [b.warehouse_id for b in services.stock_of(product)] == [mine.warehouse.id, theirs.warehouse.id]

    seen = client.get(f"/api/inventory/{product.id}", headers=token)
    assert seen.status_code == 200
    matches(document, "/api/inventory/{product_id}", "get", seen)
    assert [i["warehouse_id"] for i in seen.json["items"]] == [mine.warehouse.id] and seen.json["on_hand"] == 5


def test_permissions(client, make_product, make_user, get_token):
    product = make_product()
    reviewer = bearer(get_token(make_user("reviewer")))  # may view stock, not count it
    assert put(client, f"/api/inventory/{product.id}", {"stock": 1}, reviewer).status_code == 403
    assert client.get(f"/api/inventory/{product.id}", headers=reviewer).status_code == 200
    courier = bearer(get_token(make_user("courier")))
    assert client.get(f"/api/inventory/{product.id}", headers=courier).status_code == 403
    assert client._send("put", f"/api/inventory/{product.id}", data="{}", content_type="application/json") \
        .status_code == 401


def test_stock_by_warehouse_and_batch(client, document, admin, make_product, make_distributor, hq_warehouse):
    from datetime import timedelta

    from dms.core.time import business_today

    product = make_product(tracking="batch")
    local = make_distributor()
    soon = (business_today() + timedelta(days=10)).isoformat()
    put(client, f"/api/inventory/{product.id}", SEED, admin)  # expired long ago
    put(client, f"/api/inventory/{product.id}", {"stock": 8, "batch_id": "FRESH", "expiry_date": soon}, admin)
    put(client, f"/api/inventory/{product.id}", {"stock": 4, "batch_id": "FRESH", "warehouse_id": local.warehouse.id},
        admin)
    services.reserve(None, hq_warehouse, product, 3, "order", 1)
    db.session.commit()
    response = client.get(f"/api/inventory/{product.id}", headers=admin)
    assert response.status_code == 200
    matches(document, "/api/inventory/{product_id}", "get", response)
    assert response.json == {"product_id": product.id, "on_hand": 62, "available": 9, "items": [
        {"warehouse_id": hq_warehouse.id, "batch_id": "BATCH202309", "expiry_date": "2024-09-13", "on_hand": 50,
         "reserved": 0, "available": 50, "expired": True},
        {"warehouse_id": hq_warehouse.id, "batch_id": "FRESH", "expiry_date": soon, "on_hand": 8, "reserved": 3,
         "available": 5, "expired": False},
        {"warehouse_id": local.warehouse.id, "batch_id": "FRESH", "expiry_date": soon, "on_hand": 4, "reserved": 0,
         "available": 4, "expired": False}]}
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 4
