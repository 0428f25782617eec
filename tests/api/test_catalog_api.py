"""The catalog API (API.md "Catalog and stock"): the seed body, errors, idempotency, what each caller sees."""

import json

import pytest
from sqlalchemy import func, select

from dms.catalog import services
from dms.catalog.models import Product, Tag
from dms.core.jobs import commit
from dms.extensions import db
from tests.api.conftest import bearer
from tests.api.test_distributor_applications import matches

SEED = {"name": "面粉", "image_url": "https://example.com/flour.jpg", "category_id": 1, "tags": ["热销", "食品"]}


@pytest.fixture
def document(client):
    return client.get("/api/openapi.json").json


@pytest.fixture
def admin(make_user, get_token):
    return bearer(get_token(make_user("admin")))


@pytest.fixture
def food():
    category = services.create_category(None, "食品")
    commit()
    assert category.id == 1
    return category


def post(client, url, data, headers, **kw):
    return client._send("post", url, data=json.dumps(data), content_type="application/json",
                        headers=headers, **kw)


def test_seed_body_exactly(client, document, admin, food):
    response = post(client, "/api/products", SEED, admin)
    assert response.status_code == 201, response.json
    matches(document, "/api/products", "post", response)
    body = response.json
    assert body["status"] == "pending" and body["price"] is None and body["distributor_prices"] == {}
    assert (body["name"], body["image_url"], body["category_id"]) == ("面粉", SEED["image_url"], 1)
    assert sorted(body["tags"]) == sorted(["热销", "食品"]) and body["sku"]
    assert body["tracking"] == "none" and body["low_stock_threshold"] == 0 and body["unit"] == "件"
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 2


def test_optional_fields_and_prices_as_strings(client, document, admin, food):
    response = post(client, "/api/products", {**SEED, "sku": "FL-1", "price": 12.5, "distributor_price": "9.8",
                                               "unit": "袋", "tracking": "batch", "low_stock_threshold": 20,
                                               "distributor_prices": {"province": "9.00"}}, admin)
    assert response.status_code == 201, response.json
    matches(document, "/api/products", "post", response)
    body = response.json
    assert body["status"] == "available" and body["price"] == "12.50"
    assert body["distributor_prices"] == {"province": "9.00", "city": "9.80", "county": "9.80"}
    assert (body["sku"], body["unit"], body["tracking"], body["low_stock_threshold"]) == ("FL-1", "袋", "batch", 20)


def test_per_field_errors(client, document, admin):
    response = post(client, "/api/products", {"name": 5, "category_id": 999, "tags": "x" * 40, "tracking": "vin",
                                               "low_stock_threshold": -2, "image_url": "ftp://x", "price": "abc"},
                    admin)
    assert response.status_code == 422
    matches(document, "/api/products", "post", response)
    assert set(response.json["error"]["fields"]) == {"name", "category_id", "tags", "tracking",
                                                     "low_stock_threshold", "image_url", "price"}
    unknown = post(client, "/api/products", {**SEED, "category_id": 42}, admin)
    assert unknown.status_code == 422 and list(unknown.json["error"]["fields"]) == ["category_id"]
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0
    assert post(client, "/api/products", [1], admin).status_code == 400


def test_duplicate_sku_is_409(client, document, admin):
    assert post(client, "/api/products", {"name": "a", "sku": "X1"}, admin).status_code == 201
    again = post(client, "/api/products", {"name": "b", "sku": "X1"}, admin)
    assert again.status_code == 409 and again.json["error"]["code"] == "duplicate"
    assert list(again.json["error"]["fields"]) == ["sku"]
    matches(document, "/api/products", "post", again)


def test_idempotency_key_replays(client, admin, food):
    headers = {**admin, "Idempotency-Key": "c0ffee00-0000-4000-8000-000000000001"}
    first = post(client, "/api/products", SEED, headers)
    second = post(client, "/api/products", SEED, headers)
    assert first.status_code == second.status_code == 201
    assert second.json == first.json and second.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalar(select(func.count()).select_from(Product)) == 1
    changed = post(client, "/api/products", {**SEED, "name": "米"}, headers)
    assert changed.status_code == 422 and changed.json["error"]["code"] == "idempotency_key_reused"


def test_permissions(client, make_user, get_token, food):
    assert post(client, "/api/products", SEED, {}).status_code == 401
    distributor = bearer(get_token(make_user("distributor")))
    assert post(client, "/api/products", SEED, distributor).status_code == 403
    assert post(client, "/api/categories", {"name": "x"}, distributor).status_code == 403
    assert client.get("/api/products", headers=distributor).status_code == 200
    assert client.get("/api/products").status_code == 401


def test_list_get_and_filters(client, document, admin, food):
    grain = services.create_category(None, "粮油", food.id)
    commit()
    a = post(client, "/api/products", {"name": "面粉", "category_id": grain.id, "tags": ["热销"], "price": 5},
             admin).json
    b = post(client, "/api/products", {"name": "矿泉水", "sku": "W-1"}, admin).json
    listing = client.get("/api/products?per_page=1", headers=admin)
    assert listing.status_code == 200
    matches(document, "/api/products", "get", listing)
    assert listing.json["total"] == 2 and listing.json["per_page"] == 1 and len(listing.json["items"]) == 1

    def ids(query):
        return [p["product_id"] for p in client.get(f"/api/products?{query}", headers=admin).json["items"]]

    assert ids(f"category_id={food.id}") == [a["product_id"]]
    assert ids("tag=热销") == [a["product_id"]]
    assert ids("q=w-1") == [b["product_id"]]
    assert ids("status=pending") == [b["product_id"]]
    assert client.get("/api/products?page=0", headers=admin).status_code == 400
    one = client.get(f"/api/products/{a['product_id']}", headers=admin)
    assert one.status_code == 200 and one.json == a
    matches(document, "/api/products/{product_id}", "get", one)
    missing = client.get("/api/products/9999", headers=admin)
    assert missing.status_code == 404
    matches(document, "/api/products/{product_id}", "get", missing)


def test_distributor_sees_available_products_and_its_price(client, document, admin, make_user, get_token,
                                                           make_distributor):
    city = make_distributor("110100", level="city")
    token = bearer(get_token(make_user("distributor", distributor_id=city.id)))
    shown = post(client, "/api/products", {"name": "面粉", "price": "10", "distributor_prices": {
        "province": "7", "city": "8", "county": "9"}}, admin).json
    pending = post(client, "/api/products", {"name": "新品"}, admin).json
    listing = client.get("/api/products", headers=token)
    matches(document, "/api/products", "get", listing)
    assert [p["product_id"] for p in listing.json["items"]] == [shown["product_id"]]
    item = listing.json["items"][0]
    assert item["price"] == "10.00" and item["your_price"] == "8.00" and item["distributor_prices"] == {
        "city": "8.00"}
    assert client.get(f"/api/products/{pending['product_id']}", headers=token).status_code == 404
    assert client.get("/api/products?status=pending", headers=token).json["items"] == []


def test_categories(client, document, admin):
    created = post(client, "/api/categories", {"name": "食品", "parent_id": None}, admin)
    assert created.status_code == 201
    matches(document, "/api/categories", "post", created)
    assert created.json == {"category_id": created.json["category_id"], "name": "食品", "parent_id": None}
    child = post(client, "/api/categories", {"name": "粮油", "parent_id": created.json["category_id"]}, admin)
    assert child.status_code == 201 and child.json["parent_id"] == created.json["category_id"]
    duplicate = post(client, "/api/categories", {"name": "食品", "parent_id": None}, admin)
    assert duplicate.status_code == 409
    matches(document, "/api/categories", "post", duplicate)
    bad = post(client, "/api/categories", {"name": "", "parent_id": 999}, admin)
    assert bad.status_code == 422 and set(bad.json["error"]["fields"]) == {"name", "parent_id"}
    listing = client.get("/api/categories", headers=admin)
    matches(document, "/api/categories", "get", listing)
    assert [(c["name"], c["depth"], c["path"]) for c in listing.json["items"]] == [
        ("食品", 0, ["食品"]), ("粮油", 1, ["食品", "粮油"])]
