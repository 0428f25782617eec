"""The order state machine: every move from every state, who may make it, and what it does to stock and money."""

from decimal import Decimal

import pytest
from sqlalchemy import select

from dms.core.errors import Forbidden, InvalidTransition, NotFound, ValidationError
from dms.core.jobs import commit
from dms.core.models import Job
from dms.extensions import db
from dms.inventory import services as inventory
from dms.inventory.models import SerialUnit, StockMovement
from dms.orders import services, transitions
from dms.orders.models import ORDER_STATES, Order, OrderPayment

# How to bring a fresh pending order to each state (with the system as the actor).
PATHS = {
    "pending": [],
    "paid": ["paid"],
    "assigned": ["paid", "assigned"],
    "shipped": ["paid", "assigned", "shipped"],
    "delivered": ["paid", "assigned", "shipped", "delivered"],
    "completed": ["paid", "assigned", "shipped", "delivered", "completed"],
    "cancelled": ["cancelled"],
    "refunded": ["paid", "assigned", "shipped", "delivered", "refunded"],
}
LEGAL = {(source, to) for to, sources in transitions.ALLOWED.items() for source in sources}


@pytest.fixture
def order_in(shop, place):
    """order_in(state, quantity=2) -> an order of the shop's water brought to `state` and committed."""

    def make(state, quantity=2):
        order = place(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id,
                             "quantity": quantity})
        for to in PATHS[state]:
            transitions.transition(None, order, to, courier_id=shop["courier"].id, reason="测试")
        commit()
        assert order.status == state
        return order

    return make


def movements(order):
    """(kind, reserved_delta, on_hand_delta) of the order's stock movements, oldest first."""
    return [(m.kind, m.reserved_delta, m.on_hand_delta) for m in db.session.scalars(
        select(StockMovement).where(StockMovement.source_type == "order", StockMovement.source_id == str(order.id))
        .order_by(StockMovement.id))]


def balance(shop):
    row = inventory.stock_of(shop["water"], shop["distributor"].warehouse, include_empty=True)[0]
    return row.on_hand, row.reserved


# --- the matrix --------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ORDER_STATES)
def test_every_move_the_state_does_not_allow_is_an_invalid_transition(app, shop, order_in, state):
    order = order_in(state)
    before = movements(order)
    for to in transitions.ALLOWED:
        if (state, to) in LEGAL:
            continue
        with pytest.raises(InvalidTransition) as caught:
            transitions.transition(None, order, to, courier_id=shop["courier"].id, reason="不该成功")
        assert caught.value.code == "invalid_transition" and caught.value.extra == {"status": state, "to": to}
        db.session.rollback()
        order = db.session.get(Order, order.id)
        assert order.status == state
    assert movements(order) == before  # no illegal move touched the stock
    assert not inventory.ledger_differences() and not services.stock_differences()


@pytest.mark.parametrize("source,to", sorted(LEGAL))
def test_every_allowed_move_succeeds_and_is_on_the_timeline(app, shop, order_in, make_user, source, to):
    order = order_in(source)
    other = make_user("courier", distributor_id=shop["distributor"].id)
    actor = make_user("admin")
    transitions.transition(actor, order, to, courier_id=other.id, reason="原因")
    commit()
    assert order.status == to and getattr(order, transitions.TIMESTAMPS[to]) is not None
    last = order.events[-1]
    assert (last.kind, last.from_status, last.to_status, last.actor_id) == ("transition", source, to, actor.id)
    assert not inventory.ledger_differences() and not services.stock_differences()


def test_unknown_states_and_bad_move_data_are_field_errors(app, shop, order_in):
    order = order_in("pending")
    for to in ("shipping", None, 3, "pending"):
        with pytest.raises(ValidationError) as caught:
            transitions.transition(None, order, to)
        assert "to" in caught.value.fields
    with pytest.raises(ValidationError) as caught:
        transitions.transition(None, order, "paid", payment="cash")
    assert "payment" in caught.value.fields
    with pytest.raises(ValidationError) as caught:
        transitions.pay(None, order, "bitcoin")
    assert "method" in caught.value.fields
    with pytest.raises(ValidationError) as caught:
        transitions.pay(None, order, "cash", amount="35.99")
    assert "amount" in caught.value.fields
    with pytest.raises(ValidationError) as caught:
        transitions.pay(None, order, "cash", note="长" * 501)
    assert "note" in caught.value.fields
    db.session.rollback()
    order = db.session.get(Order, order.id)
    assert order.status == "pending" and order.payments == []


def test_a_courier_must_be_one_of_the_distributors(app, shop, order_in, make_user, make_distributor):
    order = order_in("paid")
    foreign = make_user("courier", distributor_id=make_distributor().id)
    staff = make_user("distributor", distributor_id=shop["distributor"].id)  # delivers nothing
    inactive = make_user("courier", distributor_id=shop["distributor"].id)
    inactive.active = False
    commit()
    for courier_id in (foreign.id, staff.id, inactive.id, None, "1", True, 999999):
        with pytest.raises(ValidationError) as caught:
            transitions.assign_courier(None, order, courier_id)
        assert "courier_id" in caught.value.fields
    assert order.status == "paid"


def test_reassigning_the_courier_is_on_the_timeline_and_the_same_one_is_a_no_op(app, shop, order_in, make_user):
    order = order_in("assigned")
    events = len(order.events)
    transitions.assign_courier(None, order, shop["courier"].id)
    assert len(order.events) == events
    second = make_user("courier", distributor_id=shop["distributor"].id)
    transitions.assign_courier(None, order, second.id)
    commit()
    assert order.courier_id == second.id and order.status == "assigned"
    assert (order.events[-1].from_status, order.events[-1].to_status) == ("assigned", "assigned")
    assert shop["courier"].label in order.events[-1].note and second.label in order.events[-1].note


# --- by role -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["admin", "reviewer", "distributor"])
def test_staff_move_an_order_through_every_state(app, shop, place, make_user, role):
    actor = make_user(role, distributor_id=shop["distributor"].id if role == "distributor" else None)
    order = place(actor, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id, "quantity": 2})
    for to in ("paid", "assigned", "shipped", "delivered", "completed", "refunded"):
        order = services.get_order(actor, order.id)
        assert to == "assigned" or to in transitions.allowed_moves(actor, order)
        transitions.transition(actor, order, to, courier_id=shop["courier"].id, reason="退货")
        commit()
    assert order.status == "refunded"
    assert {e.actor_id for e in order.events} == {actor.id}
    cancelled = place(actor, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id,
                              "quantity": 1})
    transitions.transition(actor, services.get_order(actor, cancelled.id), "cancelled")
    commit()
    assert cancelled.status == "cancelled"


def test_another_distributors_staff_cannot_reach_the_order(app, shop, order_in, make_user, make_distributor):
    order = order_in("paid")
    stranger = make_user("distributor", distributor_id=make_distributor().id)
    with pytest.raises(NotFound):
        services.get_order(stranger, order.id)


def test_a_courier_ships_and_delivers_their_own_orders_only(app, shop, order_in, make_user):
    order, courier = order_in("assigned"), shop["courier"]
    other = make_user("courier", distributor_id=shop["distributor"].id)
    assert services.get_order(courier, order.id) is order
    assert transitions.allowed_moves(courier, order) == ["shipped"]
    with pytest.raises(NotFound):
        services.get_order(other, order.id)
    assert transitions.allowed_moves(other, order) == []
    for to in ("shipped", "cancelled", "assigned"):
        with pytest.raises(Forbidden):
            transitions.transition(other, order, to, courier_id=other.id)
    for to in ("cancelled", "assigned", "completed", "paid", "refunded"):
        with pytest.raises(Forbidden):
            transitions.transition(courier, order, to, courier_id=courier.id, reason="x")
    db.session.rollback()
    order = services.get_order(courier, order.id)
    transitions.ship(courier, order)
    transitions.deliver(courier, order, "放在门口")
    commit()
    assert order.status == "delivered" and transitions.allowed_moves(courier, order) == []
    with pytest.raises(Forbidden):
        transitions.complete(courier, order)
    with pytest.raises(Forbidden):
        transitions.refund(courier, order, "x")
    assert [(e.actor_id, e.note) for e in order.events[-2:]] == [(courier.id, ""), (courier.id, "放在门口")]


def test_an_integration_client_moves_only_the_orders_it_placed(app, shop, place):
    from tests.orders.test_services import _client

    mini, erp = _client(app), _client(app)
    order = place(mini, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id, "quantity": 1})
    other = place(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id, "quantity": 1})
    with pytest.raises(NotFound):
        services.get_order(mini, other.id)
    with pytest.raises(NotFound):
        services.get_order(erp, order.id)
    order = services.get_order(mini, order.id)
    transitions.transition(mini, order, "paid", payment={"method": "wechat", "reference": "wx-1", "amount": "18"})
    transitions.transition(mini, order, "cancelled", reason="客户取消")
    commit()
    assert order.status == "cancelled" and order.refund_due == Decimal("18.00")
    assert order.events[-1].actor_label == mini.label


def test_the_pay_button_is_hidden_until_hq_assigns_a_distributor(app, shop, place):
    from tests.orders.test_services import ADDRESS

    order = place(None, {"customer": {**ADDRESS, "region_code": "110105"}, "product_id": shop["water"].id,
                         "quantity": 1})
    assert transitions.allowed_moves(None, order) == ["cancelled"]
    services.assign_distributor(None, order, shop["distributor"].id)
    commit()
    assert transitions.allowed_moves(None, order) == ["paid", "cancelled"]


# --- stock and money ---------------------------------------------------------------------------------

@pytest.mark.parametrize("state,refund_due", [("pending", "0.00"), ("paid", "36.00"), ("assigned", "36.00")])
def test_cancelling_releases_the_reservation_and_a_paid_order_records_the_refund_due(app, shop, order_in, state,
                                                                                      refund_due):
    order = order_in(state)
    assert balance(shop) == (10, 2)
    transitions.cancel(None, order, "客户不要了")
    commit()
    assert balance(shop) == (10, 0) and order.refund_due == Decimal(refund_due)
    assert movements(order) == [("reserve", 2, 0), ("release", -2, 0)]
    assert [p.kind for p in order.payments] == ([] if state == "pending" else ["payment"])
    assert order.events[-1].note == "客户不要了" and order.cancelled_at is not None


def test_shipping_issues_the_reserved_stock(app, shop, order_in):
    order = order_in("shipped", quantity=3)
    assert balance(shop) == (7, 0)
    issue, = [m for m in db.session.scalars(select(StockMovement).where(StockMovement.kind == "issue"))]
    assert (issue.source_type, issue.source_id, issue.on_hand_delta, issue.reserved_delta) == (
        "order", str(order.id), -3, -3)
    assert issue.reason == order.reference


def test_a_refund_returns_the_stock_and_records_the_money_owed_back(app, shop, order_in):
    order = order_in("completed", quantity=3)
    transitions.refund(None, order, "破损", method="wechat", reference="R1")
    commit()
    assert balance(shop) == (10, 0)
    assert movements(order) == [("reserve", 3, 0), ("issue", -3, -3), ("return", 0, 3)]
    assert order.refund_due == Decimal("54.00") and order.refunded_at is not None
    assert [(p.kind, p.amount, p.method) for p in order.payments] == [
        ("payment", Decimal("54.00"), "other"), ("refund", Decimal("54.00"), "wechat")]
    with pytest.raises(InvalidTransition):  # refunded once
        transitions.refund(None, order, "再退一次")
    db.session.rollback()
    assert db.session.query(OrderPayment).count() == 2


def test_a_refund_without_restock_leaves_the_stock_out(app, shop, order_in):
    order = order_in("delivered", quantity=3)
    transitions.transition(None, order, "refunded", reason="过期不能再卖", restock=False)
    commit()
    assert balance(shop) == (7, 0) and order.refund_due == Decimal("54.00")
    assert [m[0] for m in movements(order)] == ["reserve", "issue"]
    assert not services.stock_differences()


def test_a_refund_needs_a_reason(app, shop, order_in):
    order = order_in("delivered")
    for reason in ("", "   ", None):
        with pytest.raises(ValidationError) as caught:
            transitions.refund(None, order, reason)
        assert "reason" in caught.value.fields
    assert order.status == "delivered"


def test_a_serial_tracked_unit_is_sold_and_comes_back_on_a_refund(app, shop, place):
    distributor = shop["distributor"]
    from dms.catalog.models import Price, Product

    car = Product(name="电动三轮车", sku="V-TEST", tracking="serial", status="available")
    db.session.add(car)
    db.session.flush()
    db.session.add(Price(product_id=car.id, kind="retail", amount=Decimal("8800.00")))
    inventory.receive(None, distributor.warehouse, [{"product": car, "batch_code": "V-2026",
                                                     "serials": ["VIN001", "VIN002", "VIN003"]}])
    commit()
    order = place(None, {"distributor_id": distributor.id, "product_id": car.id, "quantity": 2,
                         "total_price": "17600.00"})
    for to in PATHS["delivered"]:
        transitions.transition(None, order, to, courier_id=shop["courier"].id)
    commit()
    units = {u.serial: (u.state, u.warehouse_id) for u in db.session.scalars(select(SerialUnit))}
    assert units == {"VIN001": ("sold", None), "VIN002": ("sold", None),
                     "VIN003": ("in_stock", distributor.warehouse.id)}
    transitions.refund(None, order, "退车")
    commit()
    db.session.expire_all()
    units = {u.serial: (u.state, u.warehouse_id) for u in db.session.scalars(select(SerialUnit))}
    assert set(units.values()) == {("in_stock", distributor.warehouse.id)}
    sold = db.session.scalar(select(SerialUnit).where(SerialUnit.serial == "VIN001"))
    assert [m.kind for m in inventory.serial_history(sold)] == ["receipt", "issue", "return"]
    assert inventory.available_of(car, distributor.warehouse) == 3
    assert not inventory.ledger_differences() and not services.stock_differences()


# --- events --------------------------------------------------------------------------------------------

def test_completed_and_refunded_each_enqueue_one_event_job(app, shop, order_in):
    order = order_in("completed")
    transitions.refund(None, order, "不满意")
    commit()
    jobs = {job.key: job for job in db.session.scalars(select(Job).where(Job.key.like("event:%")))}
    assert set(jobs) == {f"event:order.completed:{order.id}", f"event:order.refunded:{order.id}"}
    assert {job.name for job in jobs.values()} == {"dms.core.events.deliver"}
    assert jobs[f"event:order.refunded:{order.id}"].args == ["order.refunded", order.id]
    assert {job.status for job in jobs.values()} == {"finished"}  # no Redis in tests: run in-process


def test_a_rolled_back_completion_enqueues_nothing(app, shop, order_in):
    order = order_in("delivered")
    transitions.complete(None, order)
    db.session.rollback()
    assert db.session.scalar(select(Job.id).where(Job.key.like("event:%"))) is None
    assert db.session.get(Order, order.id).status == "delivered"

