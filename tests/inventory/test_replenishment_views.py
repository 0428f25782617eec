"""Replenishment pages with CSRF on: the list (htmx fragment, scope), the prefilled form, approval in
part, rejection without a reason (422), short HQ stock (409), foreign ids (404)."""

import re

import pytest
from sqlalchemy import select

from dms.extensions import db
from dms.inventory import replenishment, services
from dms.inventory.models import ReplenishmentRequest, Transfer


@pytest.fixture
def water(make_product, stock):
    product = make_product(name="矿泉水", sku="WATER-1", low_stock_threshold=10)
    stock(product, 100)
    return product


def _request_for(distributor, product, quantity=5):
    request = replenishment.create_request(None, distributor.warehouse, [(product, quantity)])
    db.session.commit()
    return request


def test_distributor_requests_with_the_suggestion(client, login_distributor, water, stock):
    user, shop = login_distributor()
    stock(water, 3, warehouse=shop.warehouse)
    page = client.get("/inventory/replenishment/new")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert re.search(rf'name="qty-{water.id}"[^>]*value="17"', html), "2 x 10 - 3 suggested"
    assert 'href="/inventory/replenishment"' in html  # the subnav shows the page
    bad = client.post("/inventory/replenishment/new", {f"qty-{water.id}": "-2"})
    assert bad.status_code == 422 and "A whole number from 0" in bad.get_data(as_text=True)
    nothing = client.post("/inventory/replenishment/new", {f"qty-{water.id}": ""})
    assert nothing.status_code == 422 and "Ask for at least one product." in nothing.get_data(as_text=True)
    assert db.session.scalar(select(ReplenishmentRequest)) is None
    assert client.post("/inventory/replenishment/new", {f"qty-{water.id}": "12"}, csrf=False).status_code == 400
    done = client.post("/inventory/replenishment/new", {f"qty-{water.id}": "12", "note": "before the holiday"})
    request = db.session.scalar(select(ReplenishmentRequest))
    assert done.status_code == 302 and done.headers["Location"] == f"/inventory/replenishment/{request.id}"
    assert request.warehouse_id == shop.warehouse.id and request.lines[0].quantity_requested == 12
    detail = client.get(done.headers["Location"]).get_data(as_text=True)
    assert replenishment.reference(request) in detail and "approve-form" in detail
    assert 'data-testid="approve"' not in detail, "a distributor does not decide"
    assert client.post(f"/inventory/replenishment/{request.id}/approve", {}).status_code == 403


def test_list_is_scoped_and_answers_its_fragment(client, login_distributor, make_distributor, water):
    user, shop = login_distributor()
    mine, theirs = _request_for(shop, water), _request_for(make_distributor("110106"), water)
    page = client.get("/inventory/replenishment")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Vary" in page.headers and "HX-Request" in page.headers["Vary"]
    assert replenishment.reference(mine) in html and replenishment.reference(theirs) not in html
    fragment = client.get("/inventory/replenishment?status=submitted", htmx=True).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="replenishments-table"') and "<html" not in fragment
    assert replenishment.reference(mine) in fragment
    none = client.get("/inventory/replenishment?status=rejected", htmx=True).get_data(as_text=True)
    assert replenishment.reference(mine) not in none
    for url in (f"/inventory/replenishment/{theirs.id}", "/inventory/replenishment/999999"):
        assert client.get(url).status_code == 404
    for action in ("approve", "reject", "cancel"):
        assert client.post(f"/inventory/replenishment/{theirs.id}/{action}", {"reason": "x"}).status_code == 404
    assert db.session.get(ReplenishmentRequest, theirs.id).status == "submitted"
    assert client.get(f"/inventory/replenishment/new?warehouse={theirs.warehouse_id}").status_code == 404


def test_hq_approves_in_part(client, login_as, make_distributor, water, make_product, stock):
    juice = make_product(sku="JUICE-1")
    stock(juice, 50)
    shop = make_distributor()
    request = replenishment.create_request(None, shop.warehouse, [(water, 5), (juice, 4)])
    db.session.commit()
    login_as("admin")
    listing = client.get(f"/inventory/replenishment?warehouse={shop.warehouse.id}").get_data(as_text=True)
    assert replenishment.reference(request) in listing
    page = client.get(f"/inventory/replenishment/{request.id}").get_data(as_text=True)
    w, j = (line.id for line in request.lines)
    assert re.search(rf'name="approved-{w}"[^>]*value="5"', page), "defaults to what was asked"
    too_many = client.post(f"/inventory/replenishment/{request.id}/approve", {f"approved-{w}": "6"})
    assert too_many.status_code == 422 and "A whole number from 0 to 5." in too_many.get_data(as_text=True)
    all_zero = client.post(f"/inventory/replenishment/{request.id}/approve", {f"approved-{w}": "0",
                                                                               f"approved-{j}": "0"})
    assert all_zero.status_code == 422 and "reject the request" in all_zero.get_data(as_text=True)
    done = client.post(f"/inventory/replenishment/{request.id}/approve", {f"approved-{w}": "3",
                                                                           f"approved-{j}": "4"}, htmx=True)
    db.session.refresh(request)
    assert done.status_code == 204 and done.headers["HX-Redirect"] == f"/inventory/transfers/{request.transfer_id}"
    assert request.status == "partially_approved"
    assert sorted(i.quantity_sent for i in request.transfer.items) == [3, 4]
    again = client.post(f"/inventory/replenishment/{request.id}/approve", {})
    assert again.status_code == 409


def test_short_hq_stock_answers_409_and_keeps_the_request(client, login_as, make_distributor, make_product,
                                                          stock):
    scarce = make_product(sku="SCARCE")
    stock(scarce, 2)
    request = _request_for(make_distributor(), scarce, 5)
    login_as("admin")
    response = client.post(f"/inventory/replenishment/{request.id}/approve", {})
    assert response.status_code == 409 and "Not enough stock" in response.get_data(as_text=True)
    db.session.refresh(request)
    assert request.status == "submitted" and db.session.scalar(select(Transfer)) is None
    assert services.available_of(scarce, services.hq_warehouse()) == 2


def test_reject_needs_a_reason_and_cancel(client, login_as, login_distributor, make_distributor, water):
    shop = make_distributor()
    first, second = _request_for(shop, water), _request_for(shop, water, 2)
    login_as("admin")
    empty = client.post(f"/inventory/replenishment/{first.id}/reject", {"reason": "  "})
    assert empty.status_code == 422 and "Say why the request is rejected." in empty.get_data(as_text=True)
    assert client.post(f"/inventory/replenishment/{first.id}/reject", {"reason": "Budget"}).status_code == 302
    assert db.session.get(ReplenishmentRequest, first.id).status == "rejected"
    assert "Budget" in client.get(f"/inventory/replenishment/{first.id}").get_data(as_text=True)
    assert client.post(f"/inventory/replenishment/{second.id}/cancel", {}).status_code == 403, "HQ rejects instead"
    client.post("/logout", {})
    login_distributor(shop)
    page = client.get(f"/inventory/replenishment/{second.id}").get_data(as_text=True)
    assert "data-confirm" in page and 'data-testid="cancel-request"' in page
    assert client.post(f"/inventory/replenishment/{second.id}/cancel", {}).status_code == 302
    assert db.session.get(ReplenishmentRequest, second.id).status == "cancelled"
    assert client.post(f"/inventory/replenishment/{second.id}/cancel", {}).status_code == 409


def test_hq_chooses_the_warehouse_first(client, login_as, make_distributor, water):
    shop = make_distributor()
    login_as("admin")
    chooser = client.get("/inventory/replenishment/new").get_data(as_text=True)
    assert f'value="{shop.warehouse.id}"' in chooser
    form = client.get(f"/inventory/replenishment/new?warehouse={shop.warehouse.id}")
    assert form.status_code == 200 and f"qty-{water.id}" in form.get_data(as_text=True)
    reviewer_client = client  # the reviewer sees but may not request
    client.post("/logout", {})
    login_as("reviewer")
    assert reviewer_client.get("/inventory/replenishment").status_code == 200
    assert reviewer_client.get("/inventory/replenishment/new").status_code == 403
