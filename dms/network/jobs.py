"""The network area's background jobs: bringing cached uplines up to date when scheduled moves take effect."""

from dms.core.schedule import register
from dms.network import services


def apply_due_moves():
    """Periodic (daily, just after midnight, when moves take effect): cache the upline in force now."""
    return services.apply_due_moves()


register("dms.network.jobs.apply_due_moves", cron="2 0 * * *")
