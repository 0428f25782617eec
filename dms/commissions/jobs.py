"""Commission jobs: order events accrue and claw back; daily release of held-period entries; monthly settlement."""

from dms.commissions import ledger, settlement
from dms.core.schedule import register


def on_order_completed(order_id: int) -> None:
    """order.completed -> accrue the order's commission entries (idempotent)."""
    ledger.accrue_order(order_id)


def on_order_refunded(order_id: int) -> None:
    """order.refunded -> claw back its entries (idempotent; accrues first if that job has not run yet)."""
    ledger.clawback_order(order_id)


def release_due() -> dict:
    """Daily: accrued entries past their hold period become payable."""
    return {"released": ledger.release_due()}


def monthly_settlement() -> dict:
    """Monthly (on the 1st): queue the settlement of the month just ended."""
    return {"run_id": settlement.scheduled_run()}


register("dms.commissions.jobs.release_due", cron="10 0 * * *")
register("dms.commissions.jobs.monthly_settlement", cron="30 1 1 * *")
