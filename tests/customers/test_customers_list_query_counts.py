"""The customers list runs a fixed number of SQL statements whatever the page holds (no N+1), for HQ and a
distributor: 3 rows and then 30, each with its own owner, region, tag (and, for HQ, distributor)."""

import pytest
from sqlalchemy import select

from dms.customers.models import Customer, CustomerTag
from dms.extensions import db
from dms.territories.models import Region
from tests.sql_recorder import assert_flat_queries


@pytest.fixture
def add_customers(app, make_distributor, make_user):
    """add_customers(n, distributor=None) -> customers, each with its own owner, county and tag."""
    counties = list(db.session.scalars(select(Region.code).where(Region.level == "county").order_by(Region.code)))
    used = {"n": 0}

    def add(n, distributor=None):
        made = []
        for _n in range(n):
            owner_of = distributor or make_distributor()
            owner = make_user("distributor", distributor_id=owner_of.id)
            used["n"] += 1
            customer = Customer(distributor_id=owner_of.id, name=f"客户{used['n']}", phone=f"139{used['n']:08d}",
                                owner_id=owner.id, region_code=counties[used["n"] * 37 % len(counties)])
            customer.tags.append(CustomerTag(name=f"标签{used['n']}"))
            made.append(customer)
        db.session.add_all(made)
        db.session.commit()
        return made

    return add


def test_hq_list_takes_as_many_queries_for_30_rows_as_for_3(client, login_as, add_customers):
    add_customers(3)
    login_as("admin")
    html = assert_flat_queries(client, "/customers?per_page=50", lambda: add_customers(27),
                               'data-testid="customer-row"')
    assert "标签30" in html


def test_distributor_list_takes_as_many_queries_for_30_rows_as_for_3(client, login_distributor, add_customers,
                                                                     make_distributor):
    distributor = make_distributor()
    add_customers(3, distributor)
    add_customers(2)  # another distributor's, not shown
    login_distributor(distributor)
    assert_flat_queries(client, "/customers?per_page=50", lambda: add_customers(27, distributor),
                        'data-testid="customer-row"')


def test_the_region_shown_is_the_full_path(client, login_as, add_customers):
    customer, = add_customers(1)
    region = db.session.get(Region, customer.region_code)
    names = [region.name]
    while region.parent_code:
        region = db.session.get(Region, region.parent_code)
        names.insert(0, region.name)
    login_as("admin")
    assert " / ".join(names) in client.get("/customers").get_data(as_text=True)
