"""The orders services against a real database: pricing, routing, customers, reservation, editing, HQ's queue."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dms.catalog.models import Price
from dms.core.errors import Conflict, Forbidden, InsufficientStock, InvalidTransition, NotFound, ValidationError
from dms.core.jobs import commit
from dms.core.time import utcnow
from dms.customers import services as customers
from dms.customers.models import Customer
from dms.distributors import services as distributors
from dms.extensions import db
from dms.inventory import services as inventory
from dms.inventory.models import StockMovement
from dms.orders import pricing, services, transitions
from dms.orders.models import Order

ADDRESS = {"name": "王小明", "phone": "13800138000", "region_code": "440113", "street": "市桥街道",
           "address": "德兴路 12 号"}


def address(region_code="440113", **changes):
    return {**ADDRESS, "region_code": region_code, **changes}


def movements(order, kind=None):
    """(kind, reserved_delta, on_hand_delta) of the order's stock movements, oldest first."""
    stmt = select(StockMovement).where(StockMovement.source_type == "order",
                                       StockMovement.source_id == str(order.id)).order_by(StockMovement.id)
    if kind:
        stmt = stmt.where(StockMovement.kind == kind)
    return [(m.kind, m.reserved_delta, m.on_hand_delta) for m in db.session.scalars(stmt)]


def check_passes(app):
    result = app.test_cli_runner().invoke(args=["dms", "check"])
    assert result.exit_code == 0, result.output


# --- pricing ---------------------------------------------------------------------------------------

def test_lines_are_priced_from_the_retail_price_in_force(app, shop, place, make_product):
    distributor, water = shop["distributor"], shop["water"]
    # An older price, a newer one in force now and one that only starts tomorrow: only the newer counts.
    db.session.add(Price(product_id=water.id, kind="retail", amount=Decimal("5.00"),
                         effective_from=utcnow() - timedelta(days=2)))
    db.session.add(Price(product_id=water.id, kind="retail", amount=Decimal("19.50"), effective_from=utcnow()))
    db.session.add(Price(product_id=water.id, kind="retail", amount=Decimal("99.00"),
                         effective_from=utcnow() + timedelta(days=1)))
    db.session.commit()
    order = place(None, {"distributor_id": distributor.id, "lines": [{"product_id": water.id, "quantity": 2}]})
    line, = order.lines
    assert (line.unit_price, line.discount, line.amount) == (Decimal("19.50"), Decimal("0.00"), Decimal("39.00"))
    assert (order.subtotal, order.discount, order.total) == (Decimal("39.00"), Decimal("0.00"), Decimal("39.00"))


def test_a_total_price_that_differs_is_a_price_mismatch_with_the_computed_total(app, shop):
    distributor, water = shop["distributor"], shop["water"]
    with pytest.raises(ValidationError) as caught:
        services.place_order(None, {"distributor_id": distributor.id, "product_id": water.id, "quantity": 3,
                                    "total_price": 50})
    assert caught.value.code == "price_mismatch"
    assert caught.value.extra["computed_total"] == "54.00" and "total_price" in caught.value.fields
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0
    assert inventory.available_of(water, distributor.warehouse) == 10  # nothing stayed reserved


@pytest.mark.parametrize("given", [54, "54", "54.00", 54.0, "54.004"])
def test_a_matching_total_price_is_accepted_in_any_json_form(app, shop, place, given):
    order = place(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id, "quantity": 3,
                         "total_price": given})
    assert order.total == Decimal("54.00")


def test_amounts_round_half_up_to_the_fen(app, shop, place):
    assert pricing.money("1.005", "x") == Decimal("1.01")  # banker's rounding would give 1.00
    assert pricing.money("2.675", "x") == Decimal("2.68")
    assert pricing.money(0.125, "x") == Decimal("0.13")
    # 54.005 rounds up to 54.01, which is not the total: rounding happens before comparing.
    with pytest.raises(ValidationError) as caught:
        services.place_order(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id,
                                    "quantity": 3, "total_price": "54.005"})
    assert caught.value.code == "price_mismatch"
    db.session.rollback()
    order = place(None, {"distributor_id": shop["distributor"].id, "lines": [
        {"product_id": shop["water"].id, "quantity": 3, "discount": "0.005"}]})
    assert (order.lines[0].discount, order.total) == (Decimal("0.01"), Decimal("53.99"))


@pytest.mark.parametrize("bad", [-1, "abc", True, "NaN", "Infinity", "1e20", ""])
def test_a_malformed_total_price_is_a_field_error(app, shop, bad):
    with pytest.raises(ValidationError) as caught:
        services.place_order(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id,
                                    "quantity": 1, "total_price": bad})
    assert "total_price" in caught.value.fields and caught.value.code == "validation_error"


def test_discounts_are_for_staff_and_at_most_the_line(app, shop, place, make_user):
    distributor, water = shop["distributor"], shop["water"]
    staff = make_user("distributor", distributor_id=distributor.id)
    order = place(staff, {"lines": [{"product_id": water.id, "quantity": 2, "discount": "6.50"}],
                          "total_price": "29.50"})
    assert (order.subtotal, order.discount, order.total) == (Decimal("36.00"), Decimal("6.50"), Decimal("29.50"))
    assert order.lines[0].amount == Decimal("29.50")
    with pytest.raises(ValidationError) as caught:
        services.place_order(staff, {"lines": [{"product_id": water.id, "quantity": 1, "discount": "18.01"}]})
    assert list(caught.value.fields) == ["lines.0.discount"]
    db.session.rollback()
    client = _client(app)
    with pytest.raises(ValidationError) as caught:
        services.place_order(client, {"distributor_id": distributor.id,
                                      "lines": [{"product_id": water.id, "quantity": 1, "discount": "1"}]})
    assert list(caught.value.fields) == ["lines.0.discount"]


def test_bad_lines_name_each_field(app, shop, make_product):
    unpriced, water = make_product(price=None), shop["water"]
    with pytest.raises(ValidationError) as caught:
        services.place_order(None, {"distributor_id": shop["distributor"].id, "lines": [
            {"product_id": water.id, "quantity": 0}, {"product_id": 999999, "quantity": 1},
            {"product_id": unpriced.id, "quantity": 1}, {"product_id": water.id, "quantity": 1}, "x",
            {"product_id": "1", "quantity": 1}]})
    assert set(caught.value.fields) == {"lines.0.quantity", "lines.1.product_id", "lines.2.product_id",
                                        "lines.3.product_id", "lines.4", "lines.5.product_id"}
    for lines in ([], None, "x", [{"product_id": water.id, "quantity": 1}] * 101):
        with pytest.raises(ValidationError) as caught:
            services.place_order(None, {"distributor_id": shop["distributor"].id, "lines": lines})
        assert "lines" in caught.value.fields
    for bad in (None, 1.5, True, 100_001, "2"):
        with pytest.raises(ValidationError):
            services.place_order(None, {"distributor_id": shop["distributor"].id, "product_id": water.id,
                                        "quantity": bad})
    with pytest.raises(ValidationError):
        services.place_order(None, ["not", "an", "object"])
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


# --- routing -----------------------------------------------------------------------------------------

@pytest.fixture
def network(app, make_distributor, make_product, grant):
    """A province, a city and a county agent of Guangdong, each granted its region, each with 20 of a product."""
    province = make_distributor("440000")
    city = make_distributor("440100")
    county = make_distributor("440113")
    grant(province, "440000", exclusive=False)
    grant(city, "440100", exclusive=False)
    grant(county, "440113")
    product = make_product(price="5.00")
    for d in (province, city, county):
        inventory.receive(None, d.warehouse, [{"product": product, "quantity": 20}])
    commit()
    return {"province": province, "city": city, "county": county, "product": product}


@pytest.mark.parametrize("region_code,agent", [("440113", "county"), ("440106", "city"), ("440605", "province"),
                                               ("440000", "province")])
def test_an_order_with_an_address_is_routed_to_the_most_specific_territory(app, network, place, region_code,
                                                                            agent):
    client = _client(app)
    order = place(client, {"customer": address(region_code), "product_id": network["product"].id,
                           "quantity": 2, "total_price": "10.00"})
    expected = network[agent]
    assert (order.distributor_id, order.warehouse_id) == (expected.id, expected.warehouse.id)
    assert order.customer.distributor_id == expected.id and order.ship_region_code == region_code
    assert order.source == "api" and order.api_client_id == client.client.id
    assert inventory.available_of(network["product"], expected.warehouse) == 18
    placed, = order.events
    assert placed.kind == "placed" and expected.display_name in placed.note


def test_an_order_no_territory_covers_waits_unassigned_for_hq(app, network, place):
    order = place(_client(app), {"customer": address("110105"), "product_id": network["product"].id, "quantity": 1})
    assert (order.distributor_id, order.warehouse_id, order.status) == (None, None, "pending")
    assert order.customer.distributor_id is None and "110105" in order.events[0].note
    assert movements(order) == []  # nothing is reserved until HQ chooses the distributor
    assert transitions.allowed_moves(None, order) == ["cancelled"]
    with pytest.raises(InvalidTransition):
        transitions.pay(None, order, "cash")


def test_an_inactive_distributor_is_skipped_by_routing_and_refused_when_named(app, network, place):
    county = network["county"]
    distributors.set_status(None, county, "suspended", reason="欠款")
    commit()
    order = place(None, {"customer": address("440113"), "product_id": network["product"].id, "quantity": 1})
    assert order.distributor_id == network["city"].id
    with pytest.raises(Conflict) as caught:
        services.place_order(None, {"distributor_id": county.id, "product_id": network["product"].id,
                                    "quantity": 1})
    assert caught.value.code == "distributor_inactive"


def test_the_distributor_is_the_actors_own_or_within_its_scope(app, network, place, make_user, make_distributor):
    county, city = network["county"], network["city"]
    staff = make_user("distributor", distributor_id=county.id)
    order = place(staff, {"product_id": network["product"].id, "quantity": 1})
    assert order.distributor_id == county.id and order.created_by_id == staff.id and order.source == "web"
    with pytest.raises(NotFound):
        services.place_order(staff, {"distributor_id": city.id, "product_id": network["product"].id,
                                     "quantity": 1})
    for bad in ("1", True, 0, -3, 2**31):
        with pytest.raises(ValidationError) as caught:
            services.place_order(None, {"distributor_id": bad, "product_id": network["product"].id, "quantity": 1})
        assert "distributor_id" in caught.value.fields
    with pytest.raises(ValidationError) as caught:
        services.place_order(None, {"distributor_id": 999999, "product_id": network["product"].id, "quantity": 1})
    with pytest.raises(ValidationError) as caught:  # neither a distributor nor an address to route by
        services.place_order(_client(app), {"product_id": network["product"].id, "quantity": 1})
    assert "distributor_id" in caught.value.fields
    with pytest.raises(Forbidden):
        services.place_order(make_user("courier", distributor_id=county.id),
                             {"product_id": network["product"].id, "quantity": 1})


def test_hq_may_ship_from_its_own_warehouse(app, shop, place, hq_warehouse):
    inventory.receive(None, hq_warehouse, [{"product": shop["water"], "quantity": 5}])
    commit()
    order = place(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id, "quantity": 4,
                         "ship_from_hq": True})
    assert order.warehouse_id == hq_warehouse.id and inventory.available_of(shop["water"], hq_warehouse) == 1
    assert inventory.available_of(shop["water"], shop["distributor"].warehouse) == 10


# --- customers ---------------------------------------------------------------------------------------

def test_an_address_creates_the_customer_once_and_reuses_it(app, network, place):
    product = network["product"]
    first = place(_client(app), {"customer": address(), "product_id": product.id, "quantity": 1})
    again = place(_client(app), {"customer": address(phone="138 0013 8000", address="别处"), "product_id": product.id,
                                 "quantity": 1})
    other = place(_client(app), {"customer": address(name="李四"), "product_id": product.id, "quantity": 1})
    assert first.customer_id == again.customer_id != other.customer_id
    assert again.ship_address == "别处"  # the order keeps the address it was given
    assert db.session.scalar(select(func.count()).select_from(Customer)) == 2


def test_an_existing_customer_must_be_the_distributors(app, network, place, make_user):
    county, city = network["county"], network["city"]
    own = customers.create_customer(None, county.id, address())
    foreign = customers.create_customer(None, city.id, address("440106", name="赵六"))
    commit()
    order = place(None, {"customer_id": own.id, "product_id": network["product"].id, "quantity": 1})
    assert order.distributor_id == county.id and order.ship_name == "王小明" and order.ship_street == "市桥街道"
    with pytest.raises(ValidationError) as caught:
        services.place_order(None, {"distributor_id": county.id, "customer_id": foreign.id,
                                    "product_id": network["product"].id, "quantity": 1})
    assert "customer_id" in caught.value.fields
    staff = make_user("distributor", distributor_id=county.id)
    with pytest.raises(NotFound):
        services.place_order(staff, {"customer_id": foreign.id, "product_id": network["product"].id, "quantity": 1})


def test_a_bad_address_answers_per_field(app, network):
    with pytest.raises(ValidationError) as caught:
        services.place_order(_client(app), {"customer": {"name": "", "phone": "123", "region_code": "999999",
                                                         "street": 5}, "product_id": network["product"].id,
                                            "quantity": 1})
    assert set(caught.value.fields) == {"customer.name", "customer.phone", "customer.region_code", "customer.street"}
    with pytest.raises(ValidationError) as caught:
        services.place_order(_client(app), {"customer": "王小明", "product_id": network["product"].id, "quantity": 1})
    assert set(caught.value.fields) == {"customer.customer"}


# --- reservation -------------------------------------------------------------------------------------

def test_placing_reserves_every_line_or_nothing(app, shop, place, make_product):
    distributor, water = shop["distributor"], shop["water"]
    flour = make_product(name="面粉", price="32.00")
    inventory.receive(None, distributor.warehouse, [{"product": flour, "quantity": 2}])
    commit()
    order = place(None, {"distributor_id": distributor.id, "lines": [{"product_id": water.id, "quantity": 4},
                                                                     {"product_id": flour.id, "quantity": 2}]})
    assert services.reserved_by_line(order) == {water.id: 4, flour.id: 2}
    assert movements(order) == [("reserve", 4, 0), ("reserve", 2, 0)]
    with pytest.raises(InsufficientStock) as caught:
        services.place_order(None, {"distributor_id": distributor.id, "lines": [
            {"product_id": water.id, "quantity": 6}, {"product_id": flour.id, "quantity": 1}]})
    assert caught.value.extra["product_id"] == flour.id and list(caught.value.fields) == ["lines.1.quantity"]
    db.session.rollback()
    assert inventory.available_of(water, distributor.warehouse) == 6  # the short order reserved nothing
    assert inventory.available_of(flour, distributor.warehouse) == 0
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert not inventory.ledger_differences()


def test_editing_a_pending_order_re_reserves_atomically(app, shop, place, make_product):
    distributor, water = shop["distributor"], shop["water"]
    flour = make_product(name="面粉", price="32.00")
    inventory.receive(None, distributor.warehouse, [{"product": flour, "quantity": 2}])
    commit()
    order = place(None, {"distributor_id": distributor.id, "product_id": water.id, "quantity": 3})
    services.update_order(None, order, {"lines": [{"product_id": water.id, "quantity": 8},
                                                  {"product_id": flour.id, "quantity": 1}], "note": "改单"})
    commit()
    assert services.reserved_by_line(order) == {water.id: 8, flour.id: 1}
    assert (order.total, order.note) == (Decimal("176.00"), "改单")
    assert inventory.available_of(water, distributor.warehouse) == 2
    # A new line that is short fails the edit; rolled back, the order keeps its lines and reservation.
    with pytest.raises(InsufficientStock):
        services.update_order(None, order, {"lines": [{"product_id": water.id, "quantity": 1},
                                                      {"product_id": flour.id, "quantity": 3}]})
    db.session.rollback()
    order = db.session.get(Order, order.id)
    assert [(line.product_id, line.quantity) for line in order.lines] == [(water.id, 8), (flour.id, 1)]
    assert services.reserved_by_line(order) == {water.id: 8, flour.id: 1}
    assert inventory.available_of(water, distributor.warehouse) == 2
    # Dropping a line releases it; a mismatched total refuses the edit.
    with pytest.raises(ValidationError) as caught:
        services.update_order(None, order, {"lines": [{"product_id": flour.id, "quantity": 1}], "total_price": 1})
    assert caught.value.code == "price_mismatch"
    db.session.rollback()
    order = db.session.get(Order, order.id)
    services.update_order(None, order, {"lines": [{"product_id": flour.id, "quantity": 2}]})
    commit()
    assert services.reserved_by_line(order) == {flour.id: 2}
    assert inventory.available_of(water, distributor.warehouse) == 10
    assert [e.kind for e in order.events] == ["placed", "edited", "edited"]
    transitions.pay(None, order, "cash")
    with pytest.raises(InvalidTransition):
        services.update_order(None, order, {"lines": [{"product_id": flour.id, "quantity": 1}]})
    db.session.rollback()
    assert not inventory.ledger_differences()
    check_passes(app)


def test_hq_assigns_an_unassigned_order_and_its_stock_is_reserved_then(app, network, place, make_user):
    county = network["county"]
    order = place(_client(app), {"customer": address("110105"), "product_id": network["product"].id, "quantity": 3})
    with pytest.raises(Forbidden):
        services.assign_distributor(make_user("distributor", distributor_id=county.id), order, county.id)
    db.session.rollback()
    services.assign_distributor(make_user("reviewer"), order, county.id)
    commit()
    assert (order.distributor_id, order.warehouse_id) == (county.id, county.warehouse.id)
    assert order.customer.distributor_id == county.id
    assert services.reserved_by_line(order) == {network["product"].id: 3}
    assert [e.kind for e in order.events] == ["placed", "routed"]
    with pytest.raises(Conflict):
        services.assign_distributor(None, order, network["city"].id)
    db.session.rollback()


def test_assigning_an_unassigned_order_checks_the_distributor_and_its_stock(app, network, place):
    county, city = network["county"], network["city"]
    order = place(None, {"customer": address("110105"), "product_id": network["product"].id, "quantity": 25})
    with pytest.raises(InsufficientStock):
        services.assign_distributor(None, order, county.id)
    db.session.rollback()
    order = db.session.get(Order, order.id)
    assert (order.distributor_id, order.warehouse_id) == (None, None)
    distributors.set_status(None, city, "suspended", reason="整改")
    commit()
    with pytest.raises(Conflict) as caught:
        services.assign_distributor(None, order, city.id)
    assert caught.value.code == "distributor_inactive"
    db.session.rollback()
    order = db.session.get(Order, order.id)
    transitions.cancel(None, order, "客户取消")
    commit()
    with pytest.raises(InvalidTransition):
        services.assign_distributor(None, order, county.id)
    db.session.rollback()


def test_orders_are_scoped_to_their_distributor(app, network, place, make_user):
    county, city = network["county"], network["city"]
    own = place(None, {"distributor_id": county.id, "product_id": network["product"].id, "quantity": 1})
    foreign = place(None, {"distributor_id": city.id, "product_id": network["product"].id, "quantity": 1})
    staff = make_user("distributor", distributor_id=county.id)
    assert services.get_order(staff, own.id) is own
    for order_id in (foreign.id, 999999, "1", True, 0, 2**31):
        with pytest.raises(NotFound):
            services.get_order(staff, order_id)
    assert set(db.session.scalars(services.orders_query(make_user("reviewer")))) == {own, foreign}
    assert list(db.session.scalars(services.orders_query(staff))) == [own]
    assert list(db.session.scalars(services.orders_query(make_user("courier", distributor_id=county.id)))) == []


def test_an_order_whose_stock_disagrees_with_its_state_is_found(app, shop, place):
    order = place(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id, "quantity": 3})
    check_passes(app)
    assert services.stock_differences() == []
    # An order cancelled behind the services' back still holds its reservation: the check says so.
    db.session.execute(Order.__table__.update().where(Order.id == order.id).values(status="cancelled"))
    db.session.commit()
    problems = services.stock_differences()
    assert len(problems) == 1 and order.reference in problems[0]
    result = app.test_cli_runner().invoke(args=["dms", "check"])
    assert result.exit_code == 1, result.output


def _client(app):
    """An integration client (the mini-program) as the API sees it: a Principal without a distributor."""
    from dms.api.principal import Principal
    from dms.api.services import create_client

    client, _secret = create_client(None, name="小程序")
    commit()
    return Principal(kind="client", subject=f"client:{client.client_id}", name=client.name,
                     roles=[client.role.code], permissions=frozenset(client.permissions), distributor_id=None,
                     client=client)
