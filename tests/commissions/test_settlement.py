"""Settlement: statements from the ledger, hold periods, carry-forward of clawed-back payments, rewards,
re-runs that create nothing, and `flask dms check` against the statements."""

from datetime import date, datetime
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select, update

from dms.commissions import ledger, settlement
from dms.commissions.models import CommissionEntry, SettlementRun, Statement
from dms.core.errors import ValidationError
from dms.distributors.models import DistributorTarget
from dms.extensions import db


def statements():
    """The statements' figures, by period, the seller (created last, so the highest id) first."""
    return [(s.distributor_id, s.period, s.accruals, s.clawbacks, s.rewards, s.adjustments, s.carried_in, s.total,
             s.payout, s.carried_out)
            for s in db.session.scalars(select(Statement).order_by(Statement.period, Statement.distributor_id.desc()))]


def refund(order, at):
    order.status, order.refunded_at = "refunded", at
    db.session.commit()
    ledger.clawback_order(order.id)
    db.session.commit()


def test_a_month_settles_its_available_entries(app, chain, completed_order, publish_rules):
    seller, city = chain(2)
    publish_rules(rates=("10", "5"), hold_days=7)
    early = completed_order(seller, amount="300.00", completed_at=datetime(2026, 10, 10))
    late = completed_order(seller, amount="200.00", completed_at=datetime(2026, 10, 28))  # hold ends 4 November
    for order in (early, late):
        ledger.accrue_order(order.id)
    db.session.commit()
    result = settlement.run_now("2026-10")
    assert result["new_statements"] == 2
    assert statements() == [
        (seller.id, "2026-10", D("30.00"), 0, 0, 0, 0, D("30.00"), D("30.00"), 0),
        (city.id, "2026-10", D("15.00"), 0, 0, 0, 0, D("15.00"), D("15.00"), 0),
    ]
    number = db.session.scalar(select(Statement.number).where(Statement.distributor_id == seller.id))
    assert number == f"ST202610-{seller.id:06d}"
    # the late order's entries wait for November
    waiting = db.session.scalars(select(CommissionEntry).where(CommissionEntry.order_id == late.id)).all()
    assert {e.statement_id for e in waiting} == {None}
    settlement.run_now("2026-11")
    assert [row[1:3] for row in statements()][2:] == [("2026-11", D("20.00")), ("2026-11", D("10.00"))]
    assert settlement.differences() == []


def test_running_a_month_twice_creates_nothing(app, chain, completed_order, publish_rules):
    seller, city = chain(2)
    publish_rules(rates=("10", "5"))
    ledger.accrue_order(completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 3)).id)
    db.session.commit()
    settlement.run_now("2026-10")
    before = statements()
    result = settlement.run_now("2026-10")
    assert result["new_statements"] == 0 and statements() == before
    assert db.session.scalar(select(func.count(SettlementRun.id))) == 1
    assert db.session.scalar(select(SettlementRun.attempts)) == 2


def test_refund_before_payment_nets_out_on_the_same_statement(app, chain, completed_order, publish_rules):
    seller, city = chain(2)
    publish_rules(rates=("10", "5"), hold_days=7)
    kept = completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 5))
    refunded = completed_order(seller, amount="400.00", completed_at=datetime(2026, 10, 20))
    for order in (kept, refunded):
        ledger.accrue_order(order.id)
    db.session.commit()
    refund(refunded, datetime(2026, 10, 22))
    settlement.run_now("2026-10")
    assert statements() == [
        (seller.id, "2026-10", D("50.00"), D("-40.00"), 0, 0, 0, D("10.00"), D("10.00"), 0),
        (city.id, "2026-10", D("25.00"), D("-20.00"), 0, 0, 0, D("5.00"), D("5.00"), 0),
    ]


def test_refund_after_payment_carries_a_negative_balance_forward(app, chain, completed_order, publish_rules):
    seller, city = chain(2)
    publish_rules(rates=("10", "5"), hold_days=0)
    big = completed_order(seller, amount="1000.00", completed_at=datetime(2026, 9, 10))
    ledger.accrue_order(big.id)
    db.session.commit()
    settlement.run_now("2026-09")
    for s in db.session.scalars(select(Statement)).all():
        settlement.confirm(None, s)
        settlement.pay(None, s, date(2026, 10, 2), "BANK-1")
    db.session.commit()
    assert set(db.session.scalars(select(CommissionEntry.status))) == {"paid"}
    small = completed_order(seller, amount="300.00", completed_at=datetime(2026, 10, 8))
    ledger.accrue_order(small.id)
    db.session.commit()
    refund(big, datetime(2026, 10, 15))  # 100.00 and 50.00 were paid in September
    settlement.run_now("2026-10")
    october = statements()[2:]
    assert october == [
        (seller.id, "2026-10", D("30.00"), D("-100.00"), 0, 0, 0, D("-70.00"), 0, D("-70.00")),
        (city.id, "2026-10", D("15.00"), D("-50.00"), 0, 0, 0, D("-35.00"), 0, D("-35.00")),
    ]
    ledger.accrue_order(completed_order(seller, amount="1000.00", completed_at=datetime(2026, 11, 3)).id)
    db.session.commit()
    settlement.run_now("2026-11")
    november = statements()[4:]
    assert november == [
        (seller.id, "2026-11", D("100.00"), 0, 0, 0, D("-70.00"), D("30.00"), D("30.00"), 0),
        (city.id, "2026-11", D("50.00"), 0, 0, 0, D("-35.00"), D("15.00"), D("15.00"), 0),
    ]
    october_seller = db.session.scalar(select(Statement).where(Statement.period == "2026-10",
                                                               Statement.distributor_id == seller.id))
    assert october_seller.carried_into_id == db.session.scalar(select(Statement.id).where(
        Statement.period == "2026-11", Statement.distributor_id == seller.id))
    assert settlement.differences() == []


def test_rewards_sales_target_and_team_growth(app, chain, completed_order, publish_rules, make_distributor):
    from tests.commissions.conftest import backdate_links

    seller, city = chain(2)
    publish_rules(rates=("10", "5"), hold_days=0, rewards=[
        {"kind": "sales_target", "period": "month", "name": "月度达标", "amount": D("88.00")},
        {"kind": "sales_target", "period": "quarter", "name": "季度达标", "percent": D("1.5")},
        {"kind": "team_growth", "period": "month", "name": "团队增长", "amount": D("200.00"), "min_new_downlines": 2},
    ])
    db.session.add_all([
        DistributorTarget(distributor_id=seller.id, period="month", period_start=date(2026, 9, 1), amount=D("500")),
        DistributorTarget(distributor_id=seller.id, period="quarter", period_start=date(2026, 7, 1),
                          amount=D("1000")),
        DistributorTarget(distributor_id=city.id, period="month", period_start=date(2026, 9, 1), amount=D("9999")),
    ])
    db.session.commit()
    backdate_links(datetime(2025, 1, 1))
    # two new downlines of the city in September, one of them active (an order), one not
    new_a = make_distributor("110106", level="county", name="新下级甲", upline_id=city.id)
    new_b = make_distributor("110106", level="county", name="新下级乙", upline_id=city.id)
    new_c = make_distributor("110106", level="county", name="新下级丙", upline_id=city.id)
    from dms.distributors.models import UplineLink
    db.session.execute(update(UplineLink).where(UplineLink.distributor_id.in_([new_a.id, new_b.id, new_c.id]))
                       .values(effective_from=datetime(2026, 9, 2)))
    db.session.commit()
    for order in (completed_order(seller, amount="400.00", completed_at=datetime(2026, 7, 20)),
                  completed_order(seller, amount="600.00", completed_at=datetime(2026, 9, 5)),
                  completed_order(new_a, amount="50.00", completed_at=datetime(2026, 9, 6)),
                  completed_order(new_b, amount="50.00", completed_at=datetime(2026, 9, 7))):
        ledger.accrue_order(order.id)
    db.session.commit()
    settlement.run_now("2026-09")
    rewards = db.session.execute(select(CommissionEntry.beneficiary_id, CommissionEntry.reason, CommissionEntry.amount)
                                 .where(CommissionEntry.kind == "reward").order_by(CommissionEntry.id)).all()
    # the seller reached September's 500 and the quarter's 1000 (400 + 600): 88.00 and 1.5 % of 1000.00;
    # the city missed its target but gained two active new downlines (the third had no order).
    assert sorted(rewards) == sorted([(seller.id, "月度达标", D("88.00")), (seller.id, "季度达标", D("15.00")),
                                      (city.id, "团队增长", D("200.00"))])
    seller_statement = db.session.scalar(select(Statement).where(Statement.distributor_id == seller.id))
    # accruals: July's 40.00 (never settled before) and September's 60.00
    assert seller_statement.rewards == D("103.00") and seller_statement.accruals == D("100.00")
    settlement.run_now("2026-09")
    assert db.session.scalar(select(func.count(CommissionEntry.id)).where(CommissionEntry.kind == "reward")) == 3


def test_adjustments_and_holds(app, chain, completed_order, publish_rules):
    seller, city = chain(2)
    publish_rules(rates=("10", "5"), hold_days=0)
    order = completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 5))
    ledger.accrue_order(order.id)
    db.session.commit()
    with pytest.raises(ValidationError) as missing:
        ledger.adjust(None, seller.id, "25.00", " ")
    assert "reason" in missing.value.fields
    held = db.session.scalar(select(CommissionEntry).where(CommissionEntry.beneficiary_id == city.id))
    ledger.hold(None, held.id, "待核实")
    db.session.commit()
    settlement.run_now("2026-10")
    assert [row[0] for row in statements()] == [seller.id]  # the city's only entry is held
    ledger.release(None, held.id)
    db.session.commit()
    assert held.status == "payable" and held.statement_id is None
    assert ledger.balances(city.id) == {"accrued": 0, "held": 0, "payable": D("5.00"), "paid": 0}


def test_months_settle_in_order_and_only_when_over(app, chain, completed_order, publish_rules):
    seller, _ = chain(2)
    publish_rules(rates=("10", "5"), hold_days=0)
    ledger.accrue_order(completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 5)).id)
    db.session.commit()
    with pytest.raises(ValidationError):
        settlement.run_now("2999-01")
    settlement.run_now("2026-10")
    with pytest.raises(ValidationError) as earlier:
        settlement.run_now("2026-09")
    assert "2026-10" in str(earlier.value.fields["period"][0])


def test_check_finds_a_tampered_statement(app, chain, completed_order, publish_rules):
    seller, _ = chain(2)
    publish_rules(rates=("10", "5"), hold_days=0)
    ledger.accrue_order(completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 5)).id)
    db.session.commit()
    settlement.run_now("2026-10")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["dms", "check"]).exit_code == 0
    db.session.execute(update(Statement).where(Statement.distributor_id == seller.id)
                       .values(accruals=D("11.00"), total=D("11.00"), payout=D("11.00")))
    db.session.commit()
    result = runner.invoke(args=["dms", "check"])
    assert result.exit_code == 1 and f"ST202610-{seller.id:06d}" in result.output
