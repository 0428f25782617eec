"""Order events reach the ledger through the outbox; the settlement job; concurrent accruals add once."""

from datetime import datetime
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from dms.commissions import ledger, settlement
from dms.commissions.models import CommissionEntry, SettlementRun, Statement
from dms.core import jobs
from dms.core.models import Job
from dms.extensions import db
from tests.concurrency import race


def amounts(order_id):
    return sorted((e.level, e.kind, e.amount) for e in db.session.scalars(
        select(CommissionEntry).where(CommissionEntry.order_id == order_id)))


def test_completing_and_refunding_an_order_accrue_and_claw_back(app, chain, completed_order, publish_rules):
    from dms.orders import transitions

    seller, city = chain(2)
    publish_rules(rates=("10", "5"))
    order = completed_order(seller, amount="200.00", status="delivered")
    order.completed_at = None
    db.session.commit()
    transitions.complete(None, order)
    jobs.commit()  # no Redis in tests: the event's job runs in-process after the commit
    assert amounts(order.id) == [(1, "accrual", D("20.00")), (2, "accrual", D("10.00"))]
    transitions.refund(None, db.session.get(type(order), order.id), "破损", restock=False)
    jobs.commit()
    assert amounts(order.id) == [(1, "accrual", D("20.00")), (1, "clawback", D("-20.00")),
                                 (2, "accrual", D("10.00")), (2, "clawback", D("-10.00"))]
    handled = db.session.scalars(select(Job.status).where(Job.name == "dms.core.events.deliver")).all()
    assert handled == ["finished", "finished"]


def test_the_settlement_job_runs_through_the_outbox(app, chain, completed_order, publish_rules):
    seller, city = chain(2)
    publish_rules(rates=("10", "5"), hold_days=0)
    ledger.accrue_order(completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 5)).id)
    db.session.commit()
    run = settlement.start_run(None, "2026-10")
    jobs.commit()
    run = db.session.get(SettlementRun, run.id)
    job = db.session.get(Job, run.job_id)
    assert (job.status, job.queue, job.result["statements"]) == ("finished", "default", 2)
    assert (run.status, run.distributors_done, run.statements_created) == ("finished", 2, 2)
    again = settlement.start_run(None, "2026-10")  # a re-run is a new job that creates nothing
    jobs.commit()
    assert db.session.get(Job, again.job_id).result["new_statements"] == 0
    assert db.session.scalar(select(func.count(Statement.id))) == 2


@pytest.mark.postgresql
def test_concurrent_accruals_of_one_order_add_each_entry_once(app, chain, completed_order, publish_rules):
    seller, city = chain(2)
    publish_rules(rates=("10", "5"))
    # The id is read here, not in the threads: an expired ORM object would be refreshed through this
    # thread's session, from six threads at once.
    order_id = completed_order(seller, amount="100.00").id
    outcomes = race(app, 6, lambda n: ledger.accrue_order(order_id))
    assert sorted(value for _, value in outcomes) == [0, 0, 0, 0, 0, 2]
    assert db.session.scalar(select(func.count(CommissionEntry.id))) == 2


@pytest.mark.redis
def test_with_redis_the_order_event_and_the_settlement_run_in_a_real_worker(app, redis_url, burst, fresh, chain,
                                                                              completed_order, publish_rules):
    from dms.orders import transitions

    seller, city = chain(2)
    publish_rules(rates=("10", "5"), hold_days=0)
    order = completed_order(seller, amount="300.00", status="delivered")
    order.completed_at = None
    db.session.commit()
    transitions.complete(None, order)
    jobs.commit()
    assert amounts(order.id) == []  # queued in Redis, not run in the web process
    assert burst() is True
    db.session.rollback()
    assert amounts(order.id) == [(1, "accrual", D("30.00")), (2, "accrual", D("15.00"))]
    ledger.accrue_order(completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 5)).id)
    db.session.commit()
    run = settlement.start_run(None, "2026-10")
    jobs.commit()
    assert fresh(Job, run.job_id).status == "queued"
    assert burst() is True
    assert fresh(Job, run.job_id).status == "finished"
    assert sorted(db.session.scalars(select(Statement.total))) == [D("5.00"), D("10.00")]


@pytest.mark.postgresql
def test_two_nodes_starting_the_same_month_at_once_give_one_run_and_a_conflict(app):
    """The loser of the race for the run's row gets a Conflict and a session that still works (the error
    page it renders queries the database): not a PendingRollbackError, which would be a 500."""
    from dms.core.errors import Conflict

    def start(n):
        try:
            return settlement.start_run(None, "2026-10").id
        except Conflict:
            return ("conflict", db.session.scalar(select(func.count(SettlementRun.id))))

    outcomes = race(app, 2, start)
    values = [value for _outcome, value in outcomes]
    assert sorted(isinstance(value, tuple) for value in values) == [False, True], outcomes
    assert ("conflict", 1) in values  # the loser saw the winner's run through its still-working session
    db.session.rollback()
    assert db.session.scalar(select(func.count(SettlementRun.id))) == 1
