"""Inventory fixtures: pages in English; stock(...) receives stock and commits; days(n) is a business date."""

from datetime import timedelta

import pytest


@pytest.fixture(autouse=True)
def pages_in_english(english):
    """Every test here reads the pages in English."""


@pytest.fixture
def days(app):
    """days(n) -> the business date n days from today (negative: in the past)."""
    from dms.core.time import business_today

    return lambda n: business_today() + timedelta(days=n)


@pytest.fixture
def stock(app, hq_warehouse):
    """stock(product, quantity, code="", expiry=None, warehouse=None) -> the batch, received and committed."""
    from dms.extensions import db
    from dms.inventory import services

    def receive(product, quantity, code="", expiry=None, warehouse=None):
        warehouse = warehouse or hq_warehouse
        movement, = services.receive(None, warehouse, [{"product": product, "quantity": quantity,
                                                        "batch_code": code, "expiry_date": expiry}])
        db.session.commit()
        return movement.batch

    return receive
