"""`flask dms ...`: the operations commands. Areas add commands, demo seeders and invariant checks."""

import sys

import click
from flask.cli import AppGroup

dms_cli = AppGroup("dms", help="DMS operations.")

# Areas append here: seeders take no argument and return lines to print; checks return problems.
DEMO_SEEDERS: list = []
CHECKS: list = []


@dms_cli.command("seed-demo")
def seed_demo():
    """Create the demo data (idempotent) and print the demo accounts."""
    from dms.core.jobs import commit

    lines = []
    for seeder in DEMO_SEEDERS:
        lines.extend(seeder())
    commit()
    click.echo("Demo data ready. Accounts:")
    for line in lines:
        click.echo(f"  {line}")


@dms_cli.command("check")
def check():
    """Recompute invariants (balances from ledgers, ...); exit 1 when any is violated."""
    problems = []
    for invariant in CHECKS:
        problems.extend(invariant())
    for problem in problems:
        click.echo(f"VIOLATION: {problem}", err=True)
    click.echo(f"{len(CHECKS)} invariant check(s), {len(problems)} violation(s).")
    sys.exit(1 if problems else 0)


@dms_cli.command("rotate-keys")
def rotate_keys():
    """Re-encrypt every encrypted field under the newest key of DMS_FIELD_KEYS."""
    from dms.core.crypto import rotate_all
    from dms.extensions import db

    with db.engine.begin() as connection:
        count = rotate_all(connection, db.metadata)
    click.echo(f"Re-encrypted {count} value(s) under the newest key.")


def _check_job_states():
    from sqlalchemy import select

    from dms.core.models import Job
    from dms.extensions import db

    bad = db.session.scalars(select(Job.id).where(Job.status.notin_(
        ("pending", "queued", "running", "retrying", "finished", "failed")))).all()
    return [f"job {i} has an unknown status" for i in bad]


CHECKS.append(_check_job_states)


def register(app):
    app.cli.add_command(dms_cli)
