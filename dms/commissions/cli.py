"""`flask dms settle PERIOD` and the ledger's invariant check."""

import click
from flask_babel import gettext as _

from dms.core.cli import CHECKS, dms_cli
from dms.core.errors import DomainError


@dms_cli.command("settle")
@click.argument("period")
def settle_command(period):
    """Settle a finished month (YYYY-MM) now, in this process; safe to repeat or to restart after a crash."""
    from dms.commissions.settlement import run_now

    try:
        result = run_now(period)
    except DomainError as exc:
        messages = [str(m) for messages in (exc.fields or {}).values() for m in messages] or [str(exc)]
        raise click.ClickException("; ".join(messages)) from None
    click.echo(_("%(period)s settled: %(new)s new statement(s), %(total)s in all.", period=result["period"],
                 new=result["new_statements"], total=result["statements"]))


def _check_statements():
    from dms.commissions.settlement import differences

    return differences()


CHECKS.append(_check_statements)
