"""Stock services: expiry, batches, FEFO, move's guard, counts, write-offs, serial units, the ledger check."""

import pytest
from sqlalchemy import func, select, update

from dms.core.errors import Conflict, InsufficientStock, NotFound, ValidationError
from dms.extensions import db
from dms.inventory import fefo, services
from dms.inventory.models import DEFAULT_BATCH, SerialUnit, StockBalance, StockMovement


def movements() -> int:
    return db.session.scalar(select(func.count()).select_from(StockMovement))


def balance(warehouse, product, batch) -> tuple[int, int]:
    row = services.get_balance(warehouse, product, batch)
    return (row.on_hand, row.reserved) if row else (0, 0)


# --- expiry ---------------------------------------------------------------------------------------

def test_expired_means_before_today(days):
    assert services.is_expired(days(-1))
    assert not services.is_expired(days(0)), "a batch expiring today can still be sold today"
    assert not services.is_expired(days(1))
    assert not services.is_expired(None)
    assert services.is_expired(days(5), on=days(6))


def test_near_expiry(make_product, stock, days):
    product = make_product(tracking="batch")
    soon, later = stock(product, 1, "S", days(10)), stock(product, 1, "L", days(90))
    gone = stock(product, 1, "G", days(-1))
    assert services.near_expiry(soon) and not services.near_expiry(later) and not services.near_expiry(gone)
    assert services.near_expiry(later, days=90)


# --- batches --------------------------------------------------------------------------------------

def test_batches(make_product, days):
    tracked, plain = make_product(tracking="batch"), make_product()
    with pytest.raises(ValidationError):
        services.get_or_create_batch(tracked, "")
    first = services.get_or_create_batch(tracked, " B1 ", days(30))
    assert first.code == "B1" and services.get_or_create_batch(tracked, "B1", days(30)).id == first.id
    assert services.get_or_create_batch(tracked, "B1").id == first.id  # no expiry given: found by code
    with pytest.raises(ValidationError) as error:
        services.get_or_create_batch(tracked, "B1", days(31))
    assert "expiry_date" in error.value.fields
    assert services.get_or_create_batch(plain, None).code == DEFAULT_BATCH
    assert services.get_or_create_batch(plain, "LOT-7", days(3)).code == "LOT-7"


def test_warehouse_for(make_distributor, make_user, hq_warehouse):
    mine, theirs = make_distributor("110105"), make_distributor("110106")
    admin, staff = make_user("admin"), make_user("distributor", distributor_id=mine.id)
    assert services.warehouse_for(admin).id == hq_warehouse.id
    assert services.warehouse_for(admin, theirs.warehouse.id).id == theirs.warehouse.id
    assert services.warehouse_for(staff).id == mine.warehouse.id
    assert services.warehouse_for(staff, mine.warehouse.id).id == mine.warehouse.id
    for foreign in (theirs.warehouse.id, hq_warehouse.id, 999999):
        with pytest.raises(NotFound):
            services.warehouse_for(staff, foreign)
    with pytest.raises(NotFound):
        services.warehouse_for(make_user("distributor"))  # works for no distributor


# --- FEFO -----------------------------------------------------------------------------------------

def test_fefo_splits_from_the_earliest_expiry(make_product, stock, hq_warehouse, days):
    product = make_product(tracking="batch")
    late, early, never = stock(product, 5, "LATE", days(60)), stock(product, 3, "EARLY", days(5)), \
        stock(product, 10, "NEVER")
    assert fefo.allocate(hq_warehouse, product, 7) == [(early, 3), (late, 4)]
    assert fefo.allocate(hq_warehouse, product, 10) == [(early, 3), (late, 5), (never, 2)]
    assert fefo.allocate(hq_warehouse, product, 2) == [(early, 2)]


def test_fefo_never_allocates_expired_but_today_is_fine(make_product, stock, hq_warehouse, days):
    product = make_product(tracking="batch")
    stock(product, 100, "OLD", days(-1))
    today = stock(product, 4, "TODAY", days(0))
    assert fefo.allocate(hq_warehouse, product, 4) == [(today, 4)]
    with pytest.raises(InsufficientStock) as error:
        fefo.allocate(hq_warehouse, product, 5)
    assert error.value.extra == {"available": 4, "requested": 5}
    assert fefo.allocate(hq_warehouse, product, 4, on=days(-3))[0][1] == 4  # on an earlier day OLD was fine


def test_fefo_counts_only_what_is_not_reserved(make_product, stock, hq_warehouse, days):
    product = make_product(tracking="batch")
    first, second = stock(product, 5, "A", days(5)), stock(product, 5, "B", days(6))
    assert services.reserve(None, hq_warehouse, product, 4, "order", 1) == [(first, 4)]
    assert fefo.allocate(hq_warehouse, product, 3) == [(first, 1), (second, 2)]


def test_reserve_short_changes_nothing(make_product, stock, hq_warehouse, days):
    product = make_product(tracking="batch")
    batch = stock(product, 3, "A", days(5))
    before = movements()
    with pytest.raises(InsufficientStock):
        services.reserve(None, hq_warehouse, product, 4, "order", 1)
    assert movements() == before and balance(hq_warehouse, product, batch) == (3, 0)


# --- move and the balance invariant --------------------------------------------------------------

def test_move_never_goes_negative(make_product, stock, hq_warehouse):
    product = make_product()
    batch = stock(product, 5)
    for on_hand, reserved in ((-6, 0), (0, 6), (0, -1), (-5, 1)):
        with pytest.raises(InsufficientStock):
            services.move(None, warehouse=hq_warehouse, product=product, batch=batch, kind="issue",
                          on_hand_delta=on_hand, reserved_delta=reserved)
    assert balance(hq_warehouse, product, batch) == (5, 0)
    other = make_product()
    with pytest.raises(InsufficientStock):  # no balance row at all
        services.move(None, warehouse=hq_warehouse, product=other, batch=services.get_or_create_batch(other, ""),
                      kind="issue", on_hand_delta=-1)


def test_reserve_release_issue_keep_the_ledger(make_product, stock, hq_warehouse, days):
    product = make_product(tracking="batch")
    a, b = stock(product, 5, "A", days(5)), stock(product, 5, "B", days(9))
    assert services.reserve(None, hq_warehouse, product, 7, "order", 1) == [(a, 5), (b, 2)]
    assert services.held_by(hq_warehouse, product, "order", 1) == [(a, 5), (b, 2)]
    assert services.issue(None, hq_warehouse, product, 6, "order", 1) == [(a, 5), (b, 1)]
    assert services.release(None, hq_warehouse, product, None, "order", 1) == [(b, 1)]
    assert services.held_by(hq_warehouse, product, "order", 1) == []
    with pytest.raises(Conflict):
        services.release(None, hq_warehouse, product, 1, "order", 1)
    assert services.issue(None, hq_warehouse, product, 2, "sale", "x", from_reserved=False) == [(b, 2)]
    db.session.commit()
    assert balance(hq_warehouse, product, a) == (0, 0) and balance(hq_warehouse, product, b) == (2, 0)
    assert services.ledger_differences() == []


def test_check_passes_after_a_mix_and_fails_after_a_direct_edit(app, make_product, stock, hq_warehouse, days,
                                                                make_distributor):
    product, plain = make_product(tracking="batch"), make_product()
    local = make_distributor().warehouse
    a = stock(product, 10, "A", days(3))
    stock(product, 4, "B", days(-2))
    stock(plain, 7, warehouse=local)
    services.reserve(None, hq_warehouse, product, 3, "sale", 9)
    services.write_off(None, hq_warehouse, product, a, 2, "damaged")
    services.set_count(None, local, plain, "", 5)
    services.issue(None, hq_warehouse, product, None, "sale", 9)
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["dms", "check"])
    assert result.exit_code == 0, result.output
    db.session.execute(update(StockBalance).where(StockBalance.batch_id == a.id).values(on_hand=99))
    db.session.commit()
    result = runner.invoke(args=["dms", "check"])
    assert result.exit_code == 1 and f"批次 {a.id}" in result.output and "99" in result.output  # zh_CN: the default
    assert [(d.on_hand, d.ledger_on_hand) for d in services.ledger_differences()] == [(99, 5)]


def test_database_refuses_negative_balances(make_product, stock, hq_warehouse):
    from sqlalchemy.exc import IntegrityError

    product = make_product()
    batch = stock(product, 1)
    with pytest.raises(IntegrityError):
        db.session.execute(update(StockBalance).where(StockBalance.batch_id == batch.id).values(on_hand=-1))
    db.session.rollback()


# --- counts and write-offs ------------------------------------------------------------------------

def test_set_count_records_the_difference_once(make_product, hq_warehouse, days):
    product = make_product(tracking="batch")
    row, movement = services.set_count(None, hq_warehouse, product, "B1", 50, days(100))
    assert (row.on_hand, row.reserved, movement.kind, movement.on_hand_delta) == (50, 0, "count", 50)
    assert services.set_count(None, hq_warehouse, product, "B1", 50, days(100))[1] is None
    row, movement = services.set_count(None, hq_warehouse, product, "B1", 45)
    assert row.on_hand == 45 and movement.on_hand_delta == -5
    services.reserve(None, hq_warehouse, product, 40, "order", 1)
    with pytest.raises(Conflict):
        services.set_count(None, hq_warehouse, product, "B1", 39)
    with pytest.raises(ValidationError):
        services.set_count(None, hq_warehouse, product, "B1", -1)
    assert services.set_count(None, hq_warehouse, product, "B1", 40)[0].available == 0
    assert services.ledger_differences() == []


def test_write_off_needs_a_reason(make_product, stock, hq_warehouse, days):
    product = make_product(tracking="batch")
    batch = stock(product, 5, "A", days(-3))
    for reason, note in (("", ""), ("lost", ""), ("other", " ")):
        with pytest.raises(ValidationError):
            services.write_off(None, hq_warehouse, product, batch, 1, reason, note)
    movement = services.write_off(None, hq_warehouse, product, batch, 5, "expired")
    assert movement.kind == "write_off" and movement.reason == "expired" and movement.on_hand_delta == -5
    with pytest.raises(InsufficientStock):
        services.write_off(None, hq_warehouse, product, batch, 1, "other", "fell off the truck")


def test_write_off_cannot_touch_reserved_stock(make_product, stock, hq_warehouse, days):
    product = make_product(tracking="batch")
    batch = stock(product, 5, "A", days(3))
    services.reserve(None, hq_warehouse, product, 4, "order", 1)
    with pytest.raises(InsufficientStock):
        services.write_off(None, hq_warehouse, product, batch, 2, "damaged")


def test_operations_check_permission_and_scope(make_product, make_user, make_distributor, hq_warehouse):
    from dms.core.errors import Forbidden

    product = make_product()
    mine, theirs = make_distributor("110105"), make_distributor("110106")
    staff = make_user("distributor", distributor_id=mine.id)
    services.set_count(staff, mine.warehouse, product, "", 3)
    with pytest.raises(NotFound):
        services.set_count(staff, theirs.warehouse, product, "", 3)
    with pytest.raises(Forbidden):
        services.set_count(make_user("reviewer"), hq_warehouse, product, "", 3)
    movement = db.session.scalars(select(StockMovement)).one()
    assert movement.actor_id == staff.id and movement.actor_label == staff.label


# --- serial units -----------------------------------------------------------------------------------

def test_receive_serial_units(make_product, hq_warehouse, make_distributor):
    car = make_product(name="轿车", tracking="serial")
    movements_made = services.receive(None, hq_warehouse, [{"product": car, "batch_code": "2026",
                                                             "serials": ["VIN1", "VIN2"]}], source_id="R1")
    assert [m.on_hand_delta for m in movements_made] == [1, 1]
    units = db.session.scalars(select(SerialUnit).order_by(SerialUnit.serial)).all()
    assert [(u.serial, u.state, u.warehouse_id) for u in units] == [("VIN1", "in_stock", hq_warehouse.id),
                                                                   ("VIN2", "in_stock", hq_warehouse.id)]
    assert [m.serial_unit_id for m in services.serial_history(units[0])] == [units[0].id]
    assert services.stock_of(car)[0].on_hand == 2
    with pytest.raises(Conflict):
        services.receive(None, make_distributor().warehouse, [{"product": car, "batch_code": "2026",
                                                                "serials": ["VIN2"]}])
    db.session.rollback()
    with pytest.raises(ValidationError):
        services.receive(None, hq_warehouse, [{"product": car, "batch_code": "2026", "serials": ["V3", "V3"]}])
    with pytest.raises(ValidationError):
        services.receive(None, hq_warehouse, [{"product": car, "batch_code": "2026", "serials": []}])
    with pytest.raises(ValidationError):
        services.set_count(None, hq_warehouse, car, "2026", 5)


def test_receive_validates_lines(make_product, hq_warehouse):
    product = make_product()
    for line in ({"product": product, "quantity": 0}, {"product": product, "quantity": -2},
                 {"product": product, "quantity": 1.5}, {"product": product, "quantity": True}):
        with pytest.raises(ValidationError):
            services.receive(None, hq_warehouse, [line])
    with pytest.raises(ValidationError):
        services.receive(None, hq_warehouse, [])
    assert movements() == 0


def test_stock_of(make_product, stock, hq_warehouse, make_distributor, days):
    product = make_product(tracking="batch")
    local = make_distributor().warehouse
    stock(product, 2, "B", days(9), warehouse=local)
    stock(product, 3, "A", days(20))
    stock(product, 1, "C", days(2))
    assert [(b.warehouse_id, b.batch.code) for b in services.stock_of(product)] == [
        (hq_warehouse.id, "C"), (hq_warehouse.id, "A"), (local.id, "B")]
    assert [b.batch.code for b in services.stock_of(product, local)] == ["B"]
    assert services.available_of(product, hq_warehouse) == 4
