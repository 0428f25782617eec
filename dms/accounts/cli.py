"""Account commands: create-admin, create-user, and the demo accounts."""

import click
from sqlalchemy import select

from dms.core.cli import DEMO_SEEDERS, dms_cli

DEMO_ACCOUNTS = [
    # username, password, role, display name
    ("admin", "admin-demo-2026", "admin", "总部管理员 Admin"),
    ("reviewer", "reviewer-demo-2026", "reviewer", "运营审核 Reviewer"),
    ("distributor", "distributor-demo-2026", "distributor", "经销商 Distributor"),
    ("courier", "courier-demo-2026", "courier", "配送员 Courier"),
]


def _create(username, password, role, distributor_id=None, display_name=""):
    from dms.accounts import services
    from dms.core.errors import DomainError
    from dms.core.jobs import commit

    try:
        user = services.create_user(None, username=username, password=password, roles=[role],
                                    distributor_id=distributor_id, display_name=display_name)
        commit()
    except DomainError as exc:
        from dms.extensions import db

        db.session.rollback()
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
        raise click.ClickException(f"{exc.message} {details}".strip()) from exc
    return user


@dms_cli.command("create-admin")
@click.option("--username", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin(username, password):
    """Create an administrator."""
    user = _create(username, password, "admin")
    click.echo(f"Administrator {user.username} created (id {user.id}).")


@dms_cli.command("create-user")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", required=True, help="Role code: admin, reviewer, distributor, courier, ...")
@click.option("--distributor", "distributor_id", type=int, default=None, help="The distributor the user works for.")
def create_user(username, password, role, distributor_id):
    """Create a user with one role."""
    user = _create(username, password, role, distributor_id)
    click.echo(f"User {user.username} created (id {user.id}, role {role}).")


def seed_demo_accounts() -> list[str]:
    """The four demo accounts, one per default role (created once)."""
    from dms.accounts import services
    from dms.accounts.models import User
    from dms.extensions import db

    lines = []
    for username, password, role, name in DEMO_ACCOUNTS:
        if db.session.scalar(select(User.id).where(User.username == username)) is None:
            services.create_user(None, username=username, password=password, roles=[role], display_name=name)
        lines.append(f"{role:<12} {username:<12} {password}")
    return lines


DEMO_SEEDERS.append(seed_demo_accounts)


def register(app):
    """Commands are on the shared `flask dms` group; nothing more to do."""
