"""Customers fixtures: two distributors with customers, and helpers to make customers through the services."""

import itertools

import pytest

_phones = itertools.count(1)


def fresh_phone() -> str:
    """A mobile number no other test customer has."""
    return f"139{next(_phones):08d}"


@pytest.fixture
def new_customer(app):
    """new_customer(distributor, **data) -> Customer: made through the CRM service and committed."""
    from dms.core.jobs import commit
    from dms.customers import services

    def make(distributor, **data):
        payload = {"name": "客户", "phone": fresh_phone(), "region_code": distributor.region_code,
                   "street": "", "address": "1号"}
        payload.update(data)
        customer = services.create_customer(None, distributor.id if distributor else None, payload)
        commit()
        return customer

    return make


@pytest.fixture
def crm(make_distributor, make_user):
    """Two distributors (番禺区 and 天河区), a manager of each, an HQ admin and an HQ reviewer (no phones)."""
    first, second = make_distributor("440113"), make_distributor("440106")
    return {"first": first, "second": second,
            "staff": make_user("distributor", distributor_id=first.id),
            "other": make_user("distributor", distributor_id=second.id),
            "admin": make_user("admin"), "reviewer": make_user("reviewer")}
