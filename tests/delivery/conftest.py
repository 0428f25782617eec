"""Delivery fixtures: English pages; a distributor with stock and two couriers; order(...) for paid orders."""

import itertools

import pytest

_phones = itertools.count(1)


@pytest.fixture(autouse=True)
def pages_in_english(english):
    """Every test here reads the pages in English."""


@pytest.fixture
def shop(app, make_distributor, make_product, make_user):
    """A county distributor (番禺区) with 50 bottles of water in its warehouse and two couriers."""
    from dms.core.jobs import commit
    from dms.inventory import services as inventory

    distributor = make_distributor("440113", name="番禺水站")
    water = make_product(name="桶装水", sku="WATER-19L", price="18.00")
    inventory.receive(None, distributor.warehouse, [{"product": water, "quantity": 50}])
    commit()
    return {"distributor": distributor, "water": water,
            "ann": make_user("courier", username="ann", display_name="Ann", distributor_id=distributor.id),
            "bob": make_user("courier", username="bob", display_name="Bob", distributor_id=distributor.id)}


@pytest.fixture
def order(app, shop):
    """order(region_code="440113", street="", status="paid", courier=None, quantity=1, distributor=None) -> Order.

    Placed for a new customer at that address, then moved on to `status` (paid, assigned, shipped,
    delivered) through the state machine, and committed.
    """
    from dms.core.jobs import commit
    from dms.orders import services, transitions

    def make(region_code="440113", street="", status="paid", courier=None, quantity=1, distributor=None,
             product=None):
        n = next(_phones)
        distributor = distributor or shop["distributor"]
        placed = services.place_order(None, {
            "distributor_id": distributor.id, "lines": [{"product_id": (product or shop["water"]).id,
                                                         "quantity": quantity}],
            "customer": {"name": f"客户{n}", "phone": f"139{n:08d}", "region_code": region_code,
                         "street": street, "address": f"{n}号"}})
        if status != "pending":
            transitions.pay(None, placed, "cash")
        if status in ("assigned", "shipped", "delivered"):
            transitions.assign_courier(None, placed, (courier or shop["ann"]).id)
        if status in ("shipped", "delivered"):
            transitions.ship(courier or shop["ann"], placed)
        if status == "delivered":
            transitions.deliver(courier or shop["ann"], placed)
        commit()
        return placed

    return make
