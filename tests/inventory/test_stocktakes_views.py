"""Stocktake pages with CSRF on: list and open, count (form and htmx per line), add, review, post, cancel, scope."""

import re

import pytest
from sqlalchemy import select

from dms.extensions import db
from dms.inventory import services, stocktakes
from dms.inventory.models import StockMovement, Stocktake

BASE = "/inventory/stocktakes"


def open_count(actor, warehouse) -> Stocktake:
    stocktake = stocktakes.open_stocktake(actor, warehouse)
    db.session.commit()
    return stocktake


def line_for(stocktake, product):
    return next(line for line in stocktake.lines if line.product_id == product.id)


def text_of(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def counted_hq(login_as, make_product, stock, hq_warehouse):
    """An admin logged in and an open count of HQ with two products on the books (5 and 3)."""
    admin = login_as("admin")
    first, second = make_product(name="矿泉水"), make_product(name="纯净水", tracking="batch")
    stock(first, 5)
    stock(second, 3, "B1")
    stocktake = open_count(admin, hq_warehouse)
    return admin, stocktake, first, second


# --- list and open ------------------------------------------------------------------------------

def test_list_and_open(client, login_as, make_product, stock, hq_warehouse):
    login_as("admin")
    stock(make_product(), 2)
    page = client.get(BASE)
    assert page.status_code == 200 and "open-stocktake" in text_of(page) and "No stocktakes yet." in text_of(page)

    assert client.post(BASE, {"warehouse_id": str(hq_warehouse.id), "note": "月底"}, csrf=False).status_code == 400
    response = client.post(BASE, {"warehouse_id": str(hq_warehouse.id), "note": "月底"})
    assert response.status_code == 302
    stocktake = db.session.scalar(select(Stocktake))
    assert response.headers["Location"].endswith(f"{BASE}/{stocktake.id}")
    assert len(stocktake.lines) == 1 and stocktake.note == "月底"

    again = client.post(BASE, {"warehouse_id": str(hq_warehouse.id)})
    assert again.status_code == 409 and "is open already" in text_of(again)
    bad = client.post(BASE, {"warehouse_id": "999999"})
    assert bad.status_code == 400 and 'id="warehouse_id-errors"' in text_of(bad)

    listed = client.get(f"{BASE}?status=open", htmx=True)
    assert listed.status_code == 200 and "HX-Request" in listed.headers["Vary"]
    body = text_of(listed)
    assert body.lstrip().startswith('<div id="stocktakes-table"') and "<html" not in body
    assert f"#{stocktake.id}" in body
    assert f"#{stocktake.id}" not in text_of(client.get(f"{BASE}?status=posted", htmx=True))
    assert client.get(f"{BASE}?warehouse=abc&page=x&sort=nonsense").status_code == 200


def test_distributor_opens_its_own_warehouse_only(client, login_distributor, make_distributor, hq_warehouse):
    user, mine = login_distributor()
    other = make_distributor("110106")
    page = text_of(client.get(BASE))
    assert f'value="{mine.warehouse.id}"' in page and f'value="{hq_warehouse.id}"' not in page
    assert client.post(BASE, {"warehouse_id": str(other.warehouse.id)}).status_code == 400
    assert client.post(BASE, {"warehouse_id": str(mine.warehouse.id)}).status_code == 302
    assert db.session.scalar(select(Stocktake.warehouse_id)) == mine.warehouse.id


# --- counting -----------------------------------------------------------------------------------

def test_counting_page_and_search(client, counted_hq):
    _admin, stocktake, first, second = counted_hq
    page = client.get(f"{BASE}/{stocktake.id}")
    body = text_of(page)
    assert page.status_code == 200
    assert body.count('data-testid="count-input"') == 2 and 'inputmode="numeric"' in body
    assert "serial number" in body and 'data-label="' in body
    found = client.get(f"{BASE}/{stocktake.id}?q=B1", htmx=True)
    assert found.status_code == 200 and text_of(found).lstrip().startswith('<div id="stocktake-lines"')
    assert second.name in text_of(found) and first.name not in text_of(found)


def test_save_counts_form_without_js(client, counted_hq):
    _admin, stocktake, first, second = counted_hq
    l1, l2 = line_for(stocktake, first), line_for(stocktake, second)
    client.get(f"{BASE}/{stocktake.id}")
    for bad in ("-1", "abc", "2.5", "99999999999"):
        response = client.post(f"{BASE}/{stocktake.id}/counts", {f"counted-{l1.id}": "4", f"counted-{l2.id}": bad})
        assert response.status_code == 400, bad
        body = text_of(response)
        assert "A whole number, 0 or more." in body and f'id="counted-{l2.id}-errors"' in body
        assert f'value="{bad}"' in body, "what was typed is shown again"
        db.session.refresh(l1)
        assert l1.counted is None, "nothing is saved when one value is refused"
    response = client.post(f"{BASE}/{stocktake.id}/counts", {f"counted-{l1.id}": "4", f"counted-{l2.id}": ""})
    assert response.status_code == 302
    db.session.refresh(l1)
    db.session.refresh(l2)
    assert (l1.counted, l2.counted) == (4, None)
    assert "1 of 2 lines" in text_of(client.get(response.headers["Location"]))


def test_save_one_line_by_htmx(client, counted_hq):
    _admin, stocktake, first, _second = counted_hq
    line = line_for(stocktake, first)
    client.get(f"{BASE}/{stocktake.id}")
    response = client.post(f"{BASE}/{stocktake.id}/counts", {f"counted-{line.id}": "7"}, htmx=True)
    body = text_of(response)
    assert response.status_code == 200 and body.lstrip().startswith(f'<tr id="line-{line.id}"')
    assert 'value="7"' in body and "+2" in body
    db.session.refresh(line)
    assert line.counted == 7
    bad = client.post(f"{BASE}/{stocktake.id}/counts", {f"counted-{line.id}": "-3"}, htmx=True)
    assert bad.status_code == 400 and "A whole number, 0 or more." in text_of(bad)
    assert text_of(bad).lstrip().startswith(f'<tr id="line-{line.id}" class="has-error"')
    db.session.refresh(line)
    assert line.counted == 7


def test_add_line(client, counted_hq, make_product):
    _admin, stocktake, first, _second = counted_hq
    found = make_product(tracking="batch", sku="FOUND-1")
    client.get(f"{BASE}/{stocktake.id}")
    url = f"{BASE}/{stocktake.id}/lines"
    cases = [({"sku": "NOPE", "counted": "1"}, 422, "No product has this SKU."),
             ({"sku": "FOUND-1", "counted": "1"}, 422, "give a batch code"),
             ({"sku": "FOUND-1", "batch_code": "F", "counted": "-1"}, 400, "A whole number, 0 or more."),
             ({"sku": "FOUND-1", "batch_code": "F", "counted": "x"}, 400, "counted-errors"),
             ({"sku": "FOUND-1", "batch_code": "F", "counted": "1", "expiry_date": "31/12"}, 400, "expiry_date-errors"),
             ({"sku": first.sku, "counted": "1"}, 409, "is on the list already")]
    for data, status, message in cases:
        response = client.post(url, data)
        assert response.status_code == status, (data, text_of(response)[-2000:])
        assert message in text_of(response), data
    assert len(stocktake.lines) == 2
    response = client.post(url, {"sku": "FOUND-1", "batch_code": "F", "counted": "4", "expiry_date": "2030-01-31"})
    assert response.status_code == 302
    db.session.refresh(stocktake)
    added = line_for(stocktake, found)
    assert (added.expected, added.counted, added.batch.code) == (0, 4, "F")


# --- review, post, cancel -----------------------------------------------------------------------

def test_review_and_post(client, counted_hq, hq_warehouse):
    _admin, stocktake, first, second = counted_hq
    l1 = line_for(stocktake, first)
    client.get(f"{BASE}/{stocktake.id}")
    client.post(f"{BASE}/{stocktake.id}/counts", {f"counted-{l1.id}": "2"})
    review = client.get(f"{BASE}/{stocktake.id}/review")
    body = text_of(review)
    assert review.status_code == 200 and "-3" in body and 'data-testid="uncounted"' in body and "data-confirm" in body

    refused = client.post(f"{BASE}/{stocktake.id}/post", {})
    assert refused.status_code == 422 and "lines are not counted" in text_of(refused)
    assert db.session.scalar(select(StockMovement).where(StockMovement.kind == "count")) is None

    posted = client.post(f"{BASE}/{stocktake.id}/post", {"keep_uncounted": "y"})
    assert posted.status_code == 302
    db.session.refresh(stocktake)
    movement = db.session.scalar(select(StockMovement).where(StockMovement.kind == "count"))
    assert stocktake.status == "posted" and movement.on_hand_delta == -3
    document = text_of(client.get(f"{BASE}/{stocktake.id}"))
    assert 'data-testid="count-input"' not in document and f"#{movement.id}" in document and "Not counted" in document
    assert services.ledger_differences() == []

    twice = client.post(f"{BASE}/{stocktake.id}/post", {"keep_uncounted": "y"})
    assert twice.status_code == 409 and "cannot be changed" in text_of(twice)
    late = client.post(f"{BASE}/{stocktake.id}/counts", {f"counted-{l1.id}": "1"})
    assert late.status_code == 409


def test_post_refused_when_stock_is_reserved_meanwhile(client, counted_hq, hq_warehouse):
    _admin, stocktake, first, second = counted_hq
    l1, l2 = line_for(stocktake, first), line_for(stocktake, second)
    client.get(f"{BASE}/{stocktake.id}")
    client.post(f"{BASE}/{stocktake.id}/counts", {f"counted-{l1.id}": "9", f"counted-{l2.id}": "0"})
    services.reserve(None, hq_warehouse, second, 2, "order", 1)
    db.session.commit()
    review = text_of(client.get(f"{BASE}/{stocktake.id}/review"))
    assert 'data-testid="short"' in review
    response = client.post(f"{BASE}/{stocktake.id}/post", {})
    assert response.status_code == 409 and "Not enough stock" in text_of(response)
    db.session.refresh(stocktake)
    assert stocktake.status == "open"
    assert db.session.scalar(select(StockMovement).where(StockMovement.kind == "count")) is None


def test_cancel(client, counted_hq):
    _admin, stocktake, _first, _second = counted_hq
    page = text_of(client.get(f"{BASE}/{stocktake.id}"))
    assert re.search(r'action="[^"]*/cancel"[^>]*data-confirm=', page)
    assert client.post(f"{BASE}/{stocktake.id}/cancel", {}).status_code == 302
    db.session.refresh(stocktake)
    assert stocktake.status == "cancelled"
    again = client.post(f"{BASE}/{stocktake.id}/cancel", {})
    assert again.status_code == 409 and "cannot be changed" in text_of(again)


# --- scope and permission -----------------------------------------------------------------------

def test_foreign_stocktake_answers_404_everywhere(client, login_distributor, make_distributor, make_user,
                                                 make_product, stock):
    other = make_distributor("110106")
    product = make_product()
    stock(product, 4, warehouse=other.warehouse)
    foreign = open_count(make_user("admin"), other.warehouse)
    line_id = foreign.lines[0].id
    login_distributor()
    base = f"{BASE}/{foreign.id}"
    for url in (base, f"{base}/review"):
        assert client.get(url).status_code == 404, url
        assert client.get(url, htmx=True).status_code == 404, url
    for url, data in ((f"{base}/counts", {f"counted-{line_id}": "1"}), (f"{base}/lines", {"sku": product.sku,
                                                                                        "counted": "1"}),
                      (f"{base}/post", {"keep_uncounted": "y"}), (f"{base}/cancel", {})):
        assert client.post(url, data).status_code == 404, url
    assert f"#{foreign.id}" not in text_of(client.get(BASE))
    db.session.refresh(foreign)
    assert foreign.status == "open" and foreign.lines[0].counted is None


def test_reviewer_reads_but_cannot_count(client, login_as, make_user, make_product, stock, hq_warehouse):
    product = make_product()
    stock(product, 4)
    stocktake = open_count(make_user("admin"), hq_warehouse)
    login_as("reviewer")
    page = text_of(client.get(f"{BASE}/{stocktake.id}"))
    assert 'data-testid="count-input"' not in page and "open-stocktake" not in text_of(client.get(BASE))
    assert client.post(f"{BASE}/{stocktake.id}/counts", {f"counted-{stocktake.lines[0].id}": "1"}).status_code == 403
    assert client.post(BASE, {"warehouse_id": str(hq_warehouse.id)}).status_code in (400, 403)


def test_login_required(client):
    assert client.get(BASE).status_code == 302
