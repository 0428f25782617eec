"""Monthly settlement (结算): statements from the ledger, re-runnable and crash-safe.

A run settles one finished month, distributor by distributor, each in its own transaction: record the
month's rewards, take every open entry (accrued or payable, not held, not on a statement) that became
available by the month's last day, add any negative balance carried from earlier statements, and write
the statement. The statement is unique per (distributor, month), so running the month again — or a
worker killed mid-run and started again — settles only those not settled yet, with the same result.
Entries are taken and summed by set-based SQL; a period's entries are never loaded into Python.
Months settle in order: once a later month has statements, an earlier one cannot be run.
"""

from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from dms.commissions import rewards
from dms.commissions.ledger import OPEN_STATES, release_due
from dms.commissions.models import CommissionEntry, SettlementRun, Statement
from dms.commissions.rules import require_manage, version_at
from dms.core import audit, jobs
from dms.core.errors import Conflict, InvalidTransition, NotFound, ValidationError
from dms.core.models import Job
from dms.core.periods import current_month, month_last_day, month_name, parse_month
from dms.core.time import business_today, utcnow
from dms.distributors.models import Distributor
from dms.extensions import db

ZERO = Decimal("0.00")
BATCH = 200
ACTIVE_JOB = ("pending", "queued", "running", "retrying")
TOTAL_COLUMNS = {"accrual": "accruals", "clawback": "clawbacks", "reward": "rewards", "adjustment": "adjustments"}


def statement_number(distributor_id: int, month: date) -> str:
    """The statement's number, fixed by distributor and month (so a re-run names it the same)."""
    return f"ST{month.year:04d}{month.month:02d}-{distributor_id:06d}"


def _check_period(period: str) -> date:
    month = parse_month(period)
    if month >= current_month():
        raise ValidationError(fields={"period": [_("A month can be settled once it is over.")]})
    later = db.session.scalar(select(Statement.period).where(Statement.period > month_name(month))
                              .order_by(Statement.period.desc()).limit(1))
    if later:
        raise ValidationError(fields={"period": [
            _("Months are settled in order: %(later)s is settled already.", later=later)]})
    return month


def start_run(actor, period: str, owner_id: int | None = None) -> SettlementRun:
    """Queue the settlement of a finished month on the `default` queue (again, when it ran before)."""
    require_manage(actor)
    month = _check_period(period)
    name = month_name(month)
    run = db.session.scalar(select(SettlementRun).where(SettlementRun.period == name))
    if run is None:
        run = SettlementRun(period=name, attempts=0, created_by_id=getattr(actor, "id", None))
        try:
            # Added inside the savepoint: a concurrent run's insert wins, and its rollback leaves no pending row.
            with db.session.begin_nested():
                db.session.add(run)
                db.session.flush()
        except IntegrityError:
            raise Conflict(_("This month is being settled already.")) from None
    elif run.job_id is not None and db.session.scalar(select(Job.status).where(Job.id == run.job_id)) in ACTIVE_JOB:
        raise Conflict(_("This month is being settled already."))
    run.attempts += 1
    run.status = "queued"
    job = jobs.enqueue(settle_period, run.id, queue="default", key=f"settlement:{name}:{run.attempts}",
                       owner_id=owner_id if owner_id is not None else getattr(actor, "id", None))
    run.job_id = job.id
    db.session.flush()
    audit.record("settlement.run", "settlement_run", run.id, name, {"attempt": run.attempts}, actor=actor)
    return run


def scheduled_run() -> int | None:
    """Periodic (monthly): settle last month unless it was settled; return the run id."""
    from dms.core.periods import previous_month

    name = month_name(previous_month(current_month()))
    if db.session.scalar(select(SettlementRun.id).where(SettlementRun.period == name)) is not None:
        return None
    run = start_run(None, name)
    jobs.commit()
    return run.id


def run_now(period: str) -> dict:
    """Settle a finished month here and now, outside the queue (`flask dms settle`); same result as the job."""
    month = _check_period(period)
    run = db.session.scalar(select(SettlementRun).where(SettlementRun.period == month_name(month)))
    if run is None:
        run = SettlementRun(period=month_name(month), attempts=0)
        db.session.add(run)
    run.attempts += 1
    db.session.commit()
    result = settle_period(run.id)
    db.session.commit()
    return result


def settle_period(run_id: int) -> dict:
    """The job: settle every distributor for the run's month, committing distributor by distributor."""
    run = db.session.get(SettlementRun, run_id)
    if run is None:
        return {"run_id": run_id, "missing": True}
    month = parse_month(run.period)
    run.status, run.started_at = "running", run.started_at or utcnow()
    release_due()
    run.distributors_total = db.session.scalar(select(func.count(Distributor.id))) or 0
    db.session.commit()
    version = version_at(rewards.period_end_moment(month))
    created, done, last_id = 0, 0, 0
    while True:
        ids = list(db.session.scalars(select(Distributor.id).where(Distributor.id > last_id)
                                      .order_by(Distributor.id).limit(BATCH)))
        if not ids:
            break
        for distributor_id in ids:
            if settle_distributor(distributor_id, month, run.id, version) is not None:
                created += 1
            done += 1
            db.session.execute(update(SettlementRun).where(SettlementRun.id == run.id)
                               .values(distributors_done=done))
            db.session.commit()  # one distributor, one transaction: a crash keeps what is settled
        last_id = ids[-1]
        total = run.distributors_total or 1
        jobs.set_progress(None, 100 * done // total, _("%(done)s of %(total)s distributors", done=done, total=total))
    run = db.session.get(SettlementRun, run_id)
    run.statements_created = db.session.scalar(select(func.count(Statement.id))
                                               .where(Statement.period == run.period)) or 0
    run.status, run.finished_at = "finished", utcnow()
    return {"run_id": run.id, "period": run.period, "new_statements": created,
            "statements": run.statements_created}


def _carried(distributor_id: int, period: str):
    return (Statement.distributor_id == distributor_id, Statement.period < period, Statement.carried_out < 0,
            Statement.carried_into_id.is_(None))


def _open_entries(distributor_id: int, last_day: date):
    return (CommissionEntry.beneficiary_id == distributor_id, CommissionEntry.statement_id.is_(None),
            CommissionEntry.status.in_(OPEN_STATES), CommissionEntry.available_on <= last_day)


def settle_distributor(distributor_id: int, month: date, run_id: int | None = None, version=None) -> Statement | None:
    """Settle one distributor's month; None when it had nothing to settle or is settled already."""
    period = month_name(month)
    last_day = month_last_day(month)
    # One round trip for the three checks (settling is mostly round trips): settled already, the carry-in,
    # and whether an entry is open. A reward awarded below is open too (payable, due on the last day).
    settled, carried, has_entries = db.session.execute(select(
        select(Statement.id).where(Statement.distributor_id == distributor_id, Statement.period == period).exists(),
        select(func.coalesce(func.sum(Statement.carried_out), 0)).where(*_carried(distributor_id, period))
        .scalar_subquery(),
        select(CommissionEntry.id).where(*_open_entries(distributor_id, last_day)).exists())).one()
    if settled:
        return None
    has_entries = rewards.award(distributor_id, month, version) > 0 or has_entries
    carried_in = Decimal(str(carried)).quantize(ZERO)
    if not has_entries and carried_in == 0:
        return None
    statement = Statement(number=statement_number(distributor_id, month), distributor_id=distributor_id,
                          period=period, run_id=run_id, carried_in=carried_in)
    db.session.add(statement)
    db.session.flush()  # the unique (distributor, period) stops a concurrent run here, before any entry moves
    db.session.execute(update(CommissionEntry).where(*_open_entries(distributor_id, last_day))
                       .values(statement_id=statement.id, status="payable"))
    count = 0
    for kind, total, n in db.session.execute(
            select(CommissionEntry.kind, func.sum(CommissionEntry.amount), func.count(CommissionEntry.id))
            .where(CommissionEntry.statement_id == statement.id).group_by(CommissionEntry.kind)):
        setattr(statement, TOTAL_COLUMNS[kind], Decimal(str(total)).quantize(ZERO))
        count += n
    statement.entry_count = count
    statement.total = (statement.accruals + statement.clawbacks + statement.rewards + statement.adjustments
                       + carried_in)
    statement.payout = max(statement.total, ZERO)
    statement.carried_out = min(statement.total, ZERO)
    db.session.execute(update(Statement).where(*_carried(distributor_id, period), Statement.id != statement.id)
                       .values(carried_into_id=statement.id))
    db.session.flush()
    return statement


def get_statement(statement_id) -> Statement:
    """A statement by id (callers scope it); raises NotFound."""
    statement = db.session.get(Statement, statement_id)
    if statement is None:
        raise NotFound()
    return statement


def confirm(actor, statement: Statement) -> Statement:
    """HQ confirms a draft statement (its figures are final)."""
    require_manage(actor)
    done = db.session.execute(update(Statement).where(Statement.id == statement.id, Statement.status == "draft")
                              .values(status="confirmed", confirmed_at=utcnow(),
                                      confirmed_by_id=getattr(actor, "id", None))).rowcount
    if not done:
        raise InvalidTransition(_("Only a draft statement can be confirmed."))
    db.session.refresh(statement)
    audit.record("statement.confirm", "statement", statement.id, statement.number, {}, actor=actor)
    return statement


def pay(actor, statement: Statement, paid_on: date | None = None, reference: str = "") -> Statement:
    """Record a confirmed statement as paid (bank reference needed when it pays out); its entries become paid."""
    require_manage(actor)
    reference = (reference or "").strip()[:64]
    paid_on = paid_on or business_today()
    errors = {}
    if statement.payout > 0 and not reference:
        errors["reference"] = [_("Give the bank's payment reference.")]
    if paid_on > business_today():
        errors["paid_on"] = [_("A payment date cannot be in the future.")]
    if errors:
        raise ValidationError(fields=errors)
    done = db.session.execute(update(Statement).where(Statement.id == statement.id, Statement.status == "confirmed")
                              .values(status="paid", paid_on=paid_on, payment_reference=reference,
                                      paid_by_id=getattr(actor, "id", None))).rowcount
    if not done:
        raise InvalidTransition(_("Only a confirmed statement can be paid."))
    db.session.execute(update(CommissionEntry).where(CommissionEntry.statement_id == statement.id)
                       .values(status="paid"))
    db.session.refresh(statement)
    audit.record("statement.pay", "statement", statement.id, statement.number,
                 {"paid_on": paid_on.isoformat(), "reference": reference, "payout": str(statement.payout)},
                 actor=actor)
    return statement


def differences() -> list[str]:
    """Statements whose stored totals differ from their entries, or whose carry-in does not match (for check)."""
    problems = []
    sums = (select(CommissionEntry.statement_id, CommissionEntry.kind, func.sum(CommissionEntry.amount).label("total"),
                   func.count(CommissionEntry.id).label("n"))
            .where(CommissionEntry.statement_id.is_not(None))
            .group_by(CommissionEntry.statement_id, CommissionEntry.kind))
    by_statement: dict[int, dict] = {}
    for statement_id, kind, total, n in db.session.execute(sums):
        figures = by_statement.setdefault(statement_id, {"n": 0})
        figures[TOTAL_COLUMNS[kind]] = Decimal(str(total)).quantize(ZERO)
        figures["n"] += n
    carried = dict(db.session.execute(select(Statement.carried_into_id, func.sum(Statement.carried_out))
                                      .where(Statement.carried_into_id.is_not(None))
                                      .group_by(Statement.carried_into_id)).all())
    for s in db.session.scalars(select(Statement).order_by(Statement.id)).yield_per(500):
        figures = by_statement.get(s.id, {"n": 0})
        for column in TOTAL_COLUMNS.values():
            if getattr(s, column) != figures.get(column, ZERO):
                problems.append(_("statement %(number)s: %(column)s is %(stored)s, its entries sum to %(found)s",
                                  number=s.number, column=column, stored=getattr(s, column),
                                  found=figures.get(column, ZERO)))
        if s.entry_count != figures["n"]:
            problems.append(_("statement %(number)s: %(stored)s entries recorded, %(found)s found", number=s.number,
                              stored=s.entry_count, found=figures["n"]))
        expected_in = Decimal(str(carried.get(s.id, 0))).quantize(ZERO)
        if s.carried_in != expected_in:
            problems.append(_("statement %(number)s: carried in %(stored)s, but %(found)s was carried into it",
                              number=s.number, stored=s.carried_in, found=expected_in))
        total = s.accruals + s.clawbacks + s.rewards + s.adjustments + s.carried_in
        if s.total != total or s.payout != max(total, ZERO) or s.carried_out != min(total, ZERO):
            problems.append(_("statement %(number)s: its totals do not add up", number=s.number))
    unpaid = db.session.scalar(select(func.count(CommissionEntry.id)).join(
        Statement, Statement.id == CommissionEntry.statement_id).where(Statement.status == "paid",
                                                                      CommissionEntry.status != "paid"))
    if unpaid:
        problems.append(_("%(count)s entries on paid statements are not marked paid", count=unpaid))
    stray = db.session.scalar(select(func.count(CommissionEntry.id)).where(CommissionEntry.status == "paid",
                                                                           CommissionEntry.statement_id.is_(None)))
    if stray:
        problems.append(_("%(count)s entries are marked paid without a statement", count=stray))
    return problems
