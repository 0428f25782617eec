"""Stocktake services: the snapshot, counts, posting differences as movements (all or nothing), scope, races."""

import pytest
from sqlalchemy import func, select

from dms.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InsufficientStock,
    InvalidTransition,
    NotFound,
    ValidationError,
)
from dms.core.models import AuditLog
from dms.extensions import db
from dms.inventory import services, stocktakes
from dms.inventory.models import StockMovement, Stocktake
from tests.concurrency import race


def on_hand(warehouse, product, batch) -> int:
    row = services.get_balance(warehouse, product, batch)
    return row.on_hand if row else 0


def count_movements(stocktake) -> list[StockMovement]:
    return list(db.session.scalars(select(StockMovement).where(
        StockMovement.source_type == "stocktake", StockMovement.source_id == str(stocktake.id))
        .order_by(StockMovement.id)))


def line_of(stocktake, product, batch=None):
    return next(line for line in stocktake.lines
                if line.product_id == product.id and (batch is None or line.batch_id == batch.id))


@pytest.fixture
def admin(make_user):
    return make_user("admin")


# --- opening: the snapshot ----------------------------------------------------------------------

def test_open_snapshots_every_batch_on_hand(admin, make_product, make_distributor, stock, hq_warehouse, days):
    plain, tracked, serial = make_product(), make_product(tracking="batch"), make_product(tracking="serial")
    stock(plain, 5)
    early, late = stock(tracked, 3, "E", days(5)), stock(tracked, 4, "L", days(50))
    services.receive(None, hq_warehouse, [{"product": serial, "batch_code": "S1", "serials": ["VIN1", "VIN2"]}])
    emptied = stock(tracked, 2, "GONE", days(9))
    services.write_off(None, hq_warehouse, tracked, emptied, 2, "damaged")
    services.reserve(None, hq_warehouse, plain, 2, "order", 1)
    elsewhere = make_distributor()
    stock(plain, 7, warehouse=elsewhere.warehouse)
    db.session.commit()

    stocktake = stocktakes.open_stocktake(admin, hq_warehouse, " yearly ")
    db.session.commit()

    got = {(line.product_id, line.batch.code): (line.expected, line.counted) for line in stocktake.lines}
    assert got == {(plain.id, ""): (5, None), (tracked.id, "E"): (3, None), (tracked.id, "L"): (4, None)}, \
        "on hand (reserved included), no serial units, no empty balance, no other warehouse"
    assert stocktake.status == "open" and stocktake.note == "yearly" and stocktake.opened_by_id == admin.id
    assert [line.batch_id for line in stocktakes.sorted_lines(stocktake) if line.product_id == tracked.id] == \
        [early.id, late.id]
    assert db.session.scalar(select(AuditLog.action).where(AuditLog.record_type == "stocktake")) == "stocktake.opened"


def test_one_open_stocktake_per_warehouse(admin, make_distributor, hq_warehouse):
    first = stocktakes.open_stocktake(admin, hq_warehouse)
    db.session.commit()
    with pytest.raises(Conflict):
        stocktakes.open_stocktake(admin, hq_warehouse)
    db.session.rollback()
    other = stocktakes.open_stocktake(admin, make_distributor().warehouse)  # another warehouse may count
    stocktakes.cancel_stocktake(admin, first)
    again = stocktakes.open_stocktake(admin, hq_warehouse)
    db.session.commit()
    assert {other.status, again.status} == {"open"} and first.status == "cancelled"


def test_opening_an_empty_warehouse_gives_no_lines(admin, make_distributor):
    stocktake = stocktakes.open_stocktake(admin, make_distributor().warehouse)
    assert stocktake.lines == []
    assert stocktakes.differences(stocktake) == ([], [])


# --- counting -----------------------------------------------------------------------------------

def test_record_counts_refuses_bad_values_and_saves_nothing(admin, make_product, stock, hq_warehouse):
    a, b = make_product(), make_product()
    stock(a, 5)
    stock(b, 6)
    stocktake = stocktakes.open_stocktake(admin, hq_warehouse)
    db.session.commit()
    la, lb = line_of(stocktake, a), line_of(stocktake, b)
    for bad in (-1, "7", 2.5, True, 10**10):
        with pytest.raises(ValidationError) as error:
            stocktakes.record_counts(admin, stocktake, {la.id: 4, lb.id: bad})
        assert list(error.value.fields) == [f"counted-{lb.id}"]
        db.session.rollback()
        assert la.counted is None
    with pytest.raises(ValidationError) as error:
        stocktakes.record_counts(admin, stocktake, {999999: 1})
    assert "counted-999999" in error.value.fields
    db.session.rollback()

    stocktakes.record_counts(admin, stocktake, {la.id: 4, lb.id: 0})
    db.session.commit()
    assert (la.counted, lb.counted) == (4, 0)
    stocktakes.record_counts(admin, stocktake, {la.id: None})  # "not counted" again
    db.session.commit()
    assert la.counted is None
    changed, uncounted = stocktakes.differences(stocktake)
    assert changed == [lb] and uncounted == [la]


def test_add_line_for_stock_not_on_the_books(admin, make_product, stock, hq_warehouse, days):
    listed, found, serial = make_product(tracking="batch"), make_product(tracking="batch"), \
        make_product(tracking="serial")
    batch = stock(listed, 2, "B1", days(30))
    stocktake = stocktakes.open_stocktake(admin, hq_warehouse)
    db.session.commit()

    line = stocktakes.add_line(admin, stocktake, found, "NEW", days(60), 3)
    db.session.commit()
    assert (line.expected, line.counted, line.batch.code, line.batch.expiry_date) == (0, 3, "NEW", days(60))
    assert len(stocktake.lines) == 2

    for product, code, counted, field in [(None, "X", 1, "sku"), (serial, "S", 1, "sku"), (found, "", 1, "batch"),
                                          (found, "N2", -1, "counted"), (found, "N2", None, "counted"),
                                          (found, "NEW", 1, "expiry_date")]:
        with pytest.raises(ValidationError) as error:
            stocktakes.add_line(admin, stocktake, product, code, days(61) if code == "NEW" else None, counted)
        assert field in error.value.fields, (product, code, counted)
        db.session.rollback()
    with pytest.raises(Conflict):
        stocktakes.add_line(admin, stocktake, listed, batch.code, None, 5)
    db.session.rollback()
    assert len(stocktake.lines) == 2


# --- posting ------------------------------------------------------------------------------------

def test_post_applies_each_difference_as_one_count_movement(admin, make_product, stock, hq_warehouse, days):
    short, extra, exact, found = make_product(), make_product(tracking="batch"), make_product(), \
        make_product(tracking="batch")
    b_short, b_extra, b_exact = stock(short, 10), stock(extra, 4, "X", days(20)), stock(exact, 7)
    stocktake = stocktakes.open_stocktake(admin, hq_warehouse)
    stocktakes.record_counts(admin, stocktake, {line_of(stocktake, short).id: 8, line_of(stocktake, extra).id: 6,
                                                line_of(stocktake, exact).id: 7})
    new = stocktakes.add_line(admin, stocktake, found, "F1", None, 2)
    db.session.commit()

    moved = stocktakes.post_stocktake(admin, stocktake)
    db.session.commit()

    assert len(moved) == 3
    movements = count_movements(stocktake)
    assert sorted((m.product_id, m.kind, m.on_hand_delta, m.reserved_delta) for m in movements) == sorted(
        [(short.id, "count", -2, 0), (extra.id, "count", 2, 0), (found.id, "count", 2, 0)])
    assert all(m.actor_id == admin.id for m in movements)
    assert on_hand(hq_warehouse, short, b_short) == 8 and on_hand(hq_warehouse, extra, b_extra) == 6
    assert on_hand(hq_warehouse, exact, b_exact) == 7 and on_hand(hq_warehouse, found, new.batch) == 2
    assert line_of(stocktake, exact).movement_id is None
    assert {line_of(stocktake, p).movement_id for p in (short, extra, found)} == {m.id for m in movements}
    assert stocktake.status == "posted" and stocktake.closed_by_id == admin.id and stocktake.closed_at is not None
    assert services.ledger_differences() == []
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "stocktake.posted")) == 1


def test_movements_during_the_count_are_kept(admin, make_product, stock, hq_warehouse):
    product = make_product()
    batch = stock(product, 10)
    stocktake = stocktakes.open_stocktake(admin, hq_warehouse)
    db.session.commit()
    # While people count: 5 received, 2 sent, 1 reserved.
    stock(product, 5)
    services.issue(None, hq_warehouse, product, 2, "order", 1, from_reserved=False)
    services.reserve(None, hq_warehouse, product, 1, "order", 2)
    db.session.commit()
    stocktakes.record_counts(admin, stocktake, {line_of(stocktake, product).id: 8})  # 2 missing at opening
    stocktakes.post_stocktake(admin, stocktake)
    db.session.commit()
    row = services.get_balance(hq_warehouse, product, batch)
    assert (row.on_hand, row.reserved) == (10 + 5 - 2 - 2, 1)
    assert services.ledger_differences() == []


def test_post_rolls_back_whole_when_one_adjustment_fails(admin, make_product, stock, hq_warehouse):
    fine, tight = make_product(), make_product()
    b_fine, b_tight = stock(fine, 3), stock(tight, 5)
    stocktake = stocktakes.open_stocktake(admin, hq_warehouse)
    stocktakes.record_counts(admin, stocktake, {line_of(stocktake, fine).id: 6, line_of(stocktake, tight).id: 1})
    db.session.commit()
    services.reserve(None, hq_warehouse, tight, 3, "order", 9)  # after the count: 5 - 4 would leave 1 < 3 reserved
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(StockMovement))

    with pytest.raises(InsufficientStock):
        stocktakes.post_stocktake(admin, stocktake)
    db.session.rollback()

    assert on_hand(hq_warehouse, fine, b_fine) == 3 and on_hand(hq_warehouse, tight, b_tight) == 5
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == before
    db.session.refresh(stocktake)
    assert stocktake.status == "open" and all(line.movement_id is None for line in stocktake.lines)
    services.release(None, hq_warehouse, tight, None, "order", 9)
    stocktakes.post_stocktake(admin, stocktake)  # fixed: posts now
    db.session.commit()
    assert on_hand(hq_warehouse, tight, b_tight) == 1 and services.ledger_differences() == []


def test_uncounted_lines_block_posting_unless_kept(admin, make_product, stock, hq_warehouse):
    counted, skipped = make_product(), make_product()
    stock(counted, 4)
    b_skipped = stock(skipped, 9)
    stocktake = stocktakes.open_stocktake(admin, hq_warehouse)
    stocktakes.record_counts(admin, stocktake, {line_of(stocktake, counted).id: 5})
    db.session.commit()
    with pytest.raises(ValidationError) as error:
        stocktakes.post_stocktake(admin, stocktake)
    assert "keep_uncounted" in error.value.fields
    db.session.rollback()
    assert count_movements(stocktake) == []
    stocktakes.post_stocktake(admin, stocktake, keep_uncounted=True)
    db.session.commit()
    assert [m.product_id for m in count_movements(stocktake)] == [counted.id]
    assert on_hand(hq_warehouse, skipped, b_skipped) == 9 and line_of(stocktake, skipped).counted is None


def test_closed_stocktakes_cannot_change(admin, make_product, stock, hq_warehouse):
    product = make_product()
    stock(product, 4)
    stocktake = stocktakes.open_stocktake(admin, hq_warehouse)
    line = line_of(stocktake, product)
    stocktakes.record_counts(admin, stocktake, {line.id: 3})
    stocktakes.post_stocktake(admin, stocktake)
    db.session.commit()
    for attempt in (lambda: stocktakes.post_stocktake(admin, stocktake),
                    lambda: stocktakes.cancel_stocktake(admin, stocktake),
                    lambda: stocktakes.record_counts(admin, stocktake, {line.id: 1}),
                    lambda: stocktakes.add_line(admin, stocktake, product, None, None, 1)):
        with pytest.raises(InvalidTransition) as error:
            attempt()
        assert error.value.status == 409
        db.session.rollback()
    assert len(count_movements(stocktake)) == 1 and line.counted == 3

    cancelled = stocktakes.open_stocktake(admin, hq_warehouse)
    stocktakes.cancel_stocktake(admin, cancelled)
    db.session.commit()
    with pytest.raises(InvalidTransition):
        stocktakes.post_stocktake(admin, cancelled)


# --- scope and permission -----------------------------------------------------------------------

def test_scope(make_user, make_distributor, make_product, stock, hq_warehouse):
    mine, theirs = make_distributor("110105"), make_distributor("110106")
    staff, reviewer = make_user("distributor", distributor_id=mine.id), make_user("reviewer")
    product = make_product()
    stock(product, 3, warehouse=theirs.warehouse)
    own = stocktakes.open_stocktake(staff, mine.warehouse)
    foreign = stocktakes.open_stocktake(make_user("admin"), theirs.warehouse)
    db.session.commit()

    assert stocktakes.get_stocktake(staff, own.id).id == own.id
    with pytest.raises(NotFound):
        stocktakes.get_stocktake(staff, foreign.id)
    for warehouse in (theirs.warehouse, hq_warehouse):
        with pytest.raises(NotFound):
            stocktakes.open_stocktake(staff, warehouse)
    with pytest.raises(NotFound):
        stocktakes.record_counts(staff, foreign, {foreign.lines[0].id: 1})
    assert [s.id for s in db.session.scalars(stocktakes.stocktakes_query(staff))] == [own.id]
    # HQ reviewers see every count but change none.
    assert stocktakes.get_stocktake(reviewer, foreign.id).id == foreign.id
    with pytest.raises(Forbidden):
        stocktakes.record_counts(reviewer, foreign, {foreign.lines[0].id: 1})
    with pytest.raises(Forbidden):
        stocktakes.post_stocktake(reviewer, foreign, keep_uncounted=True)


# --- races --------------------------------------------------------------------------------------

def _at_once(app, work, count: int) -> list:
    """Run work() in `count` threads released together, each its own transaction; [(outcome, value)]."""
    return race(app, count, lambda _n: work(), {DomainError: lambda exc: type(exc).__name__})


def test_concurrent_opens_leave_one_open_stocktake(app, admin, make_product, stock, hq_warehouse):
    stock(make_product(), 3)
    admin_id, warehouse_id = admin.id, hq_warehouse.id

    def work():
        from dms.accounts.models import User
        from dms.distributors.models import Warehouse

        return stocktakes.open_stocktake(db.session.get(User, admin_id), db.session.get(Warehouse, warehouse_id)).id

    results = _at_once(app, work, 4)
    assert sorted(r[0] for r in results) == ["Conflict"] * 3 + ["won"], results
    assert db.session.scalar(select(func.count()).select_from(Stocktake)) == 1


def test_concurrent_posts_post_once(app, admin, make_product, stock, hq_warehouse):
    product = make_product()
    batch = stock(product, 6)
    stocktake = stocktakes.open_stocktake(admin, hq_warehouse)
    stocktakes.record_counts(admin, stocktake, {stocktake.lines[0].id: 4})
    db.session.commit()
    admin_id, stocktake_id = admin.id, stocktake.id

    def work():
        from dms.accounts.models import User

        return len(stocktakes.post_stocktake(db.session.get(User, admin_id), db.session.get(Stocktake, stocktake_id)))

    results = _at_once(app, work, 3)
    assert sorted(r[0] for r in results) == ["InvalidTransition"] * 2 + ["won"], results
    db.session.expire_all()
    assert on_hand(hq_warehouse, product, batch) == 4 and len(count_movements(stocktake)) == 1
    assert services.ledger_differences() == []
