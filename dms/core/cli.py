"""`flask dms ...`: the operations commands. Areas add commands, demo seeders and invariant checks."""

import sys

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

dms_cli = AppGroup("dms", help="DMS operations.")

# Areas append here: seeders take no argument and return lines to print; checks return problems.
DEMO_SEEDERS: list = []
CHECKS: list = []
# Other sizes of demo data: name -> function(orders, distributors, customers, products, seed) that fills an
# empty database and returns lines to print (the large dataset registers "large").
SCALES: dict = {}


@dms_cli.command("seed-demo")
@click.option("--scale", default="demo", show_default=True,
              help="demo: the small demo; large: the performance dataset (2,000 distributors, 1M orders).")
@click.option("--orders", type=int, default=1_000_000, show_default=True, help="orders (--scale large)")
@click.option("--distributors", type=int, default=2_000, show_default=True, help="distributors (--scale large)")
@click.option("--customers", type=int, default=200_000, show_default=True, help="customers (--scale large)")
@click.option("--products", type=int, default=300, show_default=True, help="products (--scale large)")
@click.option("--seed", type=int, default=2026, show_default=True, help="random seed (--scale large)")
def seed_demo(scale, orders, distributors, customers, products, seed):
    """Create the demo data (idempotent) and print the demo accounts."""
    from dms.core.jobs import commit

    if scale != "demo":
        if scale not in SCALES:
            raise click.BadParameter(_("Choose one of: %(names)s.", names=", ".join(["demo", *SCALES])),
                                     param_hint="--scale")
        for line in SCALES[scale](orders=orders, distributors=distributors, customers=customers,
                                  products=products, seed=seed):
            click.echo(line)
        return
    lines = []
    for seeder in DEMO_SEEDERS:
        lines.extend(seeder())
    commit()
    click.echo(_("Demo data ready. Accounts:"))
    for line in lines:
        click.echo(f"  {line}")


@dms_cli.command("check")
def check():
    """Recompute invariants (balances from ledgers, ...); exit 1 when any is violated."""
    problems = []
    for invariant in CHECKS:
        problems.extend(invariant())
    for problem in problems:
        click.echo(_("VIOLATION: %(problem)s", problem=problem), err=True)
    click.echo(_("%(checks)d invariant check(s), %(problems)d violation(s).", checks=len(CHECKS),
                 problems=len(problems)))
    sys.exit(1 if problems else 0)


@dms_cli.command("rotate-keys")
def rotate_keys():
    """Re-encrypt every encrypted field under the newest key of DMS_FIELD_KEYS."""
    from dms.core.crypto import rotate_all
    from dms.extensions import db

    # One transaction: a value no listed key can decrypt aborts the run and changes nothing.
    try:
        with db.engine.begin() as connection:
            count = rotate_all(connection, db.metadata)
    except ValueError as exc:
        raise click.ClickException(_("Key rotation stopped, nothing changed: %(error)s", error=exc)) from exc
    click.echo(_("Re-encrypted %(count)d value(s) under the newest key.", count=count))


@dms_cli.command("relay-outbox")
def relay_outbox_command():
    """Push jobs left in the outbox to RQ now (the worker does this every 30 seconds)."""
    from dms.core.jobs import commit, relay_outbox

    count = relay_outbox()
    commit()
    click.echo(_("%(count)d job(s) pushed to the queue.", count=count))


def _check_job_states():
    from sqlalchemy import select

    from dms.core.models import Job
    from dms.extensions import db

    bad = db.session.scalars(select(Job.id).where(Job.status.notin_(
        ("pending", "queued", "running", "retrying", "finished", "failed")))).all()
    return [_("job %(id)s has an unknown status", id=i) for i in bad]


CHECKS.append(_check_job_states)


def register(app):
    """Put the `flask dms` group on the app's command line."""
    app.cli.add_command(dms_cli)
