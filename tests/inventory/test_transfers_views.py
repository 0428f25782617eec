"""Transfer pages with CSRF on: HQ's new-transfer form (lines follow the source by htmx), short stock
(409), bad input (422), the detail with the confirm-receipt form, partial receipt, cancel, scope (404)."""

import re

import pytest
from sqlalchemy import func, select

from dms.extensions import db
from dms.inventory import services, transfers
from dms.inventory.models import StockMovement, Transfer


@pytest.fixture
def tea(make_product, stock, days):
    product = make_product(name="普洱茶", sku="TEA-1", tracking="batch")
    stock(product, 4, "T1", days(30))
    stock(product, 6, "T2", days(90))
    return product


def _movements() -> int:
    return db.session.scalar(select(func.count()).select_from(StockMovement))


def test_hq_sends_between_two_warehouses(client, login_as, make_distributor, tea, hq_warehouse, stock):
    shop = make_distributor()
    login_as("admin")
    page = client.get("/inventory/transfers/new")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f'name="qty-{tea.id}"' in html and "hx-get" in html
    # The source's own lines, as the htmx request of its select asks for them.
    stock(tea, 2, "S1", warehouse=shop.warehouse)
    lines = client.get(f"/inventory/transfers/new?from_warehouse={shop.warehouse.id}", htmx=True)
    fragment = lines.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="transfer-lines"') and "<html" not in fragment
    assert re.search(r'name="qty-\d+"[^>]*max="2"', fragment)
    form = {"from_warehouse": str(hq_warehouse.id), "to_warehouse": str(shop.warehouse.id)}
    same = client.post("/inventory/transfers/new", {**form, "to_warehouse": str(hq_warehouse.id),
                                                    f"qty-{tea.id}": "1"})
    assert same.status_code == 422 and "other than the source" in same.get_data(as_text=True)
    junk = client.post("/inventory/transfers/new", {**form, f"qty-{tea.id}": "abc"})
    assert junk.status_code == 422
    unknown = client.post("/inventory/transfers/new", {**form, "to_warehouse": "99999", f"qty-{tea.id}": "1"})
    assert unknown.status_code == 422
    before = _movements()
    too_many = client.post("/inventory/transfers/new", {**form, f"qty-{tea.id}": "11"})
    assert too_many.status_code == 409 and "10 available, 11 requested" in too_many.get_data(as_text=True)
    assert _movements() == before
    assert client.post("/inventory/transfers/new", {**form, f"qty-{tea.id}": "7"}, csrf=False).status_code == 400
    done = client.post("/inventory/transfers/new", {**form, f"qty-{tea.id}": "7", "note": "spring"})
    transfer = db.session.scalar(select(Transfer))
    assert done.status_code == 302 and done.headers["Location"] == f"/inventory/transfers/{transfer.id}"
    assert [(i.batch.code, i.quantity_sent) for i in transfer.items] == [("T1", 4), ("T2", 3)]
    detail = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "T1" in detail and "T2" in detail and 'data-testid="cancel-transfer"' in detail
    assert services.ledger_differences() == []


def test_short_stock_answers_409_and_issues_nothing(client, login_as, make_distributor, tea, make_product,
                                                   stock, hq_warehouse):
    shop = make_distributor()
    water = make_product(sku="W-1")
    stock(water, 5)
    login_as("admin")
    client.get("/inventory/transfers/new")
    # Someone else takes the tea between the page and the submit: the page offered 10, 3 are left.
    services.issue(None, hq_warehouse, tea, 7, "order", "x", from_reserved=False)
    db.session.commit()
    before = _movements()
    response = client.post("/inventory/transfers/new", {"from_warehouse": str(hq_warehouse.id),
                                                        "to_warehouse": str(shop.warehouse.id),
                                                        f"qty-{water.id}": "5", f"qty-{tea.id}": "4"})
    assert response.status_code == 409 and "Not enough stock" in response.get_data(as_text=True)
    assert _movements() == before and db.session.scalar(select(Transfer)) is None
    assert services.available_of(water, hq_warehouse) == 5


def test_receiving_side_confirms_with_differences(client, login_as, login_distributor, make_user, tea,
                                                  hq_warehouse, make_distributor):
    user, shop = login_distributor()
    transfer = transfers.create_transfer(None, hq_warehouse, shop.warehouse, [(tea, 7)])
    db.session.commit()
    first, second = transfer.items
    page = client.get(f"/inventory/transfers/{transfer.id}").get_data(as_text=True)
    assert re.search(rf'name="received-{second.id}"[^>]*value="3"', page), "defaults to what was sent"
    assert "data-confirm" in page and 'data-testid="cancel-transfer"' not in page
    bad = client.post(f"/inventory/transfers/{transfer.id}/receive", {f"received-{second.id}": "4"})
    assert bad.status_code == 422 and "A whole number from 0 to 3." in bad.get_data(as_text=True)
    assert db.session.get(Transfer, transfer.id).status == "in_transit"
    done = client.post(f"/inventory/transfers/{transfer.id}/receive", {f"received-{first.id}": "4",
                                                                       f"received-{second.id}": "1"}, htmx=True)
    assert done.status_code == 204 and done.headers["HX-Redirect"] == f"/inventory/transfers/{transfer.id}"
    db.session.refresh(transfer)
    assert transfer.status == "received" and [i.difference for i in transfer.items] == [0, -2]
    shown = client.get(f"/inventory/transfers/{transfer.id}").get_data(as_text=True)
    assert 'data-testid="short"' in shown and "-2" in shown and 'name="received-' not in shown
    assert services.available_of(tea, shop.warehouse) == 5
    again = client.post(f"/inventory/transfers/{transfer.id}/receive", {})
    assert again.status_code == 409, "no longer in transit: the form is gone, the action refused"


def test_scope_and_who_may_act(client, login_distributor, make_distributor, tea, hq_warehouse, stock):
    user, shop = login_distributor()
    other = make_distributor("110106")
    stock(tea, 5, "S", warehouse=shop.warehouse)
    mine = transfers.create_transfer(None, hq_warehouse, shop.warehouse, [(tea, 1)])
    outgoing = transfers.create_transfer(None, shop.warehouse, other.warehouse, [(tea, 1)])
    theirs = transfers.create_transfer(None, hq_warehouse, other.warehouse, [(tea, 1)])
    db.session.commit()
    listing = client.get("/inventory/transfers").get_data(as_text=True)
    assert transfers.reference(mine) in listing and transfers.reference(outgoing) in listing
    assert transfers.reference(theirs) not in listing
    fragment = client.get(f"/inventory/transfers?to={shop.warehouse.id}", htmx=True).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="transfers-table"')
    assert transfers.reference(mine) in fragment and transfers.reference(outgoing) not in fragment
    for url in (f"/inventory/transfers/{theirs.id}", "/inventory/transfers/999999"):
        assert client.get(url).status_code == 404
    for action in ("receive", "cancel"):
        assert client.post(f"/inventory/transfers/{theirs.id}/{action}", {}).status_code == 404
    page = client.get(f"/inventory/transfers/{outgoing.id}").get_data(as_text=True)
    assert 'name="received-' not in page, "the sender does not confirm the receipt"
    assert client.post(f"/inventory/transfers/{outgoing.id}/receive", {}).status_code == 403
    assert client.post(f"/inventory/transfers/{mine.id}/cancel", {}).status_code == 403
    assert client.get("/inventory/transfers/new").status_code == 403
    db.session.expire_all()
    assert {t.status for t in db.session.scalars(select(Transfer))} == {"in_transit"}


def test_hq_cancels_with_confirmation(client, login_as, make_distributor, tea, hq_warehouse):
    shop = make_distributor()
    transfer = transfers.create_transfer(None, hq_warehouse, shop.warehouse, [(tea, 10)])
    db.session.commit()
    login_as("admin")
    page = client.get(f"/inventory/transfers/{transfer.id}").get_data(as_text=True)
    assert re.search(r'action="[^"]*/cancel"[^>]*\s+data-confirm=', page)
    assert client.post(f"/inventory/transfers/{transfer.id}/cancel", {"reason": "wrong"}).status_code == 302
    assert db.session.get(Transfer, transfer.id).status == "cancelled"
    assert services.available_of(tea, hq_warehouse) == 10
    assert client.post(f"/inventory/transfers/{transfer.id}/cancel", {}).status_code == 409
    assert services.ledger_differences() == []


def test_every_transfer_and_request_route_answers_404_for_a_foreign_id(app, client, login_distributor,
                                                                       make_distributor, tea, hq_warehouse):
    from dms.inventory import replenishment

    login_distributor()
    other = make_distributor("110106")
    foreign_transfer = transfers.create_transfer(None, hq_warehouse, other.warehouse, [(tea, 1)])
    foreign_request = replenishment.create_request(None, other.warehouse, [(tea, 1)])
    db.session.commit()
    values = {"transfer_id": foreign_transfer.id, "request_id": foreign_request.id}
    routes = [(rule, method) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("inventory.") and set(rule.arguments) & set(values)
              for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})]
    assert len(routes) >= 7
    for rule, method in routes:
        url = rule.build({name: values[name] for name in rule.arguments})[1]
        response = client.get(url) if method == "GET" else client.post(url, {"reason": "x"})
        assert response.status_code == 404, (method, url, response.status_code)
    assert db.session.get(Transfer, foreign_transfer.id).status == "in_transit"
