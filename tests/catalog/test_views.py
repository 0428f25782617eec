"""Catalog pages: HQ's list, forms and product page; categories; images; the distributors' view; permissions."""

import io

import pytest
from sqlalchemy import select

from dms.catalog import services
from dms.catalog.models import Price, Product, ProductImage
from dms.core.jobs import commit
from dms.extensions import db
from tests.catalog.conftest import PNG

FORM = {"name": "面粉", "sku": "", "category_id": "", "tags": "热销, 食品", "unit": "袋", "tracking": "none",
        "low_stock_threshold": "5", "image_url": "", "description": "", "price": "", "price_province": "",
        "price_city": "", "price_county": ""}


def make(**data):
    item = services.create_product(None, {"name": "面粉", **data})
    commit()
    return item


def test_create_product_and_inline_errors(client, login_as):
    login_as("admin")
    page = client.get("/catalog/products/new")
    assert page.status_code == 200 and 'name="price_city"' in page.get_data(as_text=True)
    bad = client.post("/catalog/products/new", {**FORM, "name": "", "price": "-1", "price_city": "x",
                                                "low_stock_threshold": "-3"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert html.count('aria-invalid="true"') == 4
    ok = client.post("/catalog/products/new", {**FORM, "price": "12.50", "price_city": "9"})
    assert ok.status_code == 302
    item = db.session.scalars(select(Product)).one()
    assert item.status == "available" and item.unit == "袋" and {t.name for t in item.tags} == {"热销", "食品"}
    assert services.price_for_distributor(item, "city") == 9 and services.price_for_distributor(item, "county") is None


def test_duplicate_sku_is_shown_beside_the_field(client, login_as):
    make(sku="FL-1")
    login_as("admin")
    response = client.post("/catalog/products/new", {**FORM, "sku": "FL-1"})
    assert response.status_code == 409 and "FL-1" in response.get_data(as_text=True)


def test_edit_appends_price_history(client, login_as):
    item = make(price="10", distributor_price="8")
    login_as("admin")
    page = client.get(f"/catalog/products/{item.id}/edit")
    assert 'value="10.00"' in page.get_data(as_text=True)
    response = client.post(f"/catalog/products/{item.id}/edit", {**FORM, "name": "高筋面粉", "price": "11",
                                                                 "price_province": "8.00", "price_city": "8.00",
                                                                 "price_county": "7"})
    assert response.status_code == 302
    assert [(p.kind, p.level, str(p.amount)) for p in db.session.scalars(select(Price).order_by(Price.id))][4:] == [
        ("retail", None, "11.00"), ("distributor", "county", "7.00")]
    detail = client.get(f"/catalog/products/{item.id}").get_data(as_text=True)
    assert "高筋面粉" in detail and detail.count("11.00") >= 2  # in force, and in the history


def test_list_filters_include_subcategories_and_htmx_fragment(client, login_as):
    food = services.create_category(None, "食品")
    grain = services.create_category(None, "粮油", food.id)
    drinks = services.create_category(None, "饮料")
    a = make(name="面粉A", category_id=grain.id, tags=["热销"])
    b = make(name="矿泉水B", category_id=drinks.id, price="2")
    login_as("admin")
    page = client.get(f"/catalog/products?category={food.id}").get_data(as_text=True)
    assert "面粉A" in page and "矿泉水B" not in page
    fragment = client.get("/catalog/products?status=available", htmx=True)
    html = fragment.get_data(as_text=True)
    assert html.strip().startswith('<div id="products-table"') and "矿泉水B" in html and "面粉A" not in html
    assert "HX-Request" in fragment.headers["Vary"]
    assert "面粉A" in client.get("/catalog/products?tag=热销").get_data(as_text=True)
    assert "矿泉水B" in client.get(f"/catalog/products?q={b.sku}").get_data(as_text=True)
    assert a.id


def test_status_change(client, login_as):
    item = make()
    login_as("admin")
    refused = client.post(f"/catalog/products/{item.id}/status", {"status": "available"})
    assert refused.status_code == 409
    services.set_price(None, item, "retail", "3")
    commit()
    assert client.post(f"/catalog/products/{item.id}/status", {"status": "unavailable"}).status_code == 302
    assert db.session.get(Product, item.id).status == "unavailable"


def test_image_upload_served_back_and_removed(client, login_as, uploads):
    item = make(price="1")
    login_as("admin")
    refused = client.post(f"/catalog/products/{item.id}/images",
                          {"image": (io.BytesIO(b"I am text pretending"), "photo.jpg")},
                          content_type="multipart/form-data")
    assert refused.status_code == 422 and db.session.scalar(select(ProductImage.id)) is None
    ok = client.post(f"/catalog/products/{item.id}/images", {"image": (io.BytesIO(PNG), "photo.jpg")},
                     content_type="multipart/form-data")
    assert ok.status_code == 302
    image_id = db.session.scalars(select(ProductImage.id)).one()
    served = client.get(f"/catalog/images/{image_id}")
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == PNG
    assert f"/catalog/images/{image_id}" in client.get("/catalog/products").get_data(as_text=True)
    removed = client.post(f"/catalog/products/{item.id}/images/{image_id}/delete")
    assert removed.status_code == 302 and db.session.get(ProductImage, image_id) is None
    assert client.get(f"/catalog/images/{image_id}").status_code == 404


def test_images_need_login(client, uploads):
    item = make(price="1")
    image = services.add_image(None, item, _file(PNG))
    commit()
    assert client.get(f"/catalog/images/{image.id}").status_code in (302, 401)


def _file(data):
    from werkzeug.datastructures import FileStorage

    return FileStorage(stream=io.BytesIO(data), filename="x.png")


def test_categories_page(client, login_as):
    food = services.create_category(None, "食品")
    commit()
    login_as("admin")
    assert client.post("/catalog/categories", {"name": "粮油", "parent_id": str(food.id)}).status_code == 302
    grain = next(n.category for n in services.category_tree() if n.category.name == "粮油")
    assert grain.parent_id == food.id
    duplicate = client.post("/catalog/categories", {"name": "粮油", "parent_id": str(food.id)})
    assert duplicate.status_code == 409
    assert client.post(f"/catalog/categories/{grain.id}/rename", {"name": "谷物"}).status_code == 302
    refused = client.post(f"/catalog/categories/{food.id}/delete")
    assert refused.status_code == 409
    assert client.post(f"/catalog/categories/{grain.id}/delete").status_code == 302
    assert client.post(f"/catalog/categories/{food.id}/delete").status_code == 302
    assert services.category_tree() == []


def test_tags_page(client, login_as):
    make(tags=["热销"])
    login_as("admin")
    html = client.get("/catalog/tags").get_data(as_text=True)
    assert "热销" in html


def test_distributor_sees_its_price_and_available_products_only(client, login_distributor, make_distributor):
    _user, distributor = login_distributor(make_distributor("110100", level="city"))
    shown = make(name="可售面粉", price="10", distributor_prices={"province": "7", "city": "8.5", "county": "9"})
    hidden = make(name="下架面粉", price="10")
    services.set_status(None, hidden, "unavailable")
    make(name="待定面粉")
    commit()
    html = client.get("/catalog/products").get_data(as_text=True)
    assert "可售面粉" in html and "下架面粉" not in html and "待定面粉" not in html
    assert "8.50" in html and "10.00" in html and "7.00" not in html
    assert "/catalog/products/new" not in html
    assert client.get(f"/catalog/products/{hidden.id}").status_code == 404
    detail = client.get(f"/catalog/products/{shown.id}").get_data(as_text=True)
    assert "8.50" in detail and "9.00" not in detail
    assert distributor.level == "city"


@pytest.mark.parametrize("method, url", [
    ("get", "/catalog/products/new"), ("post", "/catalog/products/new"), ("get", "/catalog/products/{id}/edit"),
    ("post", "/catalog/products/{id}/status"), ("post", "/catalog/products/{id}/images"),
    ("get", "/catalog/tags"), ("post", "/catalog/categories"), ("post", "/catalog/categories/1/delete"),
])
def test_distributor_gets_403_on_manage_pages(client, login_distributor, method, url):
    item = make(price="1")
    login_distributor()
    response = getattr(client, method)(url.replace("{id}", str(item.id)))
    assert response.status_code == 403


def test_product_form_opens_inline_and_keeps_errors_in_place(client, login_as):
    login_as("admin")
    inline = client.get("/catalog/products/new", htmx=True)
    html = inline.get_data(as_text=True)
    assert inline.status_code == 200 and html.lstrip().startswith('<section id="product-form"')
    assert "<html" not in html and 'hx-target="#product-form"' in html
    assert 'hx-target="#product-form-slot"' in client.get("/catalog/products").get_data(as_text=True)
    bad = client.post("/catalog/products/new", {**FORM, "name": ""}, htmx=True)
    assert bad.status_code == 422 and bad.get_data(as_text=True).lstrip().startswith('<section id="product-form"')
    ok = client.post("/catalog/products/new", {**FORM, "price": "3"}, htmx=True)
    item = db.session.scalars(select(Product)).one()
    assert ok.status_code == 204 and ok.headers["HX-Redirect"] == f"/catalog/products/{item.id}"
    edit = client.get(f"/catalog/products/{item.id}/edit", htmx=True)
    assert edit.status_code == 200 and 'value="3.00"' in edit.get_data(as_text=True)
    assert 'hx-target="#product-main"' in client.get(f"/catalog/products/{item.id}").get_data(as_text=True)


def test_image_upload_by_htmx_swaps_the_images_panel(client, login_as, uploads):
    item = make(price="1")
    login_as("admin")
    page = client.get(f"/catalog/products/{item.id}")
    assert 'id="image-preview"' in page.get_data(as_text=True)
    assert "blob:" in page.headers["Content-Security-Policy"]  # the preview's object URL
    bad = client.post(f"/catalog/products/{item.id}/images", {"image": (io.BytesIO(b"text"), "a.png")},
                      content_type="multipart/form-data", htmx=True)
    assert bad.status_code == 422
    assert bad.get_data(as_text=True).lstrip().startswith('<section class="panel" id="images"')
    ok = client.post(f"/catalog/products/{item.id}/images", {"image": (io.BytesIO(PNG), "a.png")},
                     content_type="multipart/form-data", htmx=True)
    image_id = db.session.scalars(select(ProductImage.id)).one()
    html = ok.get_data(as_text=True)
    assert ok.status_code == 200 and f"/catalog/images/{image_id}" in html and "<html" not in html
