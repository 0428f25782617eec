"""The commission ledger (佣金): accrual on completion, clawback on refund, HQ adjustments, holds.

Entries are inserted with ON CONFLICT DO NOTHING on their unique business key — (order,
beneficiary, level, kind), or `key` for rewards — so a job run twice, or two workers at once, add
each entry once. Amounts never change after insert; a refund writes negative clawback entries, and a
clawback of an amount already paid is simply settled in a later statement, where a negative total
carries forward. Services flush, never commit.
"""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from sqlalchemy import case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from dms.commissions.calculator import distribute, sale_of
from dms.commissions.models import CommissionEntry
from dms.commissions.rules import require_manage, version_at
from dms.core import audit
from dms.core.errors import Conflict, NotFound, ValidationError
from dms.core.periods import business_date, month_name, month_of
from dms.core.time import business_today, utcnow
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.orders.models import Order

ZERO = Decimal("0.00")
MAX_ADJUSTMENT = Decimal("1000000.00")
OPEN_STATES = ("accrued", "payable")  # not held, not paid: a settlement may take these


def insert_entries(rows: list[dict]) -> int:
    """Insert ledger rows, skipping any whose business key exists already; return how many were new."""
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    for row in rows:
        row.setdefault("created_at", now)
        row.setdefault("reason", "")
        row.setdefault("hold_reason", "")
    # RETURNING counts what went in: rowcount is not reliable for multi-row inserts on every driver.
    stmt = insert(CommissionEntry).values(rows).on_conflict_do_nothing().returning(CommissionEntry.id)
    return len(db.session.execute(stmt).all())


def accrue_order(order_id: int) -> int:
    """Accrue the commission of a completed order under the version in force at its completion; idempotent.

    Entries are `accrued` until the hold period (the refund window) has passed, then `payable`.
    Return how many entries were added.
    """
    order = db.session.get(Order, order_id)
    if order is None or order.completed_at is None or order.distributor_id is None:
        return 0
    version = version_at(order.completed_at)
    if version is None:
        return 0
    distribution = distribute(sale_of(order), version)
    available_on = business_date(order.completed_at) + timedelta(days=version.hold_days)
    status = "accrued" if available_on > business_today() else "payable"
    period = month_name(month_of(order.completed_at))
    return insert_entries([{
        "order_id": order.id, "beneficiary_id": share.beneficiary.id, "level": share.level, "kind": "accrual",
        "amount": share.amount, "base": share.base, "rate": share.rate, "rule_version_id": version.id,
        "period": period, "status": status, "available_on": available_on,
    } for share in distribution.shares])


def clawback_order(order_id: int) -> int:
    """Reverse every accrual of a refunded order with a negative entry; idempotent."""
    order = db.session.get(Order, order_id)
    if order is None or order.status != "refunded":
        return 0
    accrue_order(order_id)  # the refund's job may run before the completion's: accrue first, then reverse
    when = order.refunded_at or utcnow()
    accruals = db.session.execute(select(CommissionEntry).where(CommissionEntry.order_id == order_id,
                                                                CommissionEntry.kind == "accrual")).scalars()
    today = business_today()
    rows = []
    for entry in accruals:
        # Never before its accrual: an unsettled accrual and its clawback land on the same statement.
        available_on = max(business_date(when), entry.available_on)
        rows.append({
            "order_id": order_id, "beneficiary_id": entry.beneficiary_id, "level": entry.level, "kind": "clawback",
            "amount": -entry.amount, "base": entry.base, "rate": entry.rate, "rule_version_id": entry.rule_version_id,
            "period": month_name(month_of(when)), "status": "accrued" if available_on > today else "payable",
            "available_on": available_on,
        })
    return insert_entries(rows)


def adjust(actor, distributor_id, amount, reason: str) -> CommissionEntry:
    """HQ's manual adjustment (+ or -) with a required reason; payable at once, audited."""
    require_manage(actor)
    errors = {}
    distributor = db.session.get(Distributor, int(distributor_id)) if str(distributor_id or "").isdigit() else None
    if distributor is None:
        errors["distributor_id"] = [_("Choose an existing distributor.")]
    try:
        value = Decimal(str(amount).strip()).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if not value.is_finite() or value == 0 or abs(value) > MAX_ADJUSTMENT:
            raise ValueError
    except (ArithmeticError, ValueError, TypeError):
        errors["amount"] = [_("Enter a non-zero amount such as 50.00 or -50.00.")]
        value = None
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Say why the adjustment is made.")]
    if errors:
        raise ValidationError(fields=errors)
    today = business_today()
    entry = CommissionEntry(beneficiary_id=distributor.id, level=0, kind="adjustment", amount=value,
                            period=month_name(today.replace(day=1)), status="payable", available_on=today,
                            reason=reason[:500], created_by_id=getattr(actor, "id", None))
    db.session.add(entry)
    db.session.flush()
    audit.record("commission.adjust", "commission_entry", entry.id, distributor.display_name,
                 {"amount": str(value), "reason": entry.reason}, actor=actor)
    return entry


def _open_entry(entry_id) -> CommissionEntry:
    entry = db.session.get(CommissionEntry, entry_id)
    if entry is None:
        raise NotFound()
    return entry


def hold(actor, entry_id, reason: str) -> CommissionEntry:
    """Hold an unsettled entry back from settlement, with a reason (audited)."""
    require_manage(actor)
    entry = _open_entry(entry_id)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(fields={"reason": [_("Say why the entry is held.")]})
    done = db.session.execute(update(CommissionEntry).where(
        CommissionEntry.id == entry.id, CommissionEntry.status.in_(OPEN_STATES),
        CommissionEntry.statement_id.is_(None)).values(status="held", hold_reason=reason[:255])).rowcount
    if not done:
        raise Conflict(_("Only an entry not yet on a statement can be held."))
    db.session.refresh(entry)
    audit.record("commission.hold", "commission_entry", entry.id, entry.beneficiary.display_name,
                 {"reason": reason}, actor=actor)
    return entry


def release(actor, entry_id) -> CommissionEntry:
    """Release a held entry: accrued again while its hold period runs, payable after."""
    require_manage(actor)
    entry = _open_entry(entry_id)
    status = case((CommissionEntry.available_on > business_today(), "accrued"), else_="payable")
    done = db.session.execute(update(CommissionEntry).where(CommissionEntry.id == entry.id,
                                                            CommissionEntry.status == "held")
                              .values(status=status, hold_reason="")).rowcount
    if not done:
        raise Conflict(_("This entry is not held."))
    db.session.refresh(entry)
    audit.record("commission.release", "commission_entry", entry.id, entry.beneficiary.display_name, {},
                 actor=actor)
    return entry


def release_due(today=None) -> int:
    """Accrued entries whose hold period has passed become payable (periodic, idempotent); return how many."""
    today = today or business_today()
    return db.session.execute(update(CommissionEntry).where(CommissionEntry.status == "accrued",
                                                            CommissionEntry.available_on <= today)
                              .values(status="payable")).rowcount or 0


def balances(distributor_id: int, period: str | None = None) -> dict[str, Decimal]:
    """{accrued, held, payable, paid}: the sums of the distributor's entries by status (one query)."""
    stmt = (select(CommissionEntry.status, func.coalesce(func.sum(CommissionEntry.amount), 0))
            .where(CommissionEntry.beneficiary_id == distributor_id).group_by(CommissionEntry.status))
    if period:
        stmt = stmt.where(CommissionEntry.period == period)
    found = {status: Decimal(str(total)).quantize(ZERO) for status, total in db.session.execute(stmt)}
    return {status: found.get(status, ZERO) for status in ("accrued", "held", "payable", "paid")}
