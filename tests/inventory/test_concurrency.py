"""Concurrent writers on the same small stock: never more taken than there is (SQLite and PostgreSQL).

Each thread is one request: its own application context, database session and transaction. They
are released together by a barrier so their allocations really overlap; the conditional update in
`services.move` is what lets only as many win as the stock allows.
"""

import pytest
from sqlalchemy import func, select

from dms.catalog.models import Product
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import services
from dms.inventory.models import StockMovement
from tests.concurrency import race


def _ids(product, warehouse):
    return product.id, warehouse.id


@pytest.mark.parametrize("threads,each", [(2, 3), (4, 2), (8, 1)])
def test_concurrent_reservations_never_exceed_stock(app, make_product, stock, hq_warehouse, days, threads, each):
    product = make_product(tracking="batch")
    stock(product, 2, "A", days(3))
    stock(product, 3, "B", days(8))  # 5 in all, split over two batches
    product_id, warehouse_id = _ids(product, hq_warehouse)

    def work(n):
        return services.reserve(None, db.session.get(Warehouse, warehouse_id), db.session.get(Product, product_id),
                                each, "order", n)

    results = race(app, threads, work)
    won = [r for r in results if r[0] == "won"]
    assert len(won) == min(threads, 5 // each)
    assert len(results) - len(won) == threads - len(won)  # every loser got InsufficientStock
    db.session.expire_all()
    reserved = sum(b.reserved for b in services.stock_of(product))
    assert reserved == len(won) * each <= 5
    assert services.ledger_differences() == []


def test_concurrent_direct_issues_and_reservations(app, make_product, stock, hq_warehouse, days):
    product = make_product(tracking="batch")
    stock(product, 3, "A", days(3))
    stock(product, 3, "B", days(4))
    product_id, warehouse_id = _ids(product, hq_warehouse)

    def work(n):
        warehouse, item = db.session.get(Warehouse, warehouse_id), db.session.get(Product, product_id)
        if n % 2:
            return services.issue(None, warehouse, item, 2, "sale", n, from_reserved=False)
        return services.reserve(None, warehouse, item, 2, "order", n)

    results = race(app, 6, work)
    assert sum(1 for r in results if r[0] == "won") == 3
    db.session.expire_all()
    rows = services.stock_of(product, include_empty=True)
    taken = sum(3 - b.on_hand + b.reserved for b in rows)
    assert taken == 6 and all(b.on_hand >= b.reserved >= 0 for b in rows)
    assert services.ledger_differences() == []


def test_concurrent_identical_counts_record_one_difference(app, make_product, hq_warehouse):
    product = make_product()
    product_id, warehouse_id = _ids(product, hq_warehouse)

    def work(n):
        return services.set_count(None, db.session.get(Warehouse, warehouse_id), db.session.get(Product, product_id),
                                  "", 50)[0].on_hand

    results = race(app, 4, work)
    assert [r for r in results] == [("won", 50)] * 4
    db.session.expire_all()
    assert [b.on_hand for b in services.stock_of(product)] == [50]
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 1
    assert services.ledger_differences() == []


def test_concurrent_first_receipts_create_one_balance(app, make_product, hq_warehouse, days):
    product = make_product(tracking="batch")
    product_id, warehouse_id = _ids(product, hq_warehouse)

    def work(n):
        return len(services.receive(None, db.session.get(Warehouse, warehouse_id), [
            {"product": db.session.get(Product, product_id), "quantity": 1, "batch_code": "NEW",
             "expiry_date": days(30)}]))

    race(app, 4, work)
    db.session.expire_all()
    assert [(b.batch.code, b.on_hand) for b in services.stock_of(product)] == [("NEW", 4)]
    assert services.ledger_differences() == []
