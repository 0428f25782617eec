"""Transfer services: FEFO issue, expired stock never sent, short stock issues nothing, receipt with
differences, cancellation, serial units, scope, permissions and the ledger check."""

import pytest
from sqlalchemy import func, select

from dms.core.errors import Forbidden, InsufficientStock, InvalidTransition, NotFound, ValidationError
from dms.core.models import AuditLog, Notification
from dms.extensions import db
from dms.inventory import services, transfers
from dms.inventory.models import SerialUnit, StockMovement, Transfer, TransferItem


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def balance(warehouse, product, batch) -> tuple[int, int]:
    row = services.get_balance(warehouse, product, batch)
    return (row.on_hand, row.reserved) if row else (0, 0)


@pytest.fixture
def admin(make_user):
    return make_user("admin")


@pytest.fixture
def shop(make_distributor):
    return make_distributor("110105")


def test_fefo_split_across_batches_and_expired_never_sent(admin, shop, make_product, stock, hq_warehouse, days):
    product = make_product(tracking="batch")
    old = stock(product, 50, "OLD", days(-1))
    late, early = stock(product, 5, "LATE", days(60)), stock(product, 3, "EARLY", days(5))
    transfer = transfers.create_transfer(admin, hq_warehouse, shop.warehouse, [(product, 7)], note="  first  ")
    db.session.commit()
    assert transfer.status == "in_transit" and transfer.note == "first"
    assert [(i.batch_id, i.quantity_sent, i.quantity_received) for i in transfer.items] == [
        (early.id, 3, None), (late.id, 4, None)]
    assert balance(hq_warehouse, product, early) == (0, 0) and balance(hq_warehouse, product, late) == (1, 0)
    assert balance(hq_warehouse, product, old) == (50, 0), "an expired batch is never sent"
    outs = db.session.scalars(select(StockMovement).where(StockMovement.kind == "transfer_out")).all()
    assert {(m.source_type, m.source_id, m.on_hand_delta) for m in outs} == {
        ("transfer", str(transfer.id), -3), ("transfer", str(transfer.id), -4)}
    assert balance(shop.warehouse, product, early) == (0, 0), "in transit belongs to no warehouse"
    assert services.ledger_differences() == []
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "inventory.transfer_create"))
    assert entry.record_id == str(transfer.id)


def test_insufficient_stock_issues_nothing(admin, shop, make_product, stock, hq_warehouse, days):
    plenty, short = make_product(tracking="batch"), make_product(tracking="batch")
    stock(plenty, 10, "P", days(30))
    stock(short, 2, "S", days(30))
    stock(short, 9, "X", days(-2))  # expired: does not count
    before = (count(StockMovement), count(Transfer), count(TransferItem))
    with pytest.raises(InsufficientStock) as error:
        transfers.create_transfer(admin, hq_warehouse, shop.warehouse, [(plenty, 4), (short, 3)])
    assert error.value.status == 409
    # The service's own savepoint undid the first line already; the request would also roll back.
    assert (count(StockMovement), count(Transfer), count(TransferItem)) == before
    db.session.rollback()
    assert (count(StockMovement), count(Transfer), count(TransferItem)) == before
    assert services.available_of(plenty, hq_warehouse) == 10 and services.ledger_differences() == []


def test_bad_lines_and_permissions(admin, shop, make_user, make_product, stock, hq_warehouse):
    product = make_product()
    stock(product, 5)
    for lines in ([], [(product, 0)], [(product, -1)], [(product, "2")], [(product, 1), (product, 1)],
                  [(product, 1, ["S1"])]):
        with pytest.raises(ValidationError):
            transfers.create_transfer(admin, hq_warehouse, shop.warehouse, lines)
    with pytest.raises(ValidationError):
        transfers.create_transfer(admin, hq_warehouse, hq_warehouse, [(product, 1)])
    staff = make_user("distributor", distributor_id=shop.id)
    reviewer = make_user("reviewer")  # HQ scope, but does not manage inventory
    for actor in (staff, reviewer):
        with pytest.raises(Forbidden):
            transfers.create_transfer(actor, hq_warehouse, shop.warehouse, [(product, 1)])
    assert count(Transfer) == 0 and services.available_of(product, hq_warehouse) == 5


def test_partial_receipt_records_the_difference(admin, shop, make_user, make_product, stock, hq_warehouse, days):
    product = make_product(tracking="batch")
    a, b = stock(product, 4, "A", days(10)), stock(product, 6, "B", days(20))
    transfer = transfers.create_transfer(admin, hq_warehouse, shop.warehouse, [(product, 8)])
    db.session.commit()
    staff = make_user("distributor", distributor_id=shop.id)
    first, second = transfer.items
    with pytest.raises(ValidationError) as error:
        transfers.receive_transfer(staff, transfer, {first.id: 5})  # more than sent
    assert f"item-{first.id}" in error.value.fields
    with pytest.raises(ValidationError):
        transfers.receive_transfer(staff, transfer, {999999: 1})
    transfers.receive_transfer(staff, transfer, {first.id: 4, second.id: 3}, note="one carton broken")
    db.session.commit()
    assert transfer.status == "received" and transfer.received_by_id == staff.id
    assert [(i.quantity_sent, i.quantity_received, i.difference) for i in transfer.items] == [(4, 4, 0), (4, 3, -1)]
    assert transfers.short_items(transfer) == [second]
    assert balance(shop.warehouse, product, a) == (4, 0) and balance(shop.warehouse, product, b) == (3, 0)
    ins = db.session.scalars(select(StockMovement).where(StockMovement.kind == "transfer_in")).all()
    assert sorted(m.on_hand_delta for m in ins) == [3, 4] and {m.warehouse_id for m in ins} == {shop.warehouse.id}
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "inventory.transfer_receive"))
    assert entry.changes["short"] == {str(second.id): [product.id, b.id, 4, 3]}
    notes = db.session.scalars(select(Notification).where(Notification.user_id == admin.id,
                                                          Notification.link == f"/inventory/transfers/{transfer.id}"))
    assert len(notes.all()) == 1, "HQ hears of the shortage"
    assert services.ledger_differences() == []
    with pytest.raises(InvalidTransition):
        transfers.receive_transfer(staff, transfer)
    with pytest.raises(InvalidTransition):
        transfers.cancel_transfer(admin, transfer)


def test_only_the_receiving_side_confirms(admin, shop, make_distributor, make_user, make_product, stock,
                                          hq_warehouse):
    product = make_product()
    stock(product, 5)
    stock(product, 5, warehouse=shop.warehouse)
    other = make_distributor("110106")
    out = transfers.create_transfer(admin, shop.warehouse, other.warehouse, [(product, 2)])
    db.session.commit()
    sender = make_user("distributor", distributor_id=shop.id)
    with pytest.raises(Forbidden):
        transfers.receive_transfer(sender, out)
    transfers.receive_transfer(admin, out)  # HQ may confirm for any warehouse
    db.session.commit()
    assert services.available_of(product, other.warehouse) == 2 and services.available_of(product, shop.warehouse) == 3


def test_scope(admin, shop, make_distributor, make_user, make_product, stock, hq_warehouse):
    product = make_product()
    stock(product, 10)
    other = make_distributor("110106")
    mine = transfers.create_transfer(admin, hq_warehouse, shop.warehouse, [(product, 1)])
    theirs = transfers.create_transfer(admin, hq_warehouse, other.warehouse, [(product, 1)])
    db.session.commit()
    staff = make_user("distributor", distributor_id=shop.id)
    assert [t.id for t in db.session.scalars(transfers.transfers_query(staff))] == [mine.id]
    assert len(db.session.scalars(transfers.transfers_query(admin)).all()) == 2
    assert transfers.get_transfer(staff, mine.id).id == mine.id
    for foreign in (theirs.id, 999999):
        with pytest.raises(NotFound):
            transfers.get_transfer(staff, foreign)
    assert db.session.scalars(transfers.transfers_query(make_user("distributor"))).all() == []


def test_cancel_returns_the_stock_to_the_source(admin, shop, make_user, make_product, stock, hq_warehouse, days):
    product = make_product(tracking="batch")
    batch = stock(product, 5, "A", days(10))
    transfer = transfers.create_transfer(admin, hq_warehouse, shop.warehouse, [(product, 5)])
    db.session.commit()
    with pytest.raises(Forbidden):
        transfers.cancel_transfer(make_user("distributor", distributor_id=shop.id), transfer)
    transfers.cancel_transfer(admin, transfer, "wrong truck")
    db.session.commit()
    assert transfer.status == "cancelled" and balance(hq_warehouse, product, batch) == (5, 0)
    back = db.session.scalar(select(StockMovement).where(StockMovement.kind == "transfer_in"))
    assert back.warehouse_id == hq_warehouse.id and back.reason.startswith("cancelled")
    assert services.ledger_differences() == []
    with pytest.raises(InvalidTransition):
        transfers.receive_transfer(admin, transfer)


def test_serial_units_travel_one_by_one(admin, shop, make_user, make_product, hq_warehouse, days):
    car = make_product(tracking="serial")
    services.receive(None, hq_warehouse, [{"product": car, "batch_code": "2026", "expiry_date": days(300),
                                           "serials": ["VIN-B", "VIN-A"]},
                                          {"product": car, "batch_code": "2025", "expiry_date": days(100),
                                           "serials": ["VIN-C"]}])
    db.session.commit()
    with pytest.raises(ValidationError):
        transfers.create_transfer(admin, hq_warehouse, shop.warehouse, [(car, 1, ["VIN-Z"])])
    with pytest.raises(InsufficientStock):
        transfers.create_transfer(admin, hq_warehouse, shop.warehouse, [(car, 4)])
    db.session.rollback()
    auto = transfers.create_transfer(admin, hq_warehouse, shop.warehouse, [(car, 2)])
    db.session.commit()
    units = {u.serial: u for u in db.session.scalars(select(SerialUnit))}
    assert sorted(i.serial_unit.serial for i in auto.items) == ["VIN-B", "VIN-C"], "earliest expiry, then oldest"
    assert units["VIN-C"].state == "in_transit" and units["VIN-C"].warehouse_id is None
    chosen = transfers.create_transfer(admin, hq_warehouse, shop.warehouse, [(car, 0, ["VIN-A"])])
    db.session.commit()
    assert [i.serial_unit.serial for i in chosen.items] == ["VIN-A"]
    staff = make_user("distributor", distributor_id=shop.id)
    first, second = auto.items
    transfers.receive_transfer(staff, auto, {first.id: 1, second.id: 0})
    db.session.commit()
    db.session.refresh(first.serial_unit)
    db.session.refresh(second.serial_unit)
    assert (first.serial_unit.state, first.serial_unit.warehouse_id) == ("in_stock", shop.warehouse.id)
    assert (second.serial_unit.state, second.serial_unit.warehouse_id) == ("in_transit", None), \
        "a unit that did not arrive stays traceable in transit"
    assert [m.kind for m in services.serial_history(first.serial_unit)] == ["receipt", "transfer_out",
                                                                            "transfer_in"]
    transfers.cancel_transfer(admin, chosen)
    db.session.commit()
    db.session.refresh(units["VIN-A"])
    assert (units["VIN-A"].state, units["VIN-A"].warehouse_id) == ("in_stock", hq_warehouse.id)
    assert services.ledger_differences() == []
