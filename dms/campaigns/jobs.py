"""The campaigns area's background jobs: starting and ending campaigns on the days their periods say."""

from dms.campaigns import services
from dms.core.schedule import register


def advance_campaigns():
    """Periodic (daily, just after midnight): start approved campaigns whose period began, end finished ones."""
    return services.advance()


register("dms.campaigns.jobs.advance_campaigns", cron="1 0 * * *")
