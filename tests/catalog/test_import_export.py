"""Product import (CSV, XLSX; all rows or none, with a row-by-row report) and export."""

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from dms.catalog import import_export, services
from dms.catalog.models import Price, Product
from dms.core.jobs import commit
from dms.extensions import db

HEADER = ["sku", "name", "category", "tags", "unit", "tracking", "low_stock_threshold", "price",
          "distributor_price_province", "distributor_price_city", "distributor_price_county", "image_url",
          "description"]


def csv_bytes(rows, encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def by_sku(sku) -> Product | None:
    return db.session.scalar(select(Product).where(Product.sku == sku))


@pytest.fixture
def grain():
    food = services.create_category(None, "食品")
    grain = services.create_category(None, "粮油", food.id)
    commit()
    return grain


def upload(client, data: bytes, filename: str):
    return client.post("/catalog/products/import", {"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


# ---------------------------------------------------------------- pages


def test_csv_import_creates_and_updates(client, login_as, grain):
    existing = services.create_product(None, {"name": "旧面粉", "sku": "FL-1", "price": "10", "tags": ["旧"]})
    commit()
    login_as("admin")
    page = client.get("/catalog/products/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    data = csv_bytes([HEADER,
                      ["FL-1", "高筋面粉", "食品/粮油", "热销、食品", "袋", "batch", "5", "11.00", "8", "8.5", "9",
                       "https://example.com/a.png", "新包装"],
                      [],  # blank lines are skipped, and do not shift the row numbers of the report
                      ["RC-2", "大米", "粮油", "", "", "", "", "", "", "", "", "", ""]])
    response = upload(client, data, "products.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert 'data-created="1" data-updated="1" data-unchanged="0"' in html
    db.session.expire_all()
    item = by_sku("FL-1")
    assert item.id == existing.id and item.name == "高筋面粉" and item.category_id == grain.id
    assert item.unit == "袋" and item.tracking == "batch" and item.low_stock_threshold == 5
    assert sorted(t.name for t in item.tags) == ["热销", "食品"] and item.description == "新包装"
    assert services.current_price(item) == Decimal("11.00")
    assert services.distributor_prices(item) == {"province": 8, "city": Decimal("8.5"), "county": 9}
    rice = by_sku("RC-2")
    assert rice.category_id == grain.id and rice.status == "pending" and rice.unit == "件"  # a unique name alone


def test_xlsx_import_creates_and_updates_with_numbers(client, login_as, make_product):
    make_product(sku="1001", name="旧水", price="2.00")
    login_as("admin")
    data = xlsx_bytes([["编码", "名称", "零售价(元)", "库存预警值", "市级价"],
                       [1001, "矿泉水", 2.5, 12, 2],
                       ["W-2", "纯净水", 3, None, 2.25]])
    response = upload(client, data, "water.XLSX")
    assert response.status_code == 200, response.get_data(as_text=True)
    db.session.expire_all()
    water = by_sku("1001")
    assert water.name == "矿泉水" and water.low_stock_threshold == 12
    assert services.current_price(water) == Decimal("2.50")
    assert services.price_for_distributor(water, "city") == 2
    other = by_sku("W-2")
    assert other.status == "available" and services.price_for_distributor(other, "city") == Decimal("2.25")


def test_bad_rows_change_nothing_and_are_reported_by_row(client, login_as, grain):
    services.create_product(None, {"name": "面粉", "sku": "FL-1", "price": "10"})
    services.create_product(None, {"name": "花生油", "sku": "OIL-1", "price": "50"})
    commit()
    products, prices, tags = count(Product), count(Price), services.tags_with_counts()
    login_as("admin")
    data = csv_bytes([HEADER,
                      ["NEW-1", "好行", "食品/粮油", "新标签", "", "", "", "5", "", "", "", "", ""],
                      ["FL-1", "", "", "", "", "", "-2", "abc", "", "", "", "", ""],
                      ["NEW-2", "第三行", "饮料/果汁", "", "", "sometimes", "", "1.234", "", "", "", "ftp://x", ""],
                      ["", "无编码", "", "", "", "", "", "", "", "", "", "", ""],
                      ["NEW-1", "重复", "", "", "", "", "", "", "", "", "", "", ""],
                      ["OIL-1", "改名", "", "", "", "", "", "52", "", "", "", "", ""]])
    response = upload(client, data, "bad.csv")
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-testid="import-refused"' in html
    db.session.expire_all()
    assert (count(Product), count(Price), services.tags_with_counts()) == (products, prices, tags)
    assert by_sku("NEW-1") is None and by_sku("FL-1").name == "面粉" and by_sku("OIL-1").name == "花生油"

    report = client.post("/catalog/products/import/report.csv", {"report": _token(html)})
    assert report.status_code == 200 and report.mimetype == "text/csv"
    assert "attachment" in report.headers["Content-Disposition"]
    text = report.get_data().decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))[1:]
    cells = {(int(r), c) for r, c, _m in rows}
    assert {(3, "name"), (3, "low_stock_threshold"), (3, "price")} <= cells
    assert {(4, "category"), (4, "tracking"), (4, "price"), (4, "image_url")} <= cells
    assert (5, "sku") in cells and (6, "sku") in cells
    assert {int(r) for r, _c, _m in rows} == {3, 4, 5, 6}  # rows 2 and 7 are fine, but were not kept
    assert any("2" in m for r, c, m in rows if (int(r), c) == (6, "sku"))  # names the row it repeats
    assert html.count('data-testid="import-error"') == len(rows)  # the page lists what the report holds


def test_report_download_refuses_a_forged_report(client, login_as):
    login_as("admin")
    client.get("/catalog/products/import")
    response = client.post("/catalog/products/import/report.csv", {"report": "W1syLCJ4IiwieSJdXQ.forged"})
    assert response.status_code == 400


def _token(html: str) -> str:
    import re

    return re.search(r'name="report" type="hidden" value="([^"]+)"', html).group(1)


def test_gb18030_csv_with_chinese_headers(client, login_as, grain):
    login_as("admin")
    data = csv_bytes([["编码", "名称", "分类", "标签", "单位", "追踪方式", "省级价", "零售价", "描述"],
                      ["GB-1", "花生油", "食品 / 粮油", "热销，油", "桶", "批次", "40", "55.5", "压榨一级"]],
                     encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    response = upload(client, data, "油.csv")
    assert response.status_code == 200, response.get_data(as_text=True)
    oil = by_sku("GB-1")
    assert oil.name == "花生油" and oil.unit == "桶" and oil.tracking == "batch" and oil.category_id == grain.id
    assert sorted(t.name for t in oil.tags) == ["油", "热销"] and oil.description == "压榨一级"
    assert services.current_price(oil) == Decimal("55.50")
    assert services.distributor_prices(oil) == {"province": 40}


def test_too_large_file_and_too_many_rows(client, login_as, app, monkeypatch):
    login_as("admin")
    monkeypatch.setitem(app.config, "CATALOG_IMPORT_MAX_BYTES", 200)
    response = upload(client, csv_bytes([HEADER] + [[f"S-{i}", "x"] for i in range(40)]), "big.csv")
    assert response.status_code == 422 and "MB" in response.get_data(as_text=True)
    monkeypatch.setitem(app.config, "CATALOG_IMPORT_MAX_BYTES", 10_000)
    monkeypatch.setitem(app.config, "CATALOG_IMPORT_MAX_ROWS", 3)
    response = upload(client, csv_bytes([["sku", "name"]] + [[f"S-{i}", "x"] for i in range(4)]), "rows.csv")
    assert response.status_code == 422 and "3" in response.get_data(as_text=True)
    assert count(Product) == 0


@pytest.mark.parametrize("data, filename", [
    (b"this is not a zip file at all", "fake.xlsx"),
    (b"PK\x03\x04broken", "broken.xlsx"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "old.xls"),
    (b"sku,name\nA,b\n", "products.txt"),
    (b"", "empty.csv"),
    (b"name,price\nA,1\n", "nosku.csv"),
    (b"sku,name\n", "header-only.csv"),
])
def test_files_that_cannot_be_read_are_refused_with_a_message(client, login_as, data, filename):
    login_as("admin")
    response = upload(client, data, filename)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-testid="import-refused"' in html
    assert "<td data-label" in html and count(Product) == 0


def test_missing_file_shows_the_form_again(client, login_as):
    login_as("admin")
    client.get("/catalog/products/import")
    response = client.post("/catalog/products/import", {}, content_type="multipart/form-data")
    assert response.status_code == 400 and 'aria-invalid="true"' in response.get_data(as_text=True)


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(client, login_as, grain, kind):
    services.create_product(None, {"name": "面粉", "sku": "FL-1", "category_id": grain.id, "tags": ["热销", "食品"],
                                   "unit": "袋", "tracking": "batch", "low_stock_threshold": 5,
                                   "image_url": "https://example.com/f.png", "description": "=1+1 一行\n第二行",
                                   "price": "10.5", "distributor_prices": {"province": "8", "county": "9.99"}})
    services.create_product(None, {"name": "-负号开头", "sku": "+SKU", "tracking": "serial"})
    commit()
    login_as("admin")
    response = client.get(f"/catalog/products/export.{kind}")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    data = response.get_data()
    if kind == "csv":
        assert data.startswith("\ufeff".encode()) and "编码,名称,分类".encode() in data
        assert b"'=1+1" in data  # not a formula for Excel
    else:
        sheet = load_workbook(io.BytesIO(data)).active
        assert [c.value for c in sheet[1]][:2] == ["编码", "名称"]
        assert sheet["A3"].value == "FL-1" and sheet["M3"].data_type != "f" and sheet["M3"].value.startswith("=1+1")
    products, prices = count(Product), count(Price)
    client.get("/catalog/products/import")
    result = upload(client, data, f"export.{kind}")
    html = result.get_data(as_text=True)
    assert result.status_code == 200, html
    assert (count(Product), count(Price)) == (products, prices)
    assert 'data-created="0" data-updated="0" data-unchanged="2"' in html
    flour = by_sku("FL-1")
    assert flour.description == "=1+1 一行\n第二行" and by_sku("+SKU").name == "-负号开头"


def test_export_honours_the_list_filters(client, login_as, grain):
    services.create_product(None, {"name": "面粉", "sku": "FL-1", "category_id": grain.id, "price": "3"})
    services.create_product(None, {"name": "矿泉水", "sku": "W-1"})
    commit()
    login_as("admin")
    body = client.get(f"/catalog/products/export.csv?category={grain.parent_id}").get_data().decode("utf-8-sig")
    assert "FL-1" in body and "W-1" not in body
    body = client.get("/catalog/products/export.csv?status=pending&q=水").get_data().decode("utf-8-sig")
    assert "W-1" in body and "FL-1" not in body


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_template_imports_after_its_example_is_kept(client, login_as, grain, kind):
    login_as("admin")
    response = client.get(f"/catalog/products/import/template.{kind}")
    assert response.status_code == 200
    table = import_export.read_table(f"t.{kind}", response.get_data())
    assert len(table.rows) == 1 and table.headers[0] == "编码"
    client.get("/catalog/products/import")
    assert upload(client, response.get_data(), f"t.{kind}").status_code == 200
    assert by_sku("SP-0001").category_id == grain.parent_id  # the example names the first category


@pytest.mark.parametrize("method, url", [
    ("get", "/catalog/products/import"),
    ("post", "/catalog/products/import"),
    ("post", "/catalog/products/import/report.csv"),
    ("get", "/catalog/products/export.csv"),
    ("get", "/catalog/products/export.xlsx"),
    ("get", "/catalog/products/import/template.csv"),
])
def test_distributor_gets_403(client, login_distributor, method, url):
    login_distributor()
    response = client.get(url) if method == "get" else client.post(url, {})
    assert response.status_code == 403


def test_import_needs_login(client):
    assert client.get("/catalog/products/import").status_code in (302, 401)


# ---------------------------------------------------------------- services


def test_service_refuses_an_actor_without_catalog_manage(make_user):
    from dms.core.errors import Forbidden

    clerk = make_user("distributor")
    with pytest.raises(Forbidden):
        import_export.import_products(clerk, "p.csv", csv_bytes([["sku", "name"], ["A", "b"]]))


def test_columns_left_out_keep_their_fields_and_empty_prices_keep_the_price():
    item = services.create_product(None, {"name": "面粉", "sku": "FL-1", "unit": "袋", "description": "保留",
                                          "price": "10", "distributor_price": "8", "tags": ["热销"]})
    commit()
    result = import_export.import_products(None, "p.csv", csv_bytes([["SKU", "Name", "Price", "Tags"],
                                                                ["FL-1", "高筋面粉", "", ""]]))
    commit()
    assert (result.created, result.updated, result.unchanged) == (0, 1, 0)
    db.session.expire_all()
    assert item.name == "高筋面粉" and item.unit == "袋" and item.description == "保留" and item.tags == []
    assert services.current_price(item) == 10 and services.distributor_prices(item)["city"] == 8


def test_reading_rows_headers_and_escapes():
    data = csv_bytes([["", ""], [" SKU ", "名称", "Low stock threshold", "颜色"], ["'=A1", "'-x", "3", "红"],
                      ["", "", "", ""], ["B", "y", "", ""]])
    table = import_export.read_table("p.csv", data)
    columns, ignored = import_export.map_columns(table.headers)
    assert columns == {"sku": 0, "name": 1, "low_stock_threshold": 2} and ignored == ["颜色"]
    assert table.rows == [(3, ["=A1", "-x", "3", "红"]), (5, ["B", "y", "", ""])]
    semicolons = import_export.read_table("p.csv", b"sku;name\nA;b\n")
    assert semicolons.rows == [(2, ["A", "b"])]


def test_xlsx_rows_keep_their_spreadsheet_numbers():
    workbook = Workbook()
    sheet = workbook.active
    sheet["A1"], sheet["B1"] = "sku", "name"
    sheet["A4"], sheet["C4"] = "X", "ignored"
    sheet["B6"] = "only a name"
    out = io.BytesIO()
    workbook.save(out)
    table = import_export.read_table("p.xlsx", out.getvalue())
    assert table.rows == [(4, ["X", "", "ignored"]), (6, ["", "only a name"])]


def test_duplicate_header_is_refused():
    with pytest.raises(import_export.ImportRejected) as caught:
        import_export.import_products(None, "p.csv", csv_bytes([["sku", "编码"], ["A", "A"]]))
    assert caught.value.errors[0].row is None


def test_ambiguous_category_name_is_a_row_error():
    for parent in ("食品", "饮料"):
        services.create_category(None, "其他", services.create_category(None, parent).id)
    commit()
    with pytest.raises(import_export.ImportRejected) as caught:
        import_export.import_products(None, "p.csv", csv_bytes([["sku", "name", "分类"], ["A", "a", "其他"],
                                                           ["B", "b", "饮料/其他"]]))
    assert [(e.row, e.column) for e in caught.value.errors] == [(2, "分类")]
