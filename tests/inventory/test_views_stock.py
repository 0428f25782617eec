"""Stock pages: overview, thresholds, batches, movements, serial units, receiving and write-offs (CSRF on)."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dms.core.jobs import commit
from dms.extensions import db
from dms.inventory import services
from dms.inventory.models import SerialUnit, StockMovement, WarehouseThreshold


def html(response) -> str:
    return response.get_data(as_text=True)


def row_of(page: str, product) -> str:
    """The stock overview's row of one product."""
    start = page.index(f'id="stock-row-{product.id}"')
    return page[start:page.index("</tr>", start)]


def cell(row: str, label: str) -> str:
    """The text of a row's cell by its column label (the data-label of the narrow layout), tags removed."""
    start = row.index(f'data-label="{label}">') + len(f'data-label="{label}">')
    return re.sub(r"<[^>]+>", " ", row[start:row.index("</td>", start)]).split()[0]


def movement_count() -> int:
    return db.session.scalar(select(func.count()).select_from(StockMovement))


def line(n: int, **fields) -> dict:
    """Form fields of receipt line n."""
    return {f"lines-{n}-{name}": value for name, value in fields.items()}


# --- stock overview ----------------------------------------------------------------------------------

def test_overview_sums_batches_and_marks_low_stock_near_expiry_and_expired(client, login_as, make_product, stock,
                                                                           hq_warehouse, days):
    milk = make_product(name="牛奶", tracking="batch", low_stock_threshold=2)
    stock(milk, 6, "SOON", days(10))
    stock(milk, 4, "LATER", days(200))
    stock(milk, 5, "GONE", days(-1))
    services.reserve(None, hq_warehouse, milk, 3, "order", "1")
    water = make_product(name="矿泉水", low_stock_threshold=10)
    stock(water, 3)
    tea = make_product(name="茶叶")
    db.session.commit()
    login_as("admin")
    page = html(client.get("/inventory"))
    milk_row, water_row = row_of(page, milk), row_of(page, water)
    # on hand 15 (expired included), reserved 3, available 10 - 3 = 7 (the expired 5 are not available)
    assert [cell(milk_row, label) for label in ("On hand", "Reserved", "Available", "Expired (not available)")] == [
        "15", "3", "7", "5"]
    assert cell(milk_row, "Next expiry") != "—" and 'data-testid="near-expiry"' in milk_row
    assert [cell(water_row, label) for label in ("On hand", "Available", "Expired (not available)")] == [
        "3", "3", "—"]
    assert 'data-testid="low-stock"' not in milk_row
    assert 'data-testid="low-stock"' in water_row and 'data-testid="near-expiry"' not in water_row
    assert f'id="stock-row-{tea.id}"' in page, "an available product without stock is shown, at zero"

    low = html(client.get("/inventory?low=1"))
    assert f"stock-row-{water.id}" in low and f"stock-row-{milk.id}" not in low
    near = html(client.get("/inventory?near=1"))
    assert f"stock-row-{milk.id}" in near and f"stock-row-{water.id}" not in near
    assert f"stock-row-{water.id}" in html(client.get(f"/inventory?q={water.sku}"))
    assert "stock-row-" not in html(client.get("/inventory?q=nothing-like-this"))
    by_available = html(client.get("/inventory?sort=available&dir=desc"))
    assert by_available.index(f"stock-row-{milk.id}") < by_available.index(f"stock-row-{water.id}")


def test_overview_htmx_gets_the_fragment_and_the_near_expiry_window_is_configurable(app, client, login_as,
                                                                                    make_product, stock, days):
    soup = make_product(name="汤", tracking="batch")
    stock(soup, 2, "B", days(40))
    login_as("admin")
    fragment = client.get("/inventory", htmx=True)
    assert fragment.status_code == 200 and html(fragment).lstrip().startswith('<div id="stock-table"')
    assert "HX-Request" in fragment.headers["Vary"] and "<html" not in html(fragment)
    assert 'data-testid="near-expiry"' not in row_of(html(fragment), soup)
    app.config["NEAR_EXPIRY_DAYS"] = 60
    try:
        assert 'data-testid="near-expiry"' in row_of(html(client.get("/inventory")), soup)
    finally:
        app.config.pop("NEAR_EXPIRY_DAYS")


def test_hq_chooses_the_warehouse_a_distributor_sees_only_its_own(client, login_as, login_distributor,
                                                                  make_distributor, make_product, stock, hq_warehouse):
    mine, theirs = make_distributor("110105"), make_distributor("110106")
    rice = make_product(name="大米")
    stock(rice, 7, warehouse=mine.warehouse)
    stock(rice, 50)
    login_as("reviewer")
    assert cell(row_of(html(client.get("/inventory")), rice), "On hand") == "50", "HQ's own warehouse by default"
    chosen = html(client.get(f"/inventory?warehouse={mine.warehouse.id}"))
    assert cell(row_of(chosen, rice), "On hand") == "7" and f'<option value="{theirs.warehouse.id}"' in chosen

    client.post("/logout")
    login_distributor(mine)
    own = html(client.get("/inventory"))
    assert cell(row_of(own, rice), "On hand") == "7"
    assert hq_warehouse.name not in own
    assert client.get(f"/inventory?warehouse={mine.warehouse.id}").status_code == 200
    for url in ("/inventory", "/inventory/batches", "/inventory/movements", "/inventory/receive",
                "/inventory/write-off"):
        for foreign in (theirs.warehouse.id, hq_warehouse.id, 999999, "abc"):
            assert client.get(f"{url}?warehouse={foreign}").status_code == 404, (url, foreign)
    for url in ("/inventory/batches?product=999999", "/inventory/movements?product=x",
                f"/inventory/write-off?product={rice.id}&batch=999999"):
        assert client.get(url).status_code == 404, url


def test_viewing_needs_inventory_view_and_changing_needs_manage(client, login_as, make_user):
    assert client.get("/inventory").status_code == 302  # to the login page
    login_as(make_user([]))
    assert client.get("/inventory").status_code == 403
    client.post("/logout")
    login_as("reviewer")  # views stock across the network, manages none
    assert client.get("/inventory").status_code == 200
    for url in ("/inventory/receive", "/inventory/write-off", "/inventory/receive/line"):
        assert client.get(url).status_code == 403, url
    assert client.post("/inventory/thresholds", {"product": "1", "threshold": "1"}).status_code == 403


# --- thresholds ------------------------------------------------------------------------------------

def test_set_threshold_inline_with_htmx_and_without(client, login_distributor, make_distributor, make_product,
                                                    stock):
    user, mine = login_distributor()
    theirs = make_distributor("110106")
    oil = make_product(name="油", low_stock_threshold=1)
    stock(oil, 4, warehouse=mine.warehouse)
    client.get("/inventory")
    data = {"warehouse": str(mine.warehouse.id), "product": str(oil.id)}
    response = client.post("/inventory/thresholds", {**data, "threshold": "5"}, htmx=True)
    assert response.status_code == 200 and html(response).lstrip().startswith(f'<tr id="stock-row-{oil.id}"')
    assert 'data-testid="low-stock"' in html(response) and "HX-Request" in response.headers["Vary"]
    assert db.session.scalar(select(WarehouseThreshold.threshold)) == 5

    for bad in ("-1", "abc", "1.5", "9999999999"):
        refused = client.post("/inventory/thresholds", {**data, "threshold": bad}, htmx=True)
        assert refused.status_code == 422 and "A whole number, 0 or more." in html(refused), bad
    page = client.post("/inventory/thresholds", {**data, "threshold": "x"})
    assert page.status_code == 422 and 'aria-invalid="true"' in row_of(html(page), oil)
    assert db.session.scalar(select(WarehouseThreshold.threshold)) == 5, "nothing changed by a refused value"

    removed = client.post("/inventory/thresholds", {**data, "threshold": ""})
    assert removed.status_code == 302 and db.session.scalar(select(func.count(WarehouseThreshold.id))) == 0
    assert client.post("/inventory/thresholds", {**data, "warehouse": str(theirs.warehouse.id),
                                                 "threshold": "3"}).status_code == 404
    assert client.post("/inventory/thresholds", {**data, "product": "999999", "threshold": "3"}).status_code == 404
    assert client.post("/inventory/thresholds", {**data, "threshold": "3"}, csrf=False).status_code == 400
    assert user


# --- batches ----------------------------------------------------------------------------------------

def test_batches_list_tags_expiry_and_filters(client, login_as, make_product, stock, days, make_distributor):
    milk, water = make_product(name="牛奶", tracking="batch"), make_product(name="矿泉水")
    stock(milk, 1, "OLD", days(-3))
    stock(milk, 2, "SOON", days(5))
    stock(milk, 3, "FAR", days(300))
    stock(water, 4)
    elsewhere = make_distributor()
    stock(water, 9, "ELSE", warehouse=elsewhere.warehouse)
    login_as("admin")
    page = html(client.get("/inventory/batches"))
    assert page.count('data-testid="batch-row"') == 5
    assert page.index("OLD") < page.index("SOON") < page.index("FAR"), "earliest expiry first"
    old_row = page[page.index("OLD"):page.index("</tr>", page.index("OLD"))]
    assert 'data-testid="expired"' in old_row and "<s " in old_row
    expired = html(client.get("/inventory/batches?expiry=expired"))
    assert "OLD" in expired and "SOON" not in expired
    near = html(client.get("/inventory/batches?expiry=near"))
    assert "SOON" in near and "OLD" not in near and "FAR" not in near
    ok = html(client.get("/inventory/batches?expiry=ok"))
    assert "FAR" in ok and "矿泉水" in ok and "SOON" not in ok
    assert html(client.get(f"/inventory/batches?product={water.id}")).count('data-testid="batch-row"') == 2
    only = html(client.get(f"/inventory/batches?warehouse={elsewhere.warehouse.id}"))
    assert only.count('data-testid="batch-row"') == 1 and "ELSE" in only
    assert html(client.get("/inventory/batches?q=SOON")).count('data-testid="batch-row"') == 1
    fragment = client.get("/inventory/batches?expiry=near", htmx=True)
    assert html(fragment).lstrip().startswith('<div id="batches-table"') and "HX-Request" in fragment.headers["Vary"]
    assert "write-off?warehouse=" in page
    for junk in ("page=abc", "sort=nope&dir=sideways", "expiry=rotten", "per_page=-5", "q=" + "x" * 500):
        assert client.get(f"/inventory/batches?{junk}").status_code == 200, junk
    assert 'data-testid="batch-row"' not in html(client.get("/inventory/batches?expiry=rotten"))


def test_distributor_batches_show_its_warehouse_only(client, login_distributor, make_product, stock):
    _user, mine = login_distributor()
    water = make_product(name="矿泉水")
    stock(water, 4, "HQ-LOT")
    stock(water, 2, "MY-LOT", warehouse=mine.warehouse)
    page = html(client.get("/inventory/batches"))
    assert "MY-LOT" in page and "HQ-LOT" not in page


# --- movements --------------------------------------------------------------------------------------

def test_movements_filters(client, login_as, make_product, stock, hq_warehouse, days, make_distributor):
    tea, rice = make_product(name="茶叶"), make_product(name="大米")
    stock(tea, 5)
    stock(rice, 8)
    services.reserve(None, hq_warehouse, tea, 2, "order", "A-17")
    other = make_distributor()
    stock(rice, 1, warehouse=other.warehouse)
    db.session.commit()
    login_as("admin")
    page = html(client.get("/inventory/movements"))
    assert page.count('data-testid="movement-row"') == 4
    table = page[page.index('id="movements-table"'):]
    assert table.index(other.warehouse.name) < table.index("A-17") < table.rindex("茶叶"), "newest first"
    assert html(client.get("/inventory/movements?kind=reserve")).count('data-testid="movement-row"') == 1
    assert html(client.get(f"/inventory/movements?product={rice.id}")).count('data-testid="movement-row"') == 2
    assert html(client.get(f"/inventory/movements?warehouse={other.warehouse.id}")).count(
        'data-testid="movement-row"') == 1
    by_source = html(client.get("/inventory/movements?source_type=order&source_id=A-17"))
    assert by_source.count('data-testid="movement-row"') == 1
    today = days(0).isoformat()
    assert html(client.get(f"/inventory/movements?date_from={today}&date_to={today}")).count(
        'data-testid="movement-row"') == 4
    yesterday = (days(0) - timedelta(days=1)).isoformat()
    assert 'data-testid="movement-row"' not in html(client.get(f"/inventory/movements?date_to={yesterday}"))
    assert 'data-testid="movement-row"' not in html(client.get(f"/inventory/movements?date_from={days(1)}"))
    bad = client.get("/inventory/movements?date_from=2026-13-45")
    assert bad.status_code == 400 and "A date such as 2026-05-01." in html(bad)
    assert html(client.get("/inventory/movements?kind=nonsense")).count('data-testid="movement-row"') == 0
    fragment = client.get("/inventory/movements?kind=receipt", htmx=True)
    assert html(fragment).lstrip().startswith('<div id="movements-table"') and "HX-Request" in fragment.headers["Vary"]


def test_distributor_sees_only_its_warehouse_movements(client, login_distributor, make_product, stock):
    _user, mine = login_distributor()
    tea = make_product(name="茶叶")
    stock(tea, 5)
    stock(tea, 1, warehouse=mine.warehouse)
    assert html(client.get("/inventory/movements")).count('data-testid="movement-row"') == 1


# --- receiving -----------------------------------------------------------------------------------------

def test_receive_several_lines_then_stock_and_movements_show_them(client, login_as, make_product, days,
                                                                  hq_warehouse):
    milk, water = make_product(name="牛奶", tracking="batch"), make_product(name="矿泉水")
    login_as("admin")
    form = client.get("/inventory/receive")
    assert form.status_code == 200 and html(form).count('data-testid="receipt-line"') == 5
    assert 'name="lines-4-product_id"' in html(form)
    response = client.post("/inventory/receive", {
        "warehouse_id": str(hq_warehouse.id), "reason": "送货单 88",
        **line(0, product_id=str(milk.id), quantity="12", batch_code="M-1", expiry_date=days(90).isoformat()),
        **line(1, product_id="", quantity="", batch_code=""),  # a spare line: ignored
        **line(2, product_id=str(water.id), quantity="30")})
    assert response.status_code == 302 and "/inventory/movements" in response.headers["Location"]
    movements = html(client.get(response.headers["Location"]))
    assert movements.count('data-testid="movement-row"') == 2 and "送货单 88" in movements
    assert "Stock received into" in movements
    stock_page = html(client.get("/inventory"))
    assert cell(row_of(stock_page, milk), "On hand") == "12" and cell(row_of(stock_page, water), "On hand") == "30"
    assert "M-1" in html(client.get(f"/inventory/batches?product={milk.id}"))


def test_receive_errors_are_shown_per_line_and_nothing_is_received(client, login_as, make_product, hq_warehouse):
    milk, water = make_product(name="牛奶", tracking="batch"), make_product(name="矿泉水")
    login_as("admin")
    client.get("/inventory/receive")
    base = {"warehouse_id": str(hq_warehouse.id)}
    shape = client.post("/inventory/receive", {**base, **line(0, product_id=str(water.id), quantity="abc"),
                                               **line(1, product_id="999999", quantity="1"),
                                               **line(2, product_id=str(water.id), quantity="1",
                                                      expiry_date="31/02/2026")})
    assert shape.status_code == 400
    text = html(shape)
    assert text.count('aria-invalid="true"') == 3 and 'id="lines-0-quantity-errors"' in text
    assert 'id="lines-1-product_id-errors"' in text and 'id="lines-2-expiry_date-errors"' in text

    no_product = client.post("/inventory/receive", {**base, **line(0, quantity="3")})
    assert no_product.status_code == 400 and "Choose a product." in html(no_product)
    empty = client.post("/inventory/receive", base)
    assert empty.status_code == 400 and "Add at least one line." in html(empty)

    # Line 0 is fine, line 1 breaks a rule of the service: the whole receipt is rolled back.
    rule = client.post("/inventory/receive", {**base, **line(0, product_id=str(water.id), quantity="5"),
                                              **line(1, product_id=str(milk.id), quantity="5")})
    assert rule.status_code == 422
    assert 'id="lines-1-batch_code-errors"' in html(rule) and "give a batch code" in html(rule)
    assert movement_count() == 0
    zero = client.post("/inventory/receive", {**base, **line(0, product_id=str(water.id))})
    assert zero.status_code == 422 and 'id="lines-0-quantity-errors"' in html(zero)
    assert client.post("/inventory/receive", {**base, **line(0, product_id=str(water.id), quantity="1")},
                       csrf=False).status_code == 400
    assert movement_count() == 0


def test_receive_serial_units_and_a_duplicate_serial(client, login_as, make_product, hq_warehouse):
    car = make_product(name="轿车", tracking="serial")
    login_as("admin")
    client.get("/inventory/receive")
    data = {"warehouse_id": str(hq_warehouse.id), **line(0, product_id=str(car.id), batch_code="2026",
                                                         serials="VIN-A\n VIN-B \n\n")}
    assert client.post("/inventory/receive", data).status_code == 302
    assert sorted(db.session.scalars(select(SerialUnit.serial))) == ["VIN-A", "VIN-B"]
    client.get("/inventory/receive")
    again = client.post("/inventory/receive", {**data, **line(0, product_id=str(car.id), batch_code="2026",
                                                              serials="VIN-C\nVIN-B")})
    assert again.status_code == 409 and 'id="lines-0-serials-errors"' in html(again) and "VIN-B" in html(again)
    assert db.session.scalar(select(func.count(SerialUnit.id))) == 2
    mismatch = client.post("/inventory/receive", {**data, **line(0, product_id=str(car.id), batch_code="2026",
                                                                 quantity="3", serials="VIN-D")})
    assert mismatch.status_code == 422 and 'id="lines-0-quantity-errors"' in html(mismatch)


def test_distributor_receives_into_its_own_warehouse_only(client, login_distributor, make_distributor,
                                                          make_product, hq_warehouse):
    _user, mine = login_distributor()
    theirs = make_distributor("110106")
    water = make_product(name="矿泉水")
    form = html(client.get("/inventory/receive"))
    assert f'value="{mine.warehouse.id}"' in form and hq_warehouse.name not in form
    for foreign in (theirs.warehouse.id, hq_warehouse.id):
        refused = client.post("/inventory/receive", {"warehouse_id": str(foreign),
                                                     **line(0, product_id=str(water.id), quantity="1")})
        assert refused.status_code == 404
    assert client.post("/inventory/receive", {"warehouse_id": str(mine.warehouse.id),
                                              **line(0, product_id=str(water.id), quantity="2")}).status_code == 302
    assert services.available_of(water, mine.warehouse) == 2 and movement_count() == 1


def test_add_a_line_with_htmx_and_without(client, login_as):
    login_as("admin")
    fragment = client.get("/inventory/receive/line?index=5", htmx=True)
    text = html(fragment)
    assert fragment.status_code == 200 and 'name="lines-5-product_id"' in text and "<html" not in text
    assert 'hx-swap-oob="true"' in text and "index=6" in text
    form = client.get("/inventory/receive")
    assert "index=5" in html(form)
    more = client.post("/inventory/receive", {"add_line": "1", **line(0, quantity="7")})
    assert more.status_code == 200 and html(more).count('data-testid="receipt-line"') == 6
    assert 'value="7"' in html(more) and 'aria-invalid="true"' not in html(more)
    assert client.get("/inventory/receive/line?index=junk").status_code == 200


# --- write-offs -----------------------------------------------------------------------------------------

def test_write_off_from_a_batch_row(client, login_as, make_product, stock, hq_warehouse, days):
    milk = make_product(name="牛奶", tracking="batch")
    old = stock(milk, 6, "OLD", days(-2))
    stock(milk, 4, "NEW", days(100))
    services.reserve(None, hq_warehouse, milk, 1, "order", "9")  # FEFO skips the expired batch: NEW holds it
    db.session.commit()
    login_as("admin")
    url = f"/inventory/write-off?warehouse={hq_warehouse.id}&product={milk.id}&batch={old.id}"
    page = client.get(url)
    text = html(page)
    assert page.status_code == 200 and f'<option selected value="{old.id}"' in text.replace(
        f'<option value="{old.id}" selected', f'<option selected value="{old.id}"')
    assert "data-confirm=" in text and "3 unreserved" in text and "6 unreserved" in text
    data = {"warehouse": str(hq_warehouse.id), "product": str(milk.id), "batch": str(old.id), "quantity": "2",
            "reason": "expired", "note": ""}
    unconfirmed = client.post("/inventory/write-off", data)
    assert unconfirmed.status_code == 400 and "Tick the box" in html(unconfirmed)
    no_note = client.post("/inventory/write-off", {**data, "reason": "other", "confirm": "y"})
    assert no_note.status_code == 422 and "Say why" in html(no_note)
    for bad in ({"quantity": "0"}, {"quantity": "x"}, {"reason": "stolen"}, {"batch": "999999"}):
        assert client.post("/inventory/write-off", {**data, "confirm": "y", **bad}).status_code == 400, bad
    assert movement_count() == 3  # the two receipts and the reservation: nothing was written off
    done = client.post("/inventory/write-off", {**data, "confirm": "y", "reason": "damaged", "note": "破损"})
    assert done.status_code == 302 and "kind=write_off" in done.headers["Location"]
    assert services.get_balance(hq_warehouse, milk, old).on_hand == 4
    ledger = html(client.get(done.headers["Location"]))
    assert ledger.count('data-testid="movement-row"') == 1 and "破损" in ledger


def test_write_off_more_than_unreserved_is_a_conflict(client, login_as, make_product, stock, hq_warehouse):
    water = make_product(name="矿泉水")
    batch = stock(water, 3)
    login_as("admin")
    client.get(f"/inventory/write-off?product={water.id}")
    data = {"warehouse": str(hq_warehouse.id), "product": str(water.id), "batch": str(batch.id),
            "reason": "damaged", "confirm": "y"}
    # Someone reserves stock between the form and its posting: the database refuses the write-off.
    services.reserve(None, hq_warehouse, water, 2, "order", "5")
    commit()
    conflict = client.post("/inventory/write-off", {**data, "quantity": "3"})
    assert conflict.status_code == 409 and services.get_balance(hq_warehouse, water, batch).on_hand == 3
    assert client.post("/inventory/write-off", {**data, "quantity": "1"}).status_code == 302


def test_write_off_scope_and_serial_products(client, login_distributor, make_distributor, make_product, stock):
    _user, mine = login_distributor()
    theirs = make_distributor("110106")
    water, car = make_product(name="矿泉水"), make_product(name="轿车", tracking="serial")
    batch = stock(water, 3, warehouse=theirs.warehouse)
    client.get("/inventory/write-off")
    assert client.post("/inventory/write-off", {"warehouse": str(theirs.warehouse.id), "product": str(water.id),
                                                "batch": str(batch.id), "quantity": "1", "reason": "damaged",
                                                "confirm": "y"}).status_code == 404
    page = html(client.get(f"/inventory/write-off?product={water.id}"))
    assert 'data-testid="no-stock"' in page, "their stock is not offered"
    other = make_product(name="茶叶")
    assert client.get(f"/inventory/write-off?product={other.id}&batch={batch.id}").status_code == 404
    assert "one by one" in html(client.get(f"/inventory/write-off?product={car.id}"))
    assert client.post("/inventory/write-off", {"warehouse": str(mine.warehouse.id), "product": str(car.id),
                                                "batch": "1", "quantity": "1", "reason": "damaged",
                                                "confirm": "y"}).status_code == 422


# --- serial units ---------------------------------------------------------------------------------------

@pytest.fixture
def car_units(make_product, make_distributor, hq_warehouse):
    """A car received at HQ (VIN-HQ) and one at a distributor's (VIN-D); returns (distributor, hq unit, its unit)."""
    car = make_product(name="轿车", tracking="serial")
    dealer = make_distributor("110105")
    services.receive(None, hq_warehouse, [{"product": car, "batch_code": "2026", "serials": ["VIN-HQ"]}],
                     reason="到货")
    services.receive(None, dealer.warehouse, [{"product": car, "batch_code": "2026", "serials": ["VIN-D"]}])
    commit()
    units = {u.serial: u for u in db.session.scalars(select(SerialUnit))}
    return dealer, units["VIN-HQ"], units["VIN-D"]


def test_serial_unit_page_and_search(client, login_as, car_units):
    _dealer, hq_unit, _unit = car_units
    login_as("admin")
    page = client.get(f"/inventory/serials/{hq_unit.id}")
    text = html(page)
    assert page.status_code == 200 and "VIN-HQ" in text and "轿车" in text and "2026" in text
    assert text.count('data-testid="history-row"') == 1 and "到货" in text
    assert client.get("/inventory/serials/999999").status_code == 404
    found = html(client.get("/inventory/serials?q=VIN"))
    assert found.count('data-testid="serial-row"') == 2
    exact = html(client.get("/inventory/serials?q=vin-d", htmx=True))
    assert exact.lstrip().startswith('<div id="serial-results"') and exact.count('data-testid="serial-row"') == 1
    assert "Type a serial number" in html(client.get("/inventory/serials"))
    assert 'data-testid="serial-row"' not in html(client.get("/inventory/serials?q=%25"))


def test_a_distributor_sees_only_its_units(client, login_distributor, make_distributor, car_units):
    dealer, hq_unit, unit = car_units
    login_distributor(dealer)
    own = client.get(f"/inventory/serials/{unit.id}")
    assert own.status_code == 200 and dealer.warehouse.name in html(own)
    assert client.get(f"/inventory/serials/{hq_unit.id}").status_code == 404
    found = html(client.get("/inventory/serials?q=VIN"))
    assert "VIN-D" in found and "VIN-HQ" not in found
    client.post("/logout")
    login_distributor(make_distributor("110106"))
    assert client.get(f"/inventory/serials/{unit.id}").status_code == 404


def test_a_distributor_sees_its_part_of_a_units_history(client, login_as, login_distributor, make_distributor,
                                                        car_units, hq_warehouse):
    dealer, hq_unit, _unit = car_units
    # HQ sends VIN-HQ to the dealer (as a transfer does: out of HQ, into the dealer's warehouse).
    for warehouse, kind, delta in ((hq_warehouse, "transfer_out", -1), (dealer.warehouse, "transfer_in", 1)):
        services.move(None, warehouse=warehouse, product=hq_unit.product, batch=hq_unit.batch, kind=kind,
                      on_hand_delta=delta, source_type="transfer", source_id="1", serial_unit=hq_unit)
    hq_unit.warehouse_id = dealer.warehouse.id
    commit()
    login_distributor(dealer)
    page = html(client.get(f"/inventory/serials/{hq_unit.id}"))
    assert page.count('data-testid="history-row"') == 1 and "Transfer in" in page and "Receipt" not in page
    client.post("/logout")
    login_as("admin")
    assert html(client.get(f"/inventory/serials/{hq_unit.id}")).count('data-testid="history-row"') == 3
    client.post("/logout")
    # The unit moves on to another dealer: the first still finds it, but not where it is now.
    other = make_distributor("110106")
    hq_unit.warehouse_id = other.warehouse.id
    commit()
    login_distributor(dealer)
    page = html(client.get(f"/inventory/serials/{hq_unit.id}"))
    assert "In another warehouse" in page and other.warehouse.name not in page


def test_a_serial_unit_is_written_off_once_after_confirmation(client, login_distributor, make_distributor,
                                                              car_units):
    dealer, hq_unit, unit = car_units
    login_distributor(dealer)
    assert 'id="write-off"' in html(client.get(f"/inventory/serials/{unit.id}"))
    unconfirmed = client.post(f"/inventory/serials/{unit.id}/write-off", {"reason": "damaged"})
    assert unconfirmed.status_code == 400 and db.session.get(SerialUnit, unit.id).state == "in_stock"
    no_note = client.post(f"/inventory/serials/{unit.id}/write-off", {"reason": "other", "confirm": "y"})
    assert no_note.status_code == 422 and db.session.get(SerialUnit, unit.id).state == "in_stock"
    assert client.post(f"/inventory/serials/{hq_unit.id}/write-off",
                       {"reason": "damaged", "confirm": "y"}).status_code == 404
    done = client.post(f"/inventory/serials/{unit.id}/write-off", {"reason": "damaged", "confirm": "y"})
    assert done.status_code == 302
    db.session.expire_all()
    assert db.session.get(SerialUnit, unit.id).state == "written_off"
    assert services.get_balance(dealer.warehouse, unit.product, unit.batch).on_hand == 0
    again = client.post(f"/inventory/serials/{unit.id}/write-off", {"reason": "damaged", "confirm": "y"})
    assert again.status_code == 409 and movement_count() == 3  # two receipts and the one write-off
    assert not services.ledger_differences()
    assert 'id="write-off"' not in html(client.get(f"/inventory/serials/{unit.id}"))
