"""Network fixtures: completed orders written directly, a backdated tree, an HQ actor, a query counter."""

from datetime import datetime
from decimal import Decimal

import pytest

D = Decimal
PAST = datetime(2025, 1, 1)  # links backdated to here are in force for every month the tests look at


@pytest.fixture
def order(app):
    """order(distributor, total, completed_at, refunded_at=None) -> Order, written with the ORM (committed)."""
    from dms.extensions import db
    from dms.orders.models import Order

    def make(distributor, total, completed_at, refunded_at=None):
        row = Order(distributor_id=distributor.id, status="refunded" if refunded_at else "completed",
                    subtotal=D(total), total=D(total), created_at=completed_at, completed_at=completed_at,
                    refunded_at=refunded_at, ship_name="客户", ship_phone="13800000000")
        db.session.add(row)
        db.session.commit()
        return row

    return make


@pytest.fixture
def link(app):
    """link(distributor, upline, at=PAST): record the upline from `at` on, bypassing the move rules (committed)."""
    from dms.distributors.upline_history import link_upline
    from dms.extensions import db

    def make(distributor, upline, at=PAST):
        row = link_upline(distributor, upline.id if upline else None, at=at, note="test")
        db.session.commit()
        return row

    return make


@pytest.fixture
def tree(make_distributor, link):
    """A worked tree, linked since 2025: A -> (B -> D), C; and E, a root of its own."""
    nodes = {key: make_distributor(name=f"网络{key}") for key in "ABCDE"}
    link(nodes["B"], nodes["A"])
    link(nodes["C"], nodes["A"])
    link(nodes["D"], nodes["B"])
    return nodes


@pytest.fixture
def hq(make_user):
    """An HQ admin (every permission)."""
    return make_user("admin")
