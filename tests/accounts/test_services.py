"""Account services against the real database: users, roles, passwords, sessions, audit."""

import pytest
from sqlalchemy import select

from dms.accounts import services
from dms.accounts.models import Role, User, UserSession
from dms.core.errors import Conflict, Forbidden, ValidationError
from dms.core.jobs import commit
from dms.core.models import AuditLog
from dms.extensions import db


def test_migrations_seed_the_default_roles():
    codes = set(db.session.scalars(select(Role.code)))
    assert {"admin", "reviewer", "distributor", "courier"} <= codes
    admin = db.session.scalar(select(Role).where(Role.code == "admin"))
    assert "users.manage" in admin.permissions
    courier = db.session.scalar(select(Role).where(Role.code == "courier"))
    assert courier.permissions == {"deliveries.own"}


def test_password_is_argon2id_at_least_owasp_minimum(make_user):
    from argon2 import extract_parameters

    user = make_user("reviewer")
    assert user.password_hash.startswith("$argon2id$")
    params = extract_parameters(user.password_hash)
    # OWASP: m >= 19 MiB with t >= 2, p >= 1.
    assert params.memory_cost >= 19456 and params.time_cost >= 2 and params.parallelism >= 1


def test_create_user_validates_and_refuses_duplicates(make_user):
    admin = make_user("admin")
    with pytest.raises(ValidationError) as err:
        services.create_user(admin, username="x", password="long-enough-pass", roles=["reviewer"])
    assert "username" in err.value.fields
    with pytest.raises(ValidationError) as err:
        services.create_user(admin, username="shorty", password="short", roles=["reviewer"])
    assert "password" in err.value.fields
    with pytest.raises(ValidationError):
        services.create_user(admin, username="norole", password="long-enough-pass", roles=["no-such-role"])
    services.create_user(admin, username="Alice", password="long-enough-pass", roles=["reviewer"])
    with pytest.raises(Conflict):
        services.create_user(admin, username="alice", password="long-enough-pass", roles=["reviewer"])


def test_services_check_permissions_not_role_names(make_user):
    reviewer = make_user("reviewer")
    with pytest.raises(Forbidden):
        services.create_user(reviewer, username="bob", password="long-enough-pass", roles=["courier"])
    # Give the reviewer role the permission: now it may.
    role = db.session.scalar(select(Role).where(Role.code == "reviewer"))
    services.set_role_permissions(None, role, role.permissions | {"users.manage"})
    commit()
    assert services.create_user(reviewer, username="bob", password="long-enough-pass", roles=["courier"])


def test_update_user_audits_before_and_after(make_user):
    admin = make_user("admin")
    user = make_user("courier", phone="13800000000")
    services.update_user(admin, user, roles=["reviewer"], phone="13900000000", display_name="Bob")
    commit()
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.update"))
    assert entry.actor_id == admin.id
    assert entry.changes["phone"] == ["13800000000", "13900000000"]
    assert entry.changes["roles"] == [["courier"], ["reviewer"]]


def test_disable_and_password_changes_revoke_sessions_and_tokens(make_user):
    admin = make_user("admin")
    user = make_user("reviewer")
    token = services.open_session(user, "127.0.0.1", "pytest")
    commit()
    assert services.load_session(user.id, token) is not None
    version = user.auth_version
    services.reset_password(admin, user, "a-brand-new-password")
    commit()
    assert services.load_session(user.id, token) is None
    assert user.auth_version == version + 1
    token = services.open_session(user, "127.0.0.1", "pytest")
    services.set_active(admin, user, False)
    commit()
    assert services.load_session(user.id, token) is None
    assert services.authenticate(user.username, "a-brand-new-password") is None


def test_change_own_password_needs_current_and_keeps_this_session(make_user):
    user = make_user("reviewer", password="old-password-1")
    keep = services.open_session(user, None, None)
    other = services.open_session(user, None, None)
    commit()
    keep_id = db.session.scalar(select(UserSession.id).order_by(UserSession.id).limit(1))
    with pytest.raises(ValidationError) as err:
        services.change_own_password(user, "wrong", "new-password-22", session_id=keep_id)
    assert "current_password" in err.value.fields
    services.change_own_password(user, "old-password-1", "new-password-22", session_id=keep_id)
    commit()
    assert services.load_session(user.id, keep) is not None
    assert services.load_session(user.id, other) is None
    assert services.authenticate(user.username, "new-password-22").id == user.id
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.change_password"))
    assert "new-password" not in str(entry.changes)


def test_idle_session_expires(app, make_user):
    from datetime import timedelta

    user = make_user("reviewer")
    token = services.open_session(user, None, None)
    commit()
    row = db.session.scalar(select(UserSession))
    row.last_seen_at = row.last_seen_at - timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    commit()
    assert services.load_session(user.id, token) is None


def test_role_permissions_refuse_unknown_codes_and_self_lockout(make_user):
    admin = make_user("admin")
    role = db.session.scalar(select(Role).where(Role.code == "admin"))
    with pytest.raises(ValidationError):
        services.set_role_permissions(admin, role, ["no.such.permission"])
    with pytest.raises(ValidationError):
        services.set_role_permissions(admin, role, role.permissions - {"roles.manage"})
    with pytest.raises(ValidationError):
        services.set_active(admin, admin, False)


def test_authenticate_is_case_insensitive_and_rejects_unknown(make_user):
    user = make_user("reviewer", username="Carol", password="carol-password")
    assert services.authenticate("carol", "carol-password").id == user.id
    assert services.authenticate("nobody", "carol-password") is None
    assert db.session.scalar(select(User).where(User.username == "Carol")).last_login_at is None
