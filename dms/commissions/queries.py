"""Read-only queries of the commission pages: scoped lists, sums, counts and choices, all in SQL.

Every list of distributor-owned rows starts from `entries_query` or `statements_query`, which apply the
acting user's scope (DESIGN.md §9): a distributor only ever lists, sums or counts its own rows. Sums are
taken by the database, never by loading a period's entries; the bank file streams its rows. Nothing here
writes.
"""

from decimal import Decimal

from sqlalchemy import func, or_, select

from dms.commissions.models import ENTRY_STATES, STATEMENT_STATES, CommissionEntry, SettlementRun, Statement
from dms.core.listing import contains_pattern
from dms.core.models import Job
from dms.core.scope import HQ_SCOPE, scoped
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.orders.models import Order

ZERO = Decimal("0.00")
STATEMENT_TOTALS = ("accruals", "clawbacks", "rewards", "adjustments", "carried_in", "total", "payout",
                    "carried_out")
PAYOUT_STATES = ("confirmed", "paid")
CHOICES_LIMIT = 100


def money(value) -> Decimal:
    """A database sum as Decimal with two places (SQLite may answer int or float-free strings)."""
    return Decimal(str(value if value is not None else 0)).quantize(ZERO)


def number(value, digits: int = 9) -> int | None:
    """A positive whole number of at most `digits` ASCII digits, or None for junk."""
    value = (value or "").strip() if isinstance(value, str) else ""
    return int(value) if value.isascii() and value.isdigit() and 0 < len(value) <= digits and int(value) else None


def order_reference(order_id: int | None) -> str:
    """The number people quote for an order (DD000017), as the orders area prints it."""
    return f"DD{order_id:06d}" if order_id else ""


# --- entries ----------------------------------------------------------------------------------------------

def entries_query(actor):
    """The commission entries `actor` may see (a distributor: those it benefits from)."""
    return scoped(select(CommissionEntry), CommissionEntry.beneficiary_id, actor)


def status_sums(actor, period: str | None = None) -> dict[str, Decimal]:
    """{accrued, held, payable, paid}: the sums of the entries `actor` sees, by status (network-wide for HQ)."""
    stmt = scoped(select(CommissionEntry.status, func.coalesce(func.sum(CommissionEntry.amount), 0))
                  .group_by(CommissionEntry.status), CommissionEntry.beneficiary_id, actor)
    if period:
        stmt = stmt.where(CommissionEntry.period == period)
    found = {status: money(total) for status, total in db.session.execute(stmt)}
    return {status: found.get(status, ZERO) for status in ENTRY_STATES}


def visible_order_ids(actor, order_ids) -> set[int]:
    """Of `order_ids`, those whose order page `actor` may open (an upline does not see its downline's orders)."""
    ids = {i for i in order_ids if i}
    if not ids or actor is None or not actor.can("orders.view"):
        return set()
    if actor.can(HQ_SCOPE):
        return ids
    return set(db.session.scalars(scoped(select(Order.id).where(Order.id.in_(ids)), Order.distributor_id, actor)))


# --- statements -------------------------------------------------------------------------------------------

def statements_query(actor):
    """The statements `actor` may see (a distributor: its own)."""
    return scoped(select(Statement), Statement.distributor_id, actor)


def statement_totals(stmt) -> dict:
    """The count and the summed figures of the statements a (filtered) select finds, in one query."""
    sub = stmt.order_by(None).subquery()
    row = db.session.execute(select(func.count(), *[func.coalesce(func.sum(sub.c[name]), 0)
                                                    for name in STATEMENT_TOTALS])).one()
    return {"count": row[0], **{name: money(value) for name, value in zip(STATEMENT_TOTALS, row[1:], strict=True)}}


def statement_counts(actor) -> dict[str, int]:
    """{draft, confirmed, paid}: how many statements `actor` sees in each state."""
    stmt = scoped(select(Statement.status, func.count(Statement.id)).group_by(Statement.status),
                  Statement.distributor_id, actor)
    found = dict(db.session.execute(stmt).all())
    return {status: found.get(status, 0) for status in STATEMENT_STATES}


def carried_from(statement: Statement) -> list[tuple[int, str]]:
    """(id, number) of the earlier statements whose negative balance was carried into this one."""
    return list(db.session.execute(select(Statement.id, Statement.number)
                                   .where(Statement.carried_into_id == statement.id).order_by(Statement.period)))


def carried_into(statement: Statement) -> Statement | None:
    """The statement this one's negative balance was carried into, if any (the same distributor's)."""
    return db.session.get(Statement, statement.carried_into_id) if statement.carried_into_id else None


# --- settlement runs --------------------------------------------------------------------------------------

def runs_query():
    """Settlement runs (one per month), for HQ."""
    return select(SettlementRun)


def latest_runs(limit: int = 5) -> list[SettlementRun]:
    """The most recent months' runs."""
    return list(db.session.scalars(select(SettlementRun).order_by(SettlementRun.period.desc()).limit(limit)))


def jobs_of(runs) -> dict[int, Job]:
    """{job id: Job} of the runs' latest jobs, in one query."""
    ids = {r.job_id for r in runs if r.job_id}
    return {j.id: j for j in db.session.scalars(select(Job).where(Job.id.in_(ids)))} if ids else {}


# --- payouts ----------------------------------------------------------------------------------------------

def payouts_query(period: str):
    """The month's confirmed and paid statements that pay something out, by number."""
    return (select(Statement).join(Distributor, Distributor.id == Statement.distributor_id)
            .where(Statement.period == period, Statement.status.in_(PAYOUT_STATES), Statement.payout > 0))


def payout_totals(period: str) -> dict:
    """{status: (count, payout)} of the month's payouts, and the count of those without a bank account."""
    rows = db.session.execute(select(Statement.status, func.count(Statement.id), func.sum(Statement.payout))
                              .where(Statement.period == period, Statement.status.in_(PAYOUT_STATES),
                                     Statement.payout > 0).group_by(Statement.status)).all()
    by_status = {status: (count, money(total)) for status, count, total in rows}
    return {status: by_status.get(status, (0, ZERO)) for status in PAYOUT_STATES}


def _bank_file_stmt(period: str):
    # The account is encrypted, so SQL can tell only a missing one (NULL); a blank one is caught when read.
    return (select(Statement.number, Statement.distributor_id, Distributor.kind, Distributor.name,
                   Distributor.company_name, Distributor.bank_account_name, Distributor.bank_name,
                   Distributor.bank_account, Statement.payout)
            .join(Distributor, Distributor.id == Statement.distributor_id)
            .where(Statement.period == period, Statement.status == "confirmed", Statement.payout > 0)
            .order_by(Statement.number))


def bank_file_rows(period: str):
    """Rows of the bank file, streamed from SQL: the month's confirmed, unpaid payouts into a bank account.

    Each row: statement number, distributor id, kind, name, company name, account name, bank, account, payout.
    """
    stmt = _bank_file_stmt(period).where(Distributor.bank_account.is_not(None))
    for row in db.session.execute(stmt.execution_options(yield_per=500)):
        if (row.bank_account or "").strip():
            yield row


def bank_file_summary(period: str) -> tuple[int, Decimal, int]:
    """(rows, amount) the bank file holds, and how many confirmed payouts it leaves out for want of an account."""
    count, total, missing = 0, ZERO, 0
    stmt = (select(Distributor.bank_account, Statement.payout)
            .join(Distributor, Distributor.id == Statement.distributor_id)
            .where(Statement.period == period, Statement.status == "confirmed", Statement.payout > 0))
    for account, payout in db.session.execute(stmt.execution_options(yield_per=500)):
        if (account or "").strip():
            count, total = count + 1, total + payout
        else:
            missing += 1
    return count, money(total), missing


# --- choices ----------------------------------------------------------------------------------------------

def distributor_choices(q: str = "", chosen: int | None = None,
                        limit: int = CHOICES_LIMIT) -> tuple[list[tuple[str, str]], bool]:
    """Distributors by name matching `q` (name, company or id), the chosen one always in; and whether more match."""
    stmt = select(Distributor.id, Distributor.kind, Distributor.name, Distributor.company_name)
    q = (q or "").strip()[:100]
    if q:
        pattern = contains_pattern(q)
        conditions = [Distributor.name.ilike(pattern, escape="\\"),
                      Distributor.company_name.ilike(pattern, escape="\\")]
        if number(q) is not None:
            conditions.append(Distributor.id == number(q))
        stmt = stmt.where(or_(*conditions))
    rows = list(db.session.execute(stmt.order_by(Distributor.name, Distributor.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    if chosen and all(r.id != chosen for r in rows):
        rows += list(db.session.execute(select(Distributor.id, Distributor.kind, Distributor.name,
                                               Distributor.company_name).where(Distributor.id == chosen)))
    return [(str(r.id), f"{payee_name(r.kind, r.name, r.company_name)} (#{r.id})") for r in rows], more


def payee_name(kind: str, name: str, company_name: str | None, account_name: str | None = None) -> str:
    """The name a payment goes to: the account holder's, else the distributor's (the company's for a company)."""
    if account_name:
        return account_name
    return (company_name or name) if kind == "company" else name
