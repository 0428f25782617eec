"""Catalog services: categories, tags, products, the status rule, prices and their history, images."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from dms.catalog import services
from dms.catalog.models import Price, Product, ProductImage, Tag
from dms.core.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationError
from dms.core.models import AuditLog
from dms.core.time import utcnow
from dms.extensions import db
from tests.catalog.conftest import GIF, JPEG, PNG, WEBP


def product(**data):
    return services.create_product(None, {"name": "面粉", **data})


# ---------------------------------------------------------------- categories

def test_category_tree_rename_move_and_no_cycles():
    food = services.create_category(None, "食品")
    grain = services.create_category(None, "粮油", food.id)
    flour = services.create_category(None, "面粉", grain.id)
    drinks = services.create_category(None, "饮料")
    tree = services.category_tree()
    assert [(n.category.name, n.depth) for n in tree] == [("食品", 0), ("粮油", 1), ("面粉", 2), ("饮料", 0)]
    assert tree[2].label == "食品 / 粮油 / 面粉"
    assert set(services.descendant_ids(food.id)) == {food.id, grain.id, flour.id}
    with pytest.raises(ValidationError) as exc:
        services.move_category(None, food, flour.id)
    assert "parent_id" in exc.value.fields
    with pytest.raises(ValidationError):
        services.move_category(None, food, food.id)
    services.move_category(None, grain, drinks.id)
    assert grain.parent_id == drinks.id
    services.rename_category(None, grain.id, "谷物")
    assert grain.name == "谷物"
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.record_type == "category")) == 6


def test_category_names_unique_among_siblings():
    food = services.create_category(None, "食品")
    with pytest.raises(Conflict):
        services.create_category(None, "食品")  # two roots: the unique constraint would not catch it
    services.create_category(None, "其他", food.id)
    with pytest.raises(Conflict):
        services.create_category(None, "其他", food.id)
    services.create_category(None, "其他")  # same name elsewhere is fine
    with pytest.raises(ValidationError) as exc:
        services.create_category(None, " ", 99999)
    assert set(exc.value.fields) == {"name", "parent_id"}


def test_delete_category_only_when_empty():
    food = services.create_category(None, "食品")
    grain = services.create_category(None, "粮油", food.id)
    with pytest.raises(Conflict):
        services.delete_category(None, food)
    item = product(category_id=grain.id)
    with pytest.raises(Conflict):
        services.delete_category(None, grain)
    services.update_product(None, item, {"category_id": None})
    services.delete_category(None, grain)
    services.delete_category(None, food.id)
    assert services.category_tree() == []
    with pytest.raises(NotFound):
        services.delete_category(None, 12345)


def test_services_need_catalog_manage(make_user):
    distributor_user = make_user("distributor")
    with pytest.raises(Forbidden):
        services.create_category(distributor_user, "食品")
    with pytest.raises(Forbidden):
        services.create_product(distributor_user, {"name": "x"})
    admin = make_user("admin")
    assert services.create_product(admin, {"name": "x"}).id


# ---------------------------------------------------------------- products

def test_create_with_seed_body_creates_tags_and_is_pending():
    cat = services.create_category(None, "食品")
    services.get_or_create_tags(["食品"])
    item = product(image_url="https://example.com/flour.jpg", category_id=cat.id, tags=["热销", "食品"])
    assert item.status == "pending" and item.sku.startswith("P") and item.unit == "件"
    assert [t.name for t in item.tags] == sorted(["热销", "食品"])
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 2
    assert services.current_price(item) is None


def test_all_bad_fields_at_once():
    with pytest.raises(ValidationError) as exc:
        services.create_product(None, {"name": "", "category_id": 999, "tracking": "lots", "low_stock_threshold": -1,
                                       "image_url": "javascript:alert(1)", "price": "-1", "tags": "x" * 40,
                                       "distributor_prices": {"city": "1.234", "planet": "1"}})
    assert set(exc.value.fields) == {"name", "category_id", "tracking", "low_stock_threshold", "image_url", "price",
                                     "tags", "distributor_prices.city", "distributor_prices.planet"}
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0


@pytest.mark.parametrize("value, expected", [(12, "12.00"), (12.5, "12.50"), ("8.05", "8.05"), ("0", "0.00"),
                                             ("1,200.10", "1200.10")])
def test_money_parsing(value, expected):
    assert services.parse_money(value) == Decimal(expected)


@pytest.mark.parametrize("value", [True, "abc", "NaN", "Infinity", "-0.01", "1.005", [1], None, "1e20"])
def test_money_refused(value):
    with pytest.raises(ValueError):
        services.parse_money(value)


def test_sku_unique():
    product(sku="FL-001")
    with pytest.raises(Conflict) as exc:
        product(sku="FL-001")
    assert exc.value.fields == {"sku": [exc.value.message]} and exc.value.code == "duplicate"
    other = product(sku="FL-002")
    with pytest.raises(Conflict):
        services.update_product(None, other, {"sku": "FL-001"})
    services.update_product(None, other, {"sku": ""})  # empty keeps it
    assert other.sku == "FL-002"


def test_status_rule():
    item = product()
    assert item.status == "pending"
    with pytest.raises(InvalidTransition):
        services.set_status(None, item, "available")
    services.set_price(None, item, "retail", "10")
    assert item.status == "available"
    services.set_status(None, item, "unavailable")
    services.set_price(None, item, "retail", "11")
    assert item.status == "unavailable"  # HQ's decision sticks through price changes
    services.set_status(None, item, "available")
    assert item.status == "available"
    with pytest.raises(ValidationError):
        services.set_status(None, item, "pending")
    assert product(price="9.90").status == "available"


def test_price_history_is_append_only_and_in_force_by_time():
    item = product(price="10.00", distributor_price="8.00")
    first = services.price_history(item)
    assert len(first) == 4
    snapshot = {(p.id, p.kind, p.level, p.amount) for p in first}
    t1 = utcnow()
    services.set_price(None, item, "retail", Decimal("12.00"), effective_from=t1 + timedelta(milliseconds=1))
    services.update_product(None, item, {"distributor_prices": {"city": "7.50", "county": "8.00"}})
    history = services.price_history(item)
    assert len(history) == 6  # the unchanged county price added nothing
    assert {(p.id, p.kind, p.level, p.amount) for p in history} >= snapshot  # old rows untouched
    assert services.current_price(item, at=t1) == Decimal("10.00")  # what an order placed at t1 used
    assert services.current_price(item, at=t1 + timedelta(seconds=2)) == Decimal("12.00")
    assert services.price_for_distributor(item, "city") == Decimal("7.50")
    assert services.price_for_distributor(item, "county") == Decimal("8.00")
    assert services.price_for_distributor(item, "city", at=t1) == Decimal("8.00")
    assert services.current_price(item, at=t1 - timedelta(days=1)) is None
    with pytest.raises(ValidationError):
        services.set_price(None, item, "distributor", "1")  # no level
    with pytest.raises(ValidationError):
        services.set_price(None, item, "retail", "-3")


def test_future_price_is_not_in_force_yet():
    item = product()
    services.set_price(None, item, "retail", "5", effective_from=utcnow() + timedelta(days=1))
    assert services.current_price(item) is None and item.status == "pending"


def test_tracking_fixed_once_stock_exists(hq_warehouse):
    from dms.inventory.models import Batch, StockBalance

    item = product(tracking="batch")
    services.update_product(None, item, {"tracking": "serial"})
    assert item.tracking == "serial"
    batch = Batch(product_id=item.id, code="B1")
    db.session.add(batch)
    db.session.flush()
    db.session.add(StockBalance(warehouse_id=hq_warehouse.id, product_id=item.id, batch_id=batch.id, on_hand=3))
    db.session.flush()
    with pytest.raises(ValidationError) as exc:
        services.update_product(None, item, {"tracking": "none"})
    assert list(exc.value.fields) == ["tracking"]
    services.update_product(None, item, {"tracking": "serial", "name": "新名"})  # unchanged tracking is fine
    assert item.name == "新名"


def test_update_is_audited_with_changes():
    item = product()
    services.update_product(None, item, {"name": "高筋面粉", "tags": "热销, 新品"})
    entry = db.session.scalars(select(AuditLog).where(AuditLog.action == "product.update")).one()
    assert entry.changes["name"] == ["面粉", "高筋面粉"] and entry.changes["tags"] == ["", "新品, 热销"]


def test_products_query_filters():
    food = services.create_category(None, "食品")
    grain = services.create_category(None, "粮油", food.id)
    other = services.create_category(None, "饮料")
    a = product(name="面粉", sku="A-1", category_id=grain.id, tags=["热销"], price="1")
    b = product(name="大米", sku="B-2", category_id=food.id)
    c = product(name="矿泉水", sku="C-3", category_id=other.id, tags=["热销"], price="2")

    def ids(**kw):
        return {p.id for p in db.session.scalars(services.products_query(None, **kw))}

    assert ids(category_id=food.id) == {a.id, b.id}
    assert ids(category_id=grain.id) == {a.id}
    assert ids(tag="热销") == {a.id, c.id}
    assert ids(q="b-2") == {b.id} and ids(q="面") == {a.id}
    assert ids(status="pending") == {b.id} and ids(status="bogus") == set()


def test_products_query_hides_unavailable_from_distributors(make_user):
    visible = product(price="1")
    product()
    hidden = product(price="1")
    services.set_status(None, hidden, "unavailable")
    user = make_user("distributor")
    assert {p.id for p in db.session.scalars(services.products_query(user))} == {visible.id}
    with pytest.raises(NotFound):
        services.get_visible_product(user, hidden.id)


# ---------------------------------------------------------------- images

def upload(data: bytes, name="photo.jpg"):
    return FileStorage(stream=io.BytesIO(data), filename=name, content_type="image/jpeg")


@pytest.mark.parametrize("data, content_type", [(JPEG, "image/jpeg"), (PNG, "image/png"), (GIF, "image/gif"),
                                                (WEBP, "image/webp")])
def test_images_accepted_by_content(uploads, data, content_type):
    item = product()
    image = services.add_image(None, item, upload(data, "whatever.bin"))
    assert image.content_type == content_type and image.size == len(data)
    key = image.storage_key
    db.session.commit()
    assert (uploads / key).read_bytes() == data
    services.remove_image(None, item, image.id)
    assert (uploads / key).exists()  # until the removal is committed
    db.session.commit()
    assert not (uploads / key).exists()
    assert db.session.scalar(select(func.count()).select_from(ProductImage)) == 0


def test_images_refused_by_content_and_size(app, uploads, monkeypatch):
    item = product()
    with pytest.raises(ValidationError) as exc:
        services.add_image(None, item, upload(b"just some text, not a picture", "fake.jpg"))
    assert list(exc.value.fields) == ["image"]
    monkeypatch.setitem(app.config, "MAX_IMAGE_BYTES", 100)
    with pytest.raises(ValidationError):
        services.add_image(None, item, upload(JPEG + b"\x00" * 100))
    with pytest.raises(ValidationError):
        services.add_image(None, item, upload(b""))
    assert not uploads.exists() or not any(uploads.rglob("*.*"))


def test_remove_image_of_another_product_is_not_found():
    first, second = product(), product()
    image = services.add_image(None, first, upload(PNG))
    with pytest.raises(NotFound):
        services.remove_image(None, second, image.id)


def test_prices_never_update_rows():
    item = product(price="3")
    services.update_product(None, item, {"price": "4"})
    amounts = [p.amount for p in db.session.scalars(select(Price).order_by(Price.id))]
    assert amounts == [Decimal("3.00"), Decimal("4.00")]


def test_files_follow_the_transaction(uploads):
    item = product()
    db.session.commit()
    image = services.add_image(None, item, upload(PNG))
    key = image.storage_key
    assert (uploads / key).exists()
    db.session.rollback()
    assert not (uploads / key).exists()  # no orphan file for a row that never was
    image = services.add_image(None, item, upload(PNG))
    key, image_id = image.storage_key, image.id
    db.session.commit()
    services.remove_image(None, item, image_id)
    db.session.rollback()
    assert (uploads / key).exists() and db.session.get(ProductImage, image_id) is not None
