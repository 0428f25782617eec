"""The stock alerts page: scope, filters, the htmx fragment, pagination, empty state, permission."""

import pytest
from sqlalchemy import select

from dms.core import jobs
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import alerts, services


def warehouse_of(distributor) -> Warehouse:
    return db.session.scalar(select(Warehouse).where(Warehouse.distributor_id == distributor.id))


def body(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


@pytest.fixture
def low(make_product, stock):
    """low(warehouse, name) -> a product running short there, its alert raised."""

    def make(warehouse, name):
        product = make_product(name=name, low_stock_threshold=5)
        stock(product, 1, warehouse=warehouse)
        alerts.check(warehouse, [product])
        jobs.commit()
        return product

    return make


@pytest.fixture
def network(make_distributor, hq_warehouse, low):
    """Alerts in a distributor's warehouse, another distributor's and HQ's."""
    own, other = make_distributor(), make_distributor()
    return {"own": own, "other": other, "own_warehouse": warehouse_of(own),
            "other_warehouse": warehouse_of(other), "hq_warehouse": hq_warehouse,
            "mine": low(warehouse_of(own), "自己的商品"), "theirs": low(warehouse_of(other), "别人的商品"),
            "hq": low(hq_warehouse, "总部的商品")}


def test_a_distributor_sees_only_its_own_warehouses_alerts(client, login_distributor, network):
    login_distributor(network["own"])
    page = body(client.get("/inventory/alerts"))
    assert "自己的商品" in page and "别人的商品" not in page and "总部的商品" not in page
    assert 'name="warehouse"' not in page  # nothing to choose from
    own = network["own_warehouse"].id
    assert "自己的商品" in body(client.get(f"/inventory/alerts?warehouse={own}"))


@pytest.mark.parametrize("value", ["other", "hq", "999999", "abc", "-1", "1" * 30])
def test_a_foreign_or_unknown_warehouse_filter_answers_404(client, login_distributor, network, value):
    login_distributor(network["own"])
    ids = {"other": network["other_warehouse"].id, "hq": network["hq_warehouse"].id}
    response = client.get(f"/inventory/alerts?warehouse={ids.get(value, value)}")
    assert response.status_code == 404
    assert client.get(f"/inventory/alerts?warehouse={ids.get(value, value)}", htmx=True).status_code == 404


def test_hq_sees_every_warehouse_and_filters_by_one(client, login_as, network):
    login_as("reviewer")  # inventory.view with HQ scope
    page = body(client.get("/inventory/alerts"))
    assert all(name in page for name in ("自己的商品", "别人的商品", "总部的商品"))
    assert 'name="warehouse"' in page
    page = body(client.get(f"/inventory/alerts?warehouse={network['other_warehouse'].id}"))
    assert "别人的商品" in page and "自己的商品" not in page
    assert client.get("/inventory/alerts?warehouse=999999").status_code == 404


def test_htmx_gets_the_table_fragment(client, login_as, network):
    login_as("admin")
    response = client.get("/inventory/alerts?kind=low_stock&q=自己", htmx=True)
    fragment = body(response)
    assert fragment.lstrip().startswith('<div id="alerts-table"') and "<html" not in fragment
    assert "自己的商品" in fragment and "别人的商品" not in fragment
    assert "HX-Request" in response.headers["Vary"]
    page = body(client.get("/inventory/alerts"))
    assert "<html" in page and 'id="alerts-table"' in page and 'class="inline-form subnav"' in page


def test_closed_alerts_show_on_request_and_kind_filters(client, login_as, network, make_product, stock, days):
    own_warehouse = network["own_warehouse"]
    services.receive(None, own_warehouse, [{"product": network["mine"], "quantity": 10}])
    alerts.check(own_warehouse, [network["mine"]])  # recovered: closed
    expiring = make_product(name="快过期的商品", tracking="batch")
    stock(expiring, 3, "B1", days(5), warehouse=own_warehouse)
    alerts.check(own_warehouse, [expiring])
    jobs.commit()
    login_as("admin")
    open_page = body(client.get("/inventory/alerts"))
    assert "自己的商品" not in open_page and "快过期的商品" in open_page
    closed_page = body(client.get("/inventory/alerts?status=closed"))
    assert "自己的商品" in closed_page and "别人的商品" not in closed_page
    both = body(client.get("/inventory/alerts?status=all"))
    assert "自己的商品" in both and "别人的商品" in both
    assert "快过期的商品" not in body(client.get("/inventory/alerts?kind=low_stock"))
    near = body(client.get("/inventory/alerts?kind=near_expiry"))
    assert "快过期的商品" in near and "别人的商品" not in near
    # Junk filters are ignored, never a 500.
    assert "别人的商品" in body(client.get("/inventory/alerts?status=nonsense&kind=nonsense&sort=x&dir=y&page=z"))


def test_pagination_keeps_the_filters(client, login_as, network):
    login_as("admin")
    page = body(client.get("/inventory/alerts?status=all&per_page=1"))
    assert "status=all" in page and 'rel="next"' in page
    assert body(client.get("/inventory/alerts?status=all&per_page=1&page=3")).count('data-testid="alert-row"') == 1


def test_each_alert_links_to_its_warehouses_stock_when_that_page_exists(app, client, login_as, network):
    login_as("admin")
    page = body(client.get(f"/inventory/alerts?warehouse={network['own_warehouse'].id}"))
    if "inventory.list_stock" in app.view_functions:
        assert 'data-testid="alert-stock-link"' in page
    else:
        assert 'data-testid="alert-stock-link"' not in page


def test_empty_state(client, login_distributor):
    login_distributor()
    page = body(client.get("/inventory/alerts"))
    assert 'class="empty"' in page and 'data-testid="alert-row"' not in page


def test_the_page_needs_inventory_view(client, login_as, make_user):
    assert client.get("/inventory/alerts").status_code == 302  # to the login page
    login_as("courier")
    assert client.get("/inventory/alerts").status_code == 403


def test_the_notification_links_to_the_warehouses_alerts(client, login_distributor, make_distributor, low):
    from dms.core.models import Notification

    user, distributor = login_distributor(make_distributor())
    low(warehouse_of(distributor), "新商品")
    [link] = db.session.scalars(select(Notification.link).where(Notification.user_id == user.id)).all()
    assert link == f"/inventory/alerts?warehouse={warehouse_of(distributor).id}"
    page = body(client.get(link))
    assert page.count('data-testid="alert-row"') == 1 and "新商品" in page
