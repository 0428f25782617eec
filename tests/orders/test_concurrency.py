"""Concurrent orders on the same small stock: never oversold, never a deadlock, one winner per transition.

Each thread is one request: its own application context, session and transaction, released together
by a barrier so their reservations really overlap. The 50-writer cases need PostgreSQL (SQLite has a
single writer, and its 5-second busy timeout is no place for 50 queued transactions); smaller versions
run on both engines. `flask dms check` must pass after every case.
"""

import pytest
from sqlalchemy import func, select

from dms.catalog.models import Product
from dms.core.errors import InsufficientStock, InvalidTransition
from dms.core.jobs import commit
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.inventory import services as inventory
from dms.orders import services, transitions
from dms.orders.models import Order, OrderPayment
from tests.concurrency import race


@pytest.fixture
def engine_name(app):
    return db.engine.dialect.name


def run_all(app, work, count: int) -> list[tuple[str, object]]:
    """Run work(n) in `count` threads at once, each its own request, ending in `commit()` (jobs dispatched)."""
    return race(app, count, work, {InsufficientStock: "short", InvalidTransition: "invalid"}, commit=commit,
                barrier=10, timeout=60)


def outcomes(results) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome, _value in results:
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def assert_consistent(app):
    db.session.expire_all()
    assert inventory.ledger_differences() == []
    assert services.stock_differences() == []
    result = app.test_cli_runner().invoke(args=["dms", "check"])
    assert result.exit_code == 0, result.output


@pytest.fixture
def stocked(app, make_distributor, make_product):
    """stocked(*quantities) -> (distributor id, [product ids]): one product per quantity, in its warehouse."""

    def make(*quantities):
        distributor = make_distributor("440605")
        products = [make_product(price="10.00") for _q in quantities]
        inventory.receive(None, distributor.warehouse, [{"product": p, "quantity": q}
                                                         for p, q in zip(products, quantities, strict=True)])
        commit()
        return distributor.id, [p.id for p in products]

    return make


# The large cases need real parallel writers (PostgreSQL); SQLite runs the small ones (one writer at a time).
@pytest.mark.parametrize("buyers,units", [pytest.param(50, 10, marks=pytest.mark.postgresql), (8, 3)])
def test_concurrent_orders_for_the_last_units_place_exactly_that_many(app, stocked, buyers, units):
    distributor_id, (product_id,) = stocked(units)

    def work(n):
        return services.place_order(None, {"distributor_id": distributor_id, "product_id": product_id,
                                           "quantity": 1, "total_price": "10.00"}).id

    results = run_all(app, work, buyers)
    assert outcomes(results) == {"won": units, "short": buyers - units}
    placed = [value for outcome, value in results if outcome == "won"]
    assert sorted(db.session.scalars(select(Order.id))) == sorted(placed)  # the short ones left no order behind
    warehouse = db.session.get(Distributor, distributor_id).warehouse
    balance, = inventory.stock_of(db.session.get(Product, product_id), warehouse)
    assert (balance.on_hand, balance.reserved) == (units, units)
    assert_consistent(app)


@pytest.mark.parametrize("buyers,units", [pytest.param(30, 12, marks=pytest.mark.postgresql), (6, 4)])
def test_multi_line_orders_in_opposite_orders_never_deadlock(app, stocked, buyers, units):
    distributor_id, (a, b) = stocked(units, units)

    def work(n):
        first, second = (a, b) if n % 2 else (b, a)
        return services.place_order(None, {"distributor_id": distributor_id, "lines": [
            {"product_id": first, "quantity": 1}, {"product_id": second, "quantity": 1}]}).id

    results = run_all(app, work, buyers)
    assert outcomes(results) == {"won": units, "short": buyers - units}
    reserved = db.session.execute(select(func.count()).select_from(Order)).scalar()
    assert reserved == units
    assert_consistent(app)


@pytest.mark.postgresql
def test_concurrent_edits_and_new_orders_share_the_stock_exactly(app, stocked):
    distributor_id, (product_id,) = stocked(20)
    # Ten pending orders of 1 each; then ten editors raise theirs to 2 while ten new buyers want 1 each.
    ids = [services.place_order(None, {"distributor_id": distributor_id, "product_id": product_id,
                                       "quantity": 1}).id for _n in range(10)]
    commit()

    def work(n):
        if n < 10:
            order = db.session.get(Order, ids[n])
            return services.update_order(None, order, {"lines": [{"product_id": product_id, "quantity": 2}]}).id
        return services.place_order(None, {"distributor_id": distributor_id, "product_id": product_id,
                                           "quantity": 1}).id

    results = run_all(app, work, 20)
    db.session.expire_all()
    edited = sum(1 for n, r in enumerate(results) if n < 10 and r[0] == "won")
    placed = sum(1 for n, r in enumerate(results) if n >= 10 and r[0] == "won")
    reserved = sum(line.quantity for order in db.session.scalars(select(Order)) for line in order.lines)
    assert reserved == 10 + edited + placed <= 20
    assert edited + placed == 10  # the ten spare units all went, to one side or the other
    assert_consistent(app)


@pytest.mark.parametrize("people", [2, pytest.param(6, marks=pytest.mark.postgresql)])
def test_only_one_of_several_people_paying_one_order_wins(app, stocked, people):
    distributor_id, (product_id,) = stocked(5)
    order_id = services.place_order(None, {"distributor_id": distributor_id, "product_id": product_id,
                                           "quantity": 1}).id
    commit()

    def work(n):
        return transitions.pay(None, db.session.get(Order, order_id), "cash", reference=f"r{n}").id

    results = run_all(app, work, people)
    assert outcomes(results) == {"won": 1, "invalid": people - 1}
    assert db.session.scalar(select(func.count()).select_from(OrderPayment)) == 1
    assert_consistent(app)


def test_cancel_and_ship_racing_on_one_order_leave_the_stock_right(app, stocked, make_user, engine_name):
    distributor_id, (product_id,) = stocked(5)
    courier = make_user("courier", distributor_id=distributor_id)
    order = services.place_order(None, {"distributor_id": distributor_id, "product_id": product_id, "quantity": 3})
    transitions.pay(None, order, "cash")
    transitions.assign_courier(None, order, courier.id)
    commit()
    order_id = order.id

    def work(n):
        order = db.session.get(Order, order_id)
        return (transitions.cancel(None, order, "取消") if n % 2 else transitions.ship(None, order)).status

    results = run_all(app, work, 2 if engine_name == "sqlite" else 8)
    winners = [value for outcome, value in results if outcome == "won"]
    assert len(winners) == 1 and outcomes(results)["invalid"] == len(results) - 1
    db.session.expire_all()
    balance, = inventory.stock_of(db.session.get(Product, product_id),
                                  db.session.get(Distributor, distributor_id).warehouse)
    assert (balance.on_hand, balance.reserved) == ((2, 0) if winners == ["shipped"] else (5, 0))
    assert_consistent(app)
