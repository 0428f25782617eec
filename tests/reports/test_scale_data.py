"""The large dataset's generator, run small: every invariant holds, the ledger is the calculator's, the
seasonality is there, and the command refuses a second run."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dms.commissions.calculator import distribute, sale_of
from dms.commissions.models import CommissionEntry, SettlementRun, Statement
from dms.commissions.rules import version_at
from dms.core.cli import CHECKS
from dms.extensions import db
from dms.orders.models import Order, OrderEvent, OrderLine
from dms.reports.scale_data import Sizes, already_made, generate

SMALL = Sizes(orders=1000, distributors=25, customers=200, products=15, days=140, seed=7)


@pytest.fixture
def made(app):
    counts = generate(SMALL, echo=lambda line: None)
    db.session.expire_all()
    return counts


def test_every_invariant_holds_and_orders_have_seasonality(made):
    assert [problem for check in CHECKS for problem in check()] == []
    assert made["orders"] == db.session.scalar(select(func.count(Order.id))) == SMALL.orders
    assert made["distributors"] == SMALL.distributors
    assert db.session.scalar(select(func.count(OrderLine.id))) == made["order_lines"] > SMALL.orders
    states = Counter(db.session.scalars(select(Order.status)))
    assert {"completed", "cancelled", "refunded"} <= set(states)
    assert states["completed"] > 0.8 * SMALL.orders
    # Every order's timeline starts with "placed" and ends in the order's status.
    last = dict(db.session.execute(select(OrderEvent.order_id, func.max(OrderEvent.id))
                                   .group_by(OrderEvent.order_id)).all())
    ends = dict(db.session.execute(select(OrderEvent.id, OrderEvent.to_status)).all())
    statuses = dict(db.session.execute(select(Order.id, Order.status)).all())
    assert all(ends[last[order_id]] == status for order_id, status in statuses.items())

    days = Counter((created + timedelta(hours=8)).weekday()  # the business day (Asia/Shanghai)
                   for created in db.session.scalars(select(Order.created_at)))
    weekday, weekend = sum(days[d] for d in range(5)) / 5, (days[5] + days[6]) / 2
    assert weekend > 1.15 * weekday
    # The data is there: a second run is refused rather than doubling it.
    assert already_made()
    with pytest.raises(ValueError):
        generate(SMALL, echo=lambda line: None)


def test_commission_entries_are_the_calculators(made):
    orders = db.session.scalars(select(Order).where(Order.status == "completed", Order.completed_at.isnot(None))
                                .join(CommissionEntry, CommissionEntry.order_id == Order.id)
                                .group_by(Order.id).order_by(Order.id).limit(40)).all()
    assert len(orders) == 40
    for order in orders:
        shares = distribute(sale_of(order), version_at(order.completed_at)).shares
        entries = db.session.execute(select(CommissionEntry.beneficiary_id, CommissionEntry.level,
                                            CommissionEntry.amount, CommissionEntry.base)
                                     .where(CommissionEntry.order_id == order.id, CommissionEntry.kind == "accrual")
                                     .order_by(CommissionEntry.level)).all()
        assert [(s.beneficiary.id, s.level, s.amount, s.base) for s in shares] == [tuple(e) for e in entries]
    # A refunded order's accruals and clawbacks cancel out.
    refunded = db.session.execute(select(CommissionEntry.order_id, func.sum(CommissionEntry.amount))
                                  .join(Order, Order.id == CommissionEntry.order_id)
                                  .where(Order.status == "refunded").group_by(CommissionEntry.order_id)).all()
    assert refunded and all(Decimal(total) == 0 for _order, total in refunded)


def test_two_periods_are_settled_by_the_application(made):
    runs = db.session.scalars(select(SettlementRun).order_by(SettlementRun.period)).all()
    assert [run.status for run in runs] == ["finished", "finished"]
    for run in runs:
        statements = db.session.scalars(select(Statement).where(Statement.period == run.period)).all()
        assert statements and run.statements_created == len(statements)
        taken = db.session.scalar(select(func.sum(CommissionEntry.amount))
                                  .where(CommissionEntry.statement_id.in_([s.id for s in statements])))
        assert sum((s.total - s.carried_in for s in statements), Decimal("0")) == taken


def test_the_command_makes_it_and_rejects_an_unknown_scale(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["dms", "seed-demo", "--scale", "large", "--orders", "300", "--distributors", "12",
                                 "--customers", "40", "--products", "8"])
    assert result.exit_code == 0, result.output
    assert "300" in result.output and "sc0001" in result.output
    assert db.session.scalar(select(func.count(Order.id))) == 300
    result = runner.invoke(args=["dms", "seed-demo", "--scale", "huge"])
    assert result.exit_code == 2 and "--scale" in result.output
