"""`flask dms seed-demo` gives a network with rules, a settled and paid month and an open month, once."""

from sqlalchemy import func, select

from dms.commissions.models import CommissionEntry, RuleVersion, Statement
from dms.core.periods import current_month, month_name, previous_month
from dms.extensions import db


def test_seed_demo_settles_last_month_and_leaves_this_month_open(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["dms", "seed-demo"])
    assert first.exit_code == 0, first.output
    db.session.expire_all()
    assert [v.status for v in db.session.scalars(select(RuleVersion).order_by(RuleVersion.number))] == [
        "published", "draft"]
    last = month_name(previous_month(current_month()))
    statements = db.session.scalars(select(Statement)).all()
    assert statements and {(s.period, s.status) for s in statements} == {(last, "paid")}
    assert {s.payment_reference[:5] for s in statements if s.payout > 0} == {"DEMO-"}
    open_entries = db.session.scalar(select(func.count(CommissionEntry.id)).where(
        CommissionEntry.statement_id.is_(None), CommissionEntry.period == month_name(current_month())))
    assert open_entries > 0
    assert db.session.scalar(select(func.count(CommissionEntry.id)).where(CommissionEntry.kind == "clawback")) > 0
    counts = (len(statements), db.session.scalar(select(func.count(CommissionEntry.id))))

    again = runner.invoke(args=["dms", "seed-demo"])
    assert again.exit_code == 0, again.output
    db.session.expire_all()
    assert (db.session.scalar(select(func.count(Statement.id))),
            db.session.scalar(select(func.count(CommissionEntry.id)))) == counts
    check = runner.invoke(args=["dms", "check"])
    assert check.exit_code == 0, check.output
