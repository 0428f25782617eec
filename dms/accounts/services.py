"""Account services: users, roles and permissions, passwords and login sessions."""

import hashlib
import re
import secrets
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, update

from dms.accounts.models import PasswordToken, Role, RolePermission, User, UserSession
from dms.accounts.passwords import hash_password, needs_rehash, verify_password
from dms.accounts.permissions import PERMISSIONS
from dms.core import audit
from dms.core.errors import Conflict, Forbidden, NotFound, ValidationError
from dms.core.time import utcnow
from dms.extensions import db

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{3,64}$")
PASSWORD_MIN, PASSWORD_MAX = 10, 128
PROFILE_FIELDS = ("display_name", "phone", "email", "locale", "distributor_id")


def _require(actor, permission: str):
    if actor is not None and not actor.can(permission):
        raise Forbidden()


def check_password_policy(password: str, username: str = "") -> None:
    """Raise ValidationError when a new password is too short, too long or is the username."""
    if len(password) < PASSWORD_MIN:
        raise ValidationError(fields={"password": [_("Use at least %(n)d characters.", n=PASSWORD_MIN)]})
    if len(password) > PASSWORD_MAX:
        raise ValidationError(fields={"password": [_("Use at most %(n)d characters.", n=PASSWORD_MAX)]})
    if username and password.lower() == username.lower():
        raise ValidationError(fields={"password": [_("The password must not be the username.")]})


def get_user(user_id: int) -> User:
    """The user with that id, or NotFound."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def roles_by_code(codes) -> list[Role]:
    """The roles with those codes; an unknown code is a validation error."""
    codes = list(dict.fromkeys(codes))
    roles = list(db.session.scalars(select(Role).where(Role.code.in_(codes))))
    if len(roles) != len(codes):
        raise ValidationError(fields={"roles": [_("Unknown role.")]})
    return roles


def create_user(actor, *, username: str, password: str, roles=(), display_name: str = "", phone=None,
                email=None, locale=None, distributor_id=None) -> User:
    """Create a user with roles (by code). Raises Conflict for a taken username."""
    _require(actor, "users.manage")
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise ValidationError(fields={"username": [
            _("3 to 64 letters, digits, dots, dashes or underscores.")]})
    if db.session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise Conflict(_("The username %(name)s is taken.", name=username), fields={"username": [_("Taken.")]})
    check_password_policy(password, username)
    user = User(username=username, display_name=display_name or username, phone=phone or None,
                email=email or None, locale=locale or None, distributor_id=distributor_id,
                password_hash=hash_password(password), roles=roles_by_code(roles),
                password_changed_at=utcnow())
    db.session.add(user)
    db.session.flush()
    audit.record("user.create", "user", user.id, f"created user {username}", actor=actor, changes={
        "roles": [None, sorted(r.code for r in user.roles)], "username": [None, username]})
    return user


def _snapshot(user: User) -> dict:
    data = {f: getattr(user, f) for f in PROFILE_FIELDS}
    data["roles"] = sorted(r.code for r in user.roles)
    data["active"] = user.active
    return data


def update_user(actor, user: User, *, roles=None, **fields) -> User:
    """Edit a user's profile and roles; the audit entry carries before and after values."""
    _require(actor, "users.manage")
    before = _snapshot(user)
    for name, value in fields.items():
        if name not in PROFILE_FIELDS:
            raise ValueError(f"not an editable field: {name}")
        setattr(user, name, value if value != "" else None)
    if not user.display_name:
        user.display_name = user.username
    if roles is not None:
        new_roles = roles_by_code(roles)
        if actor is not None and user.id == actor.id and "users.manage" not in set().union(
                *(r.permissions for r in new_roles)):
            raise ValidationError(fields={"roles": [_("You cannot remove your own user administration rights.")]})
        user.roles = new_roles
    db.session.flush()
    changes = audit.diff(before, _snapshot(user))
    if changes:
        audit.record("user.update", "user", user.id, f"edited user {user.username}", changes, actor=actor)
    return user


def set_active(actor, user: User, active: bool) -> User:
    """Enable or disable a user; disabling ends their sessions and API tokens at once."""
    _require(actor, "users.manage")
    if actor is not None and user.id == actor.id and not active:
        raise ValidationError(_("You cannot disable your own account."))
    if user.active == active:
        return user
    user.active = active
    if not active:
        _revoke_credentials(user)
    db.session.flush()
    audit.record("user.enable" if active else "user.disable", "user", user.id,
                 f"{'enabled' if active else 'disabled'} user {user.username}", {"active": [not active, active]},
                 actor=actor)
    return user


def _revoke_credentials(user: User, keep_session_id: int | None = None):
    user.auth_version += 1
    stmt = update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
    if keep_session_id is not None:
        stmt = stmt.where(UserSession.id != keep_session_id)
    db.session.execute(stmt.values(revoked_at=utcnow()))


def reset_password(actor, user: User, new_password: str) -> User:
    """An administrator sets a new password; the user's sessions and tokens end."""
    _require(actor, "users.manage")
    check_password_policy(new_password, user.username)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    _revoke_credentials(user)
    db.session.flush()
    audit.record("user.reset_password", "user", user.id, f"reset the password of {user.username}",
                 {"password": ["***", "***"]}, actor=actor)
    return user


def change_own_password(user: User, current: str, new_password: str, session_id: int | None = None) -> User:
    """The user changes their password (current one required); their other sessions end."""
    if not verify_password(user.password_hash, current):
        raise ValidationError(fields={"current_password": [_("The current password is wrong.")]})
    check_password_policy(new_password, user.username)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    _revoke_credentials(user, keep_session_id=session_id)
    db.session.flush()
    audit.record("user.change_password", "user", user.id, "changed own password",
                 {"password": ["***", "***"]}, actor=user)
    return user


def authenticate(username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same work whether or not the user exists)."""
    user = db.session.scalar(select(User).where(func.lower(User.username) == (username or "").strip().lower()))
    ok = verify_password(user.password_hash if user else None, password or "")
    if not ok or user is None or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(user: User, ip: str | None, user_agent: str | None) -> str:
    """Start a login session; return its secret token (kept in the signed cookie only)."""
    token = secrets.token_urlsafe(32)
    db.session.add(UserSession(user_id=user.id, token_hash=_hash_token(token), ip=ip,
                               user_agent=(user_agent or "")[:255]))
    user.last_login_at = utcnow()
    db.session.flush()
    audit.record("user.login", "user", user.id, f"{user.username} logged in", actor=user)
    return token


def load_session(user_id: int, token: str | None) -> tuple[User, UserSession] | None:
    """The user and session for a cookie, or None when revoked, idle too long or disabled."""
    if not token:
        return None
    session_row = db.session.scalar(select(UserSession).where(UserSession.token_hash == _hash_token(token)))
    if session_row is None or session_row.user_id != user_id or session_row.revoked_at is not None:
        return None
    now = utcnow()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    if now - session_row.last_seen_at > idle:
        session_row.revoked_at = now
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active:
        return None
    # Touch at most once a minute, so an ordinary page view does not write.
    if now - session_row.last_seen_at > timedelta(minutes=1):
        session_row.last_seen_at = now
    return user, session_row


def close_session(token: str | None):
    """Revoke the session behind a cookie (logout)."""
    if token:
        db.session.execute(update(UserSession).where(UserSession.token_hash == _hash_token(token))
                           .values(revoked_at=utcnow()))


def set_role_permissions(actor, role: Role, permissions) -> Role:
    """Replace the permissions a role grants; unknown codes are refused; audited with before/after."""
    _require(actor, "roles.manage")
    wanted = set(permissions)
    unknown = wanted - set(PERMISSIONS)
    if unknown:
        raise ValidationError(fields={"permissions": [_("Unknown permission: %(p)s", p=", ".join(sorted(unknown)))]})
    if actor is not None and role in actor.roles and "roles.manage" not in wanted and not any(
            "roles.manage" in r.permissions for r in actor.roles if r.id != role.id):
        raise ValidationError(fields={"permissions": [_("You cannot remove your own right to edit roles.")]})
    before = sorted(role.permissions)
    role.grants = [g for g in role.grants if g.permission in wanted] + [
        RolePermission(permission=p) for p in sorted(wanted - role.permissions)]
    db.session.flush()
    after = sorted(role.permissions)
    if before != after:
        audit.record("role.permissions", "role", role.id, f"changed permissions of role {role.code}",
                     {"permissions": [before, after]}, actor=actor)
    return role


def update_role(actor, role: Role, *, name: str, description: str = "") -> Role:
    """Rename a role or change its description."""
    _require(actor, "roles.manage")
    name = (name or "").strip()
    if not name:
        raise ValidationError(fields={"name": [_("This field is required.")]})
    before = {"name": role.name, "description": role.description}
    role.name, role.description = name[:64], (description or "")[:255]
    db.session.flush()
    changes = audit.diff(before, {"name": role.name, "description": role.description})
    if changes:
        audit.record("role.update", "role", role.id, f"edited role {role.code}", changes, actor=actor)
    return role


def save_role(actor, role: Role, *, name: str, description: str, permissions) -> Role:
    """Save a role's name, description and permissions together."""
    update_role(actor, role, name=name, description=description)
    return set_role_permissions(actor, role, permissions)


def create_role(actor, *, code: str, name: str, description: str = "", permissions=()) -> Role:
    """Create a role; its code is unique."""
    _require(actor, "roles.manage")
    code = (code or "").strip().lower()
    if not re.match(r"^[a-z][a-z0-9_]{1,31}$", code):
        raise ValidationError(fields={"code": [_("2 to 32 lowercase letters, digits or underscores.")]})
    if db.session.scalar(select(Role.id).where(Role.code == code)):
        raise Conflict(fields={"code": [_("Taken.")]})
    role = Role(code=code, name=(name or code).strip()[:64], description=description or "")
    db.session.add(role)
    db.session.flush()
    audit.record("role.create", "role", role.id, f"created role {code}", actor=actor)
    set_role_permissions(None, role, permissions)
    return role


def get_role(role_id: int) -> Role:
    """The role with that id, or NotFound."""
    role = db.session.get(Role, role_id)
    if role is None:
        raise NotFound()
    return role


class PasswordLinkInvalid(NotFound):
    """A one-time password link that is unknown."""

    code = "invalid_link"


class PasswordLinkGone(PasswordLinkInvalid):
    """A one-time password link that has expired or was already used."""

    status = 410
    code = "link_gone"


def issue_password_token(user: User, hours: int = 72, actor=None) -> str:
    """A one-time link token to set `user`'s password, valid `hours`; only its SHA-256 is stored."""
    token = secrets.token_urlsafe(32)
    db.session.add(PasswordToken(user_id=user.id, token_hash=_hash_token(token),
                                 expires_at=utcnow() + timedelta(hours=hours)))
    db.session.flush()
    audit.record("user.password_link", "user", user.id, f"one-time password link for {user.username}",
                 {"expires_in_hours": [None, hours]}, actor=actor)
    return token


def has_set_password(user: User) -> bool:
    """True once the user has used a one-time link or logged in (their password is their own)."""
    used = db.session.scalar(select(PasswordToken.id).where(
        PasswordToken.user_id == user.id, PasswordToken.used_at.is_not(None)).limit(1))
    return used is not None or user.last_login_at is not None


def password_token_user(token: str) -> User:
    """The user a one-time link is for; raises PasswordLinkInvalid (unknown) or PasswordLinkGone."""
    row = None
    if token and len(token) <= 128:
        row = db.session.scalar(select(PasswordToken).where(PasswordToken.token_hash == _hash_token(token)))
    if row is None:
        raise PasswordLinkInvalid(_("This link is not valid. Check that you copied all of it."))
    if row.used_at is not None:
        raise PasswordLinkGone(_("This link was already used. Log in with your password, or ask "
                                 "headquarters for a new link."))
    if row.expires_at <= utcnow():
        raise PasswordLinkGone(_("This link has expired. Ask headquarters for a new one."))
    user = db.session.get(User, row.user_id)
    if user is None or not user.active:
        raise PasswordLinkGone(_("This account is disabled."))
    return user


def set_password_with_token(token: str, new_password: str) -> User:
    """Set a password through a one-time link: the link (and any other of the user's) is used up,
    sessions and API tokens end. Raises PasswordLinkInvalid, PasswordLinkGone or ValidationError."""
    user = password_token_user(token)
    check_password_policy(new_password or "", user.username)
    now = utcnow()
    # Used up atomically: of two concurrent uses only one finds the link still unused.
    taken = db.session.execute(update(PasswordToken).where(
        PasswordToken.token_hash == _hash_token(token), PasswordToken.used_at.is_(None),
        PasswordToken.expires_at > now).values(used_at=now)).rowcount
    if taken != 1:
        raise PasswordLinkGone(_("This link was already used. Log in with your password, or ask "
                                 "headquarters for a new link."))
    db.session.execute(update(PasswordToken).where(PasswordToken.user_id == user.id,
                                                   PasswordToken.used_at.is_(None)).values(used_at=now))
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    _revoke_credentials(user)
    db.session.flush()
    audit.record("user.set_password_by_link", "user", user.id, f"{user.username} set a password by link",
                 {"password": ["***", "***"]}, actor=user)
    return user
