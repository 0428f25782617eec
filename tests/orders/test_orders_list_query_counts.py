"""The orders list runs a fixed number of SQL statements whatever the page holds (no N+1), for HQ and a
distributor: 3 rows and then 30, each with its own customer, courier and (for HQ) distributor."""

import pytest

from dms.customers.models import Customer
from dms.extensions import db
from dms.orders.models import Order
from tests.sql_recorder import assert_flat_queries, request_statements


@pytest.fixture
def add_orders(app, make_distributor, make_user):
    """add_orders(n, distributor=None) -> orders, each with a new customer and courier (and distributor)."""

    def add(n, distributor=None):
        made = []
        for _n in range(n):
            owner = distributor or make_distributor()
            courier = make_user("courier", distributor_id=owner.id)
            customer = Customer(distributor_id=owner.id, name=f"客户{courier.id}", phone=f"139{courier.id:08d}")
            db.session.add(customer)
            db.session.flush()
            made.append(Order(status="assigned", distributor_id=owner.id, warehouse_id=owner.warehouse.id,
                              customer_id=customer.id, courier_id=courier.id, ship_name=customer.name,
                              ship_phone=customer.phone))
        db.session.add_all(made)
        db.session.commit()
        return made

    return add


def test_hq_list_takes_as_many_queries_for_30_rows_as_for_3(client, login_as, add_orders):
    add_orders(3)
    login_as("admin")
    assert_flat_queries(client, "/orders?per_page=50", lambda: add_orders(27),
                        'data-testid="order-row"')


def test_distributor_list_takes_as_many_queries_for_30_rows_as_for_3(client, login_distributor, add_orders,
                                                                     make_distributor):
    distributor = make_distributor()
    add_orders(3, distributor)
    add_orders(2)  # another distributor's, not shown
    login_distributor(distributor)
    assert_flat_queries(client, "/orders?per_page=50", lambda: add_orders(27, distributor),
                        'data-testid="order-row"')


def test_a_deep_cursor_page_takes_as_many_queries_as_the_first(client, login_as, add_orders):
    orders = add_orders(12)
    login_as("admin")
    first = request_statements(client, "/orders?per_page=5")
    deep = request_statements(client, f"/orders?per_page=5&after={orders[6].id}&page=2")
    assert len(deep) == len(first)
