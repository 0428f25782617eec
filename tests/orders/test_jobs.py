"""The orders area's jobs and events: auto-completion after the waiting days, order events reaching subscribers."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from dms.core import events
from dms.core.jobs import commit
from dms.core.models import Job
from dms.core.schedule import PERIODIC, run_periodic
from dms.core.time import utcnow
from dms.extensions import db
from dms.orders import jobs, services, transitions
from dms.orders.models import Order

CALLS: list[tuple[str, int, str]] = []


def on_completed(order_id: int):
    """A test subscriber: note the call and the state the order was committed in."""
    CALLS.append(("order.completed", order_id, db.session.get(Order, order_id).status))


def on_refunded(order_id: int):
    CALLS.append(("order.refunded", order_id, db.session.get(Order, order_id).status))


def broken(order_id: int):
    raise RuntimeError("subscriber down")


@pytest.fixture
def subscribers(monkeypatch):
    """A clean subscriber registry for the test (restored after it) and the calls its handlers saw."""
    monkeypatch.setattr(events, "_SUBSCRIBERS", {})
    CALLS.clear()
    yield CALLS
    CALLS.clear()


@pytest.fixture
def delivered(shop, place):
    """delivered(days_ago) -> an order of the shop's, delivered that many days ago (committed)."""

    def make(days_ago: float):
        order = place(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id,
                             "quantity": 1})
        transitions.pay(None, order, "cash")
        transitions.assign_courier(None, order, shop["courier"].id)
        transitions.ship(None, order)
        transitions.deliver(None, order)
        db.session.execute(update(Order).where(Order.id == order.id)
                           .values(delivered_at=utcnow() - timedelta(days=days_ago)))
        commit()
        db.session.expire_all()
        return order

    return make


def keyed(prefix: str) -> dict[str, Job]:
    return {job.key: job for job in db.session.scalars(select(Job).where(Job.key.like(f"{prefix}%")))}


def test_events_reach_their_subscribers_once_after_the_commit(app, shop, place, subscribers):
    events.subscribe("order.completed", f"{__name__}.on_completed")
    events.subscribe("order.completed", f"{__name__}.on_completed")  # subscribing twice calls it once
    events.subscribe("order.refunded", f"{__name__}.on_refunded")
    order = place(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id, "quantity": 1})
    for to in ("paid", "assigned", "shipped", "delivered", "completed"):
        transitions.transition(None, order, to, courier_id=shop["courier"].id)
    assert subscribers == []  # nothing is delivered before the commit
    commit()
    assert subscribers == [("order.completed", order.id, "completed")]
    transitions.refund(None, order, "退货")
    commit()
    assert subscribers[1:] == [("order.refunded", order.id, "refunded")]
    job = keyed("event:order.refunded:")[f"event:order.refunded:{order.id}"]
    assert (job.name, job.status, job.result["handlers"]) == ("dms.core.events.deliver", "finished",
                                                              [f"{__name__}.on_refunded"])
    # Emitting again (a retry of the same work) reuses the keyed job and calls nobody twice.
    assert events.emit("order.completed", order.id).id == keyed("event:order.completed:")[
        f"event:order.completed:{order.id}"].id
    commit()
    assert len(subscribers) == 2


def test_a_failing_subscriber_fails_its_job_not_the_completion(app, shop, place, subscribers):
    events.subscribe("order.completed", f"{__name__}.broken")
    order = place(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id, "quantity": 1})
    for to in ("paid", "assigned", "shipped", "delivered", "completed"):
        transitions.transition(None, order, to, courier_id=shop["courier"].id)
    commit()
    db.session.expire_all()
    job, = keyed("event:order.completed:").values()
    assert job.status == "failed" and "subscriber down" in job.error
    assert db.session.get(Order, order.id).status == "completed"


def test_delivered_orders_complete_after_the_waiting_days_once(app, shop, delivered, subscribers):
    events.subscribe("order.completed", f"{__name__}.on_completed")
    old, recent = delivered(8), delivered(6)
    assert app.config["ORDER_AUTO_COMPLETE_DAYS"] == 7
    assert transitions.due_for_completion() == [old.id]
    # Enqueued twice before the commit (a scheduler that ran twice): one job per order.
    assert jobs.complete_delivered_orders() == {"due": 1}
    assert jobs.complete_delivered_orders() == {"due": 1}
    commit()
    db.session.expire_all()
    assert (db.session.get(Order, old.id).status, db.session.get(Order, recent.id).status) == (
        "completed", "delivered")
    job, = keyed("order-auto-complete:").values()
    assert (job.key, job.status, job.result) == (f"order-auto-complete:{old.id}", "finished",
                                                 {"order": old.id, "completed": True})
    last = db.session.get(Order, old.id).events[-1]
    assert (last.to_status, last.actor_id, last.actor_label) == ("completed", None, "system")
    assert "7" in last.note
    assert subscribers == [("order.completed", old.id, "completed")]
    # The next run finds nothing to do; running the job again for the same order changes nothing.
    assert jobs.complete_delivered_orders() == {"due": 0}
    assert jobs.complete_order(old.id) == {"order": old.id, "completed": False}
    commit()
    assert len(keyed("order-auto-complete:")) == 1 and len(keyed("event:")) == 1
    assert subscribers == [("order.completed", old.id, "completed")]


def test_the_waiting_days_come_from_the_configuration(app, delivered, monkeypatch):
    recent = delivered(6)
    monkeypatch.setitem(app.config, "ORDER_AUTO_COMPLETE_DAYS", 5)
    assert transitions.due_for_completion() == [recent.id]
    run_periodic("dms.orders.jobs.complete_delivered_orders")
    db.session.expire_all()
    assert db.session.get(Order, recent.id).status == "completed"
    assert "5" in db.session.get(Order, recent.id).events[-1].note


def test_an_order_refunded_before_its_job_runs_is_left_alone(app, delivered):
    order = delivered(10)
    transitions.refund(None, order, "客户退货")
    commit()
    assert jobs.complete_order(order.id) == {"order": order.id, "completed": False}
    assert jobs.complete_order(999999) == {"order": 999999, "completed": False}
    commit()
    assert db.session.get(Order, order.id).status == "refunded"
    assert not services.stock_differences()


def test_the_auto_completion_is_scheduled_hourly():
    entry, = [p for p in PERIODIC if p.func == "dms.orders.jobs.complete_delivered_orders"]
    assert entry.cron == "5 * * * *" and entry.queue == "default"
