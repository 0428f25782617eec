"""`flask dms ...` commands through Flask's CLI runner."""

from sqlalchemy import func, select

from dms.accounts.models import User
from dms.extensions import db


def users():
    db.session.rollback()
    return {u.username: u for u in db.session.scalars(select(User))}


def test_create_admin_with_options(app):
    result = app.test_cli_runner().invoke(args=["dms", "create-admin", "--username", "boss",
                                                "--password", "correct-horse-battery"])
    assert result.exit_code == 0, result.output
    assert "boss" in result.output
    boss = users()["boss"]
    assert [r.code for r in boss.roles] == ["admin"]


def _distributor_id() -> int:
    from dms.distributors.models import Distributor
    from dms.extensions import db

    distributor = Distributor(name="代理", level="county")
    db.session.add(distributor)
    db.session.commit()
    return distributor.id


def test_create_user_with_role_and_distributor(app):
    distributor_id = _distributor_id()
    result = app.test_cli_runner().invoke(args=["dms", "create-user", "agent7", "--password", "correct-horse-battery",
                                                "--role", "distributor", "--distributor", str(distributor_id)])
    assert result.exit_code == 0, result.output
    agent = users()["agent7"]
    assert agent.distributor_id == distributor_id and [r.code for r in agent.roles] == ["distributor"]


def test_bad_role_and_short_password_fail_clearly(app):
    runner = app.test_cli_runner()
    bad_role = runner.invoke(args=["dms", "create-user", "someone", "--password", "correct-horse-battery",
                                   "--role", "emperor"])
    assert bad_role.exit_code != 0
    assert "roles" in bad_role.output
    short = runner.invoke(args=["dms", "create-admin", "--username", "shorty", "--password", "abc"])
    assert short.exit_code != 0
    assert "password" in short.output
    assert "someone" not in users() and "shorty" not in users()


def test_seed_demo_is_idempotent_and_prints_the_accounts(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["dms", "seed-demo"])
    assert first.exit_code == 0, first.output
    count = db.session.scalar(select(func.count()).select_from(User))
    second = runner.invoke(args=["dms", "seed-demo"])
    assert second.exit_code == 0, second.output
    assert db.session.scalar(select(func.count()).select_from(User)) == count >= 4
    for username in ("admin", "reviewer", "distributor", "courier"):
        assert username in second.output
    assert "admin-demo-2026" in second.output


def test_check_passes_on_a_clean_database_and_fails_on_a_violation(app):
    from dms.core.jobs import commit
    from dms.core.models import Job

    result = app.test_cli_runner().invoke(args=["dms", "check"])
    assert result.exit_code == 0, result.output
    db.session.add(Job(name="x.y", status="exploded"))
    commit()
    result = app.test_cli_runner().invoke(args=["dms", "check"])
    assert result.exit_code == 1


def test_rotate_keys_runs(app, make_user):
    make_user("admin")
    from dms.core.crypto import encrypted_columns

    expected = sum(db.session.scalar(select(func.count()).select_from(table).where(column.isnot(None)))
                   for table, column in encrypted_columns(db.metadata))
    result = app.test_cli_runner().invoke(args=["dms", "rotate-keys"])
    assert result.exit_code == 0, result.output
    assert f" {expected} " in result.output


def test_relay_outbox_command_without_redis_does_nothing(app):
    result = app.test_cli_runner().invoke(args=["dms", "relay-outbox"])
    assert result.exit_code == 0 and "0" in result.output
