"""Rewards (奖励), computed by the settlement of a month for one distributor under the version in force
at the month's end:

- sales_target: the distributor's own volume (and units, when the target has a quantity) in the month
  — or in the quarter, settled with the quarter's last month — reaches its target: a fixed amount or a
  percentage of that volume;
- team_growth: at least N new active direct downlines in the period — distributors whose link to it
  began in the period and who completed an order in it (not refunded by the period's end).

Each reward is one ledger entry keyed by (rule, distributor, period), so a re-run pays it once.
"""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from dms.commissions.ledger import insert_entries
from dms.commissions.models import RuleVersion
from dms.core.periods import is_quarter_end, month_bounds_utc, month_last_day, month_name, quarter_start
from dms.distributors.models import DistributorTarget, UplineLink
from dms.extensions import db
from dms.network.volumes import personal_volume
from dms.orders.models import Order, OrderLine

CENT = Decimal("0.01")


def _units(distributor_id: int, start, end) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(OrderLine.quantity), 0)).join(Order, Order.id == OrderLine.order_id)
        .where(Order.distributor_id == distributor_id, Order.completed_at >= start, Order.completed_at < end,
               (Order.refunded_at.is_(None)) | (Order.refunded_at > end))) or 0


def _new_active_downlines(distributor_id: int, start, end) -> int:
    active = (select(Order.id).where(Order.distributor_id == UplineLink.distributor_id, Order.completed_at >= start,
                                     Order.completed_at < end,
                                     (Order.refunded_at.is_(None)) | (Order.refunded_at > end)).exists())
    return db.session.scalar(select(func.count(func.distinct(UplineLink.distributor_id))).where(
        UplineLink.upline_id == distributor_id, UplineLink.effective_from >= start, UplineLink.effective_from < end,
        active)) or 0


def _target_reached(distributor_id: int, kind: str, first, start, end) -> tuple[bool, Decimal]:
    target = db.session.scalar(select(DistributorTarget).where(
        DistributorTarget.distributor_id == distributor_id, DistributorTarget.period == kind,
        DistributorTarget.period_start == first))
    volume = personal_volume(distributor_id, start, end)
    if target is None:
        return False, volume
    reached = (target.amount is None or volume >= target.amount) and \
              (target.quantity is None or _units(distributor_id, start, end) >= target.quantity)
    return reached, volume


def award(distributor_id: int, month, version: RuleVersion | None) -> int:
    """Record the rewards the distributor earned for the month (and its quarter); return how many were new."""
    if version is None:
        return 0
    rows = []
    for rule in version.rewards:
        if rule.period == "quarter" and not is_quarter_end(month):
            continue
        first = quarter_start(month) if rule.period == "quarter" else month
        start, end = month_bounds_utc(first)[0], month_bounds_utc(month)[1]
        if rule.kind == "sales_target":
            reached, volume = _target_reached(distributor_id, rule.period, first, start, end)
            if not reached:
                continue
            amount = rule.amount if rule.amount is not None else \
                (volume * rule.percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        else:
            volume = None
            if _new_active_downlines(distributor_id, start, end) < (rule.min_new_downlines or 1):
                continue
            amount = rule.amount
        if not amount or amount <= 0:
            continue
        rows.append({"beneficiary_id": distributor_id, "level": 0, "kind": "reward", "amount": amount,
                     "base": volume, "rate": rule.percent, "rule_version_id": version.id, "reward_rule_id": rule.id,
                     "period": month_name(month), "status": "payable", "available_on": month_last_day(month),
                     "key": f"reward:{rule.id}:{distributor_id}:{month_name(first)}:{rule.period}",
                     "reason": rule.name})
    return insert_entries(rows)


def period_end_moment(month):
    """The last instant of the month (for the version in force at its end)."""
    return month_bounds_utc(month)[1] - timedelta(microseconds=1)
