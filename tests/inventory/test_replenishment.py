"""Replenishment services: suggestions, requests, full and partial approval (creating the transfer),
short HQ stock, rejection with a reason, cancellation, scope, notifications and the audit trail."""

import pytest
from sqlalchemy import func, select

from dms.core.errors import Forbidden, InsufficientStock, InvalidTransition, NotFound, ValidationError
from dms.core.models import AuditLog, Notification
from dms.extensions import db
from dms.inventory import replenishment, services, thresholds, transfers
from dms.inventory.models import ReplenishmentRequest, StockMovement, Transfer


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def notes_of(user) -> list[tuple[str, str]]:
    """(title, link) of the user's notifications; titles are checked by the references they quote,
    since they are in the user's language (zh_CN by default)."""
    return [(n.title, n.link) for n in db.session.scalars(select(Notification).where(Notification.user_id == user.id)
                                                            .order_by(Notification.id))]


@pytest.fixture
def admin(make_user):
    return make_user("admin")


@pytest.fixture
def shop(make_distributor):
    return make_distributor("110105")


@pytest.fixture
def staff(make_user, shop):
    return make_user("distributor", distributor_id=shop.id)


def test_suggestions_refill_to_twice_the_threshold(shop, make_product, stock, days, admin):
    low = make_product(low_stock_threshold=10)
    enough = make_product(low_stock_threshold=3)
    overridden = make_product(low_stock_threshold=0)
    untracked = make_product(low_stock_threshold=0)
    gone = make_product(low_stock_threshold=5, tracking="batch")
    make_product(price=None, low_stock_threshold=50)  # pending, not orderable
    stock(low, 4, warehouse=shop.warehouse)
    stock(enough, 3, warehouse=shop.warehouse)
    stock(gone, 40, "OLD", days(-1), warehouse=shop.warehouse)  # expired stock is not available
    thresholds.set_threshold(None, shop.warehouse, overridden, 2)
    db.session.commit()
    suggested = {p.id: q for p, q in replenishment.suggested_quantities(shop.warehouse).items()}
    assert suggested == {low.id: 16, overridden.id: 4, gone.id: 10}
    assert untracked.id not in suggested and enough.id not in suggested
    # What is already on its way counts: an open request, then an in-transit transfer.
    stock(low, 100)
    replenishment.create_request(None, shop.warehouse, [(low, 6)])
    db.session.commit()
    assert {p.id: q for p, q in replenishment.suggested_quantities(shop.warehouse).items()}[low.id] == 10
    transfers.create_transfer(admin, services.hq_warehouse(), shop.warehouse, [(low, 10)])
    db.session.commit()
    assert low.id not in {p.id for p in replenishment.suggested_quantities(shop.warehouse)}


def test_create_request_rules_and_notifications(shop, staff, admin, make_user, make_product, make_distributor,
                                                hq_warehouse):
    water, juice = make_product(), make_product()
    pending = make_product(price=None)
    reviewer = make_user("reviewer")  # HQ scope without inventory.manage: not told
    for lines in ([], [(water, 0)], [(water, 2), (water, 1)], [(pending, 1)], [(water, "3")]):
        with pytest.raises(ValidationError):
            replenishment.create_request(staff, shop.warehouse, lines)
    with pytest.raises(NotFound):
        replenishment.create_request(staff, make_distributor("110106").warehouse, [(water, 1)])
    with pytest.raises(ValidationError):
        replenishment.create_request(admin, hq_warehouse, [(water, 1)])
    with pytest.raises(Forbidden):
        replenishment.create_request(make_user("courier"), shop.warehouse, [(water, 1)])
    request = replenishment.create_request(staff, shop.warehouse, [(water, 5), (juice, 2)], note=" urgent ")
    db.session.commit()
    assert request.status == "submitted" and request.note == "urgent" and request.created_by_id == staff.id
    assert [(line.product_id, line.quantity_requested) for line in request.lines] == [(water.id, 5), (juice.id, 2)]
    (title, link), = notes_of(admin)
    assert replenishment.reference(request) in title and link == f"/inventory/replenishment/{request.id}"
    assert notes_of(reviewer) == [] and notes_of(staff) == []
    assert db.session.scalar(select(AuditLog.action).where(AuditLog.record_type == "replenishment")) == \
        "inventory.replenishment_submit"


def test_full_approval_ships_at_once(shop, staff, admin, make_product, stock, hq_warehouse, days):
    water = make_product(tracking="batch")
    early, late = stock(water, 3, "E", days(5)), stock(water, 10, "L", days(50))
    request = replenishment.create_request(staff, shop.warehouse, [(water, 5)])
    db.session.commit()
    with pytest.raises(Forbidden):
        replenishment.approve_request(staff, request)
    replenishment.approve_request(admin, request, reason="ok")
    db.session.commit()
    assert request.status == "approved" and request.decided_by_id == admin.id and request.decision_reason == "ok"
    transfer = request.transfer
    assert (transfer.from_warehouse_id, transfer.to_warehouse_id, transfer.status) == (
        hq_warehouse.id, shop.warehouse.id, "in_transit")
    assert [(i.batch_id, i.quantity_sent) for i in transfer.items] == [(early.id, 3), (late.id, 2)]
    assert request.lines[0].quantity_approved == 5
    (title, link), = notes_of(staff)  # one notice for the decision and the shipment, not two
    assert replenishment.reference(request) in title and transfers.reference(transfer) in title
    assert link == f"/inventory/transfers/{transfer.id}"
    with pytest.raises(InvalidTransition):
        replenishment.approve_request(admin, request)
    with pytest.raises(InvalidTransition):
        replenishment.reject_request(admin, request, "late")
    transfers.receive_transfer(staff, transfer)
    db.session.commit()
    assert services.available_of(water, shop.warehouse) == 5 and services.ledger_differences() == []


def test_partial_approval(shop, staff, admin, make_product, stock):
    water, juice, tea = make_product(), make_product(), make_product()
    for product in (water, juice, tea):
        stock(product, 20)
    request = replenishment.create_request(staff, shop.warehouse, [(water, 5), (juice, 4), (tea, 3)])
    db.session.commit()
    w, j, t = (line.id for line in request.lines)
    for approved in ({w: 0, j: 0, t: 0}, {w: 6}, {w: -1}, {w: "2"}, {999999: 1}):
        with pytest.raises(ValidationError):
            replenishment.approve_request(admin, request, approved)
    assert request.status == "submitted" and count(Transfer) == 0
    replenishment.approve_request(admin, request, {w: 2, j: 0})  # tea not given: approved in full
    db.session.commit()
    assert request.status == "partially_approved"
    assert [line.quantity_approved for line in request.lines] == [2, 0, 3]
    assert sorted((i.product_id, i.quantity_sent) for i in request.transfer.items) == [(water.id, 2), (tea.id, 3)]
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "inventory.replenishment_approve"))
    assert entry.changes["approved"][str(juice.id)] == [4, 0]


def test_short_hq_stock_creates_nothing(shop, staff, admin, make_product, stock):
    water, juice = make_product(), make_product()
    stock(water, 10)
    stock(juice, 1)
    request = replenishment.create_request(staff, shop.warehouse, [(water, 5), (juice, 2)])
    db.session.commit()
    before = count(StockMovement)
    with pytest.raises(InsufficientStock) as error:
        replenishment.approve_request(admin, request)
    assert error.value.status == 409
    db.session.rollback()
    assert count(StockMovement) == before and count(Transfer) == 0
    db.session.refresh(request)
    assert request.status == "submitted" and request.transfer_id is None
    assert [line.quantity_approved for line in request.lines] == [None, None]
    assert services.available_of(water, services.hq_warehouse()) == 10


def test_rejection_needs_a_reason(shop, staff, admin, make_product):
    request = replenishment.create_request(staff, shop.warehouse, [(make_product(), 5)])
    db.session.commit()
    for reason in ("", "   ", None):
        with pytest.raises(ValidationError) as error:
            replenishment.reject_request(admin, request, reason)
        assert "reason" in error.value.fields
    with pytest.raises(Forbidden):
        replenishment.reject_request(staff, request, "no")
    replenishment.reject_request(admin, request, "  budget frozen ")
    db.session.commit()
    assert request.status == "rejected" and request.decision_reason == "budget frozen"
    (title, link), = notes_of(staff)
    assert replenishment.reference(request) in title and link == f"/inventory/replenishment/{request.id}"
    with pytest.raises(InvalidTransition):
        replenishment.cancel_request(staff, request)


def test_cancel_by_the_requesting_side(shop, staff, admin, make_user, make_distributor, make_product):
    request = replenishment.create_request(staff, shop.warehouse, [(make_product(), 5)])
    db.session.commit()
    outsider = make_user("distributor", distributor_id=make_distributor("110106").id)
    for actor in (admin, outsider):
        with pytest.raises(Forbidden):
            replenishment.cancel_request(actor, request)
    colleague = make_user("distributor", distributor_id=shop.id)
    replenishment.cancel_request(colleague, request)
    db.session.commit()
    assert request.status == "cancelled"
    with pytest.raises(InvalidTransition):
        replenishment.approve_request(admin, request)


def test_scope(shop, staff, admin, make_user, make_distributor, make_product):
    product = make_product()
    other = make_distributor("110106")
    mine = replenishment.create_request(staff, shop.warehouse, [(product, 1)])
    theirs = replenishment.create_request(make_user("distributor", distributor_id=other.id), other.warehouse,
                                          [(product, 1)])
    db.session.commit()
    assert [r.id for r in db.session.scalars(replenishment.requests_query(staff))] == [mine.id]
    assert count(ReplenishmentRequest) == len(db.session.scalars(replenishment.requests_query(admin)).all()) == 2
    assert replenishment.get_request(staff, mine.id).id == mine.id
    for foreign in (theirs.id, 999999):
        with pytest.raises(NotFound):
            replenishment.get_request(staff, foreign)
