"""The Redis read-through cache: a hit until a commit writes one of the value's tables; no Redis, no cache, no error."""

import time
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import update

from tests.core.conftest import CLOSED_REDIS_URL


@pytest.fixture
def counted():
    """counted(value) -> a compute function that counts its calls in .calls."""

    class Counter:
        def __init__(self, value):
            self.value, self.calls = value, 0

        def __call__(self):
            self.calls += 1
            return self.value

    return Counter


@pytest.mark.redis
def test_a_value_is_computed_once_until_its_table_is_written(app, redis_url, counted, make_product):
    from dms.core import cache
    from dms.extensions import db

    compute = counted({"total": Decimal("12.50"), "n": 3})
    assert cache.cached("t", ["products"], "x", compute) == {"total": Decimal("12.50"), "n": 3}
    assert cache.cached("t", ["products"], "x", compute) == {"total": Decimal("12.50"), "n": 3}
    assert compute.calls == 1
    assert cache.cached("t", ["products"], "other args", compute) and compute.calls == 2

    make_product()  # an ORM insert into products, committed
    cache.cached("t", ["products"], "x", compute)
    assert compute.calls == 3
    db.session.rollback()


@pytest.mark.redis
def test_an_orm_update_statement_invalidates_too(app, redis_url, counted, make_product):
    from dms.catalog.models import Product
    from dms.core import cache
    from dms.core.jobs import commit
    from dms.extensions import db

    product = make_product()
    compute = counted(1)
    cache.cached("t", ["products"], "", compute)
    db.session.execute(update(Product).where(Product.id == product.id).values(name="改名"))
    commit()
    cache.cached("t", ["products"], "", compute)
    assert compute.calls == 2


@pytest.mark.redis
def test_a_rolled_back_write_and_other_tables_keep_the_value(app, redis_url, counted, make_product):
    from dms.catalog.models import Product
    from dms.core import cache
    from dms.extensions import db

    product = make_product()
    compute = counted(1)
    cache.cached("t", ["products"], "", compute)
    db.session.get(Product, product.id).name = "不保存"
    db.session.flush()
    db.session.rollback()
    cache.cached("t", ["products"], "", compute)
    cache.bump("orders")
    cache.cached("t", ["products"], "", compute)
    assert compute.calls == 1
    cache.bump("products")
    cache.cached("t", ["products"], "", compute)
    assert compute.calls == 2


def test_without_redis_every_read_computes(app, counted):
    from dms.core import cache

    app.config["REDIS_URL"] = None
    compute = counted(7)
    assert [cache.cached("t", ["products"], "", compute) for _n in range(3)] == [7, 7, 7]
    assert compute.calls == 3
    assert not cache.available()


def test_redis_down_is_no_error_and_no_wait(app, counted):
    from dms.core import cache

    app.config.update(REDIS_URL=CLOSED_REDIS_URL, DMS_CACHE_RETRY_AFTER=30)
    cache._down_until.clear()
    compute = counted(7)
    started = time.monotonic()
    assert [cache.cached("t", ["products"], "", compute) for _n in range(20)] == [7] * 20
    cache.bump("products")
    assert compute.calls == 20
    assert time.monotonic() - started < 2  # one failed connect, then the cache stays off for a while
    app.config["REDIS_URL"] = None
    cache._down_until.clear()


@pytest.mark.redis
def test_the_network_payable_tile_follows_new_commission_entries(app, redis_url, make_distributor, make_user):
    from redis import Redis

    from dms.commissions.models import CommissionEntry
    from dms.core import cache
    from dms.extensions import db
    from dms.reports.dashboards import dashboard

    distributor, admin = make_distributor("110105"), make_user("admin")

    def add(amount):
        db.session.add(CommissionEntry(beneficiary_id=distributor.id, kind="adjustment", amount=Decimal(amount),
                                       period="2026-10", status="payable", available_on=date(2026, 10, 1),
                                       reason="test"))
        db.session.commit()

    add("5.00")
    assert dashboard(admin).commission_payable == Decimal("5.00")
    assert cache.available()
    stored = list(Redis.from_url(redis_url).scan_iter("dms:cache:*network-payable*"))
    assert len(stored) == 1  # the figure went to Redis ...
    assert dashboard(admin).commission_payable == Decimal("5.00")  # ... and is read from there
    add("2.50")
    assert dashboard(admin).commission_payable == Decimal("7.50")
