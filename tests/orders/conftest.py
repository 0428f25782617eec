"""Orders fixtures: a distributor with stock in its warehouse, its courier, and place(...) to order."""

import pytest


@pytest.fixture
def shop(app, make_distributor, make_product, make_user):
    """A county distributor (番禺区) with 10 bottles of water in its warehouse and a courier."""
    from dms.core.jobs import commit
    from dms.inventory import services as inventory

    distributor = make_distributor("440113")
    water = make_product(name="桶装水", price="18.00")
    inventory.receive(None, distributor.warehouse, [{"product": water, "quantity": 10}])
    commit()
    courier = make_user("courier", distributor_id=distributor.id)
    return {"distributor": distributor, "water": water, "courier": courier}


@pytest.fixture
def place(app):
    """place(actor, data) -> Order: place an order through the service and commit."""
    from dms.core.jobs import commit
    from dms.orders import services

    def run(actor, data):
        order = services.place_order(actor, data)
        commit()
        return order

    return run


@pytest.fixture
def juice(app, make_product, shop):
    """A second product of the shop, 5 in stock at 7.50."""
    from dms.core.jobs import commit
    from dms.inventory import services as inventory

    product = make_product(name="果汁", sku="JUICE-1", price="7.50")
    inventory.receive(None, shop["distributor"].warehouse, [{"product": product, "quantity": 5}])
    commit()
    return product
