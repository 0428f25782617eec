"""API services: integration clients, access tokens and the principal behind a token."""

import re
import secrets

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from dms.accounts.models import Role, User
from dms.accounts.passwords import hash_password, verify_password
from dms.api import tokens
from dms.api.models import ApiClient
from dms.api.principal import Principal
from dms.core import audit
from dms.core.errors import Forbidden, NotFound, Unauthorized, ValidationError
from dms.core.rows import is_row_id
from dms.core.time import utcnow
from dms.distributors.models import Distributor
from dms.extensions import db

DEFAULT_CLIENT_ROLE = "integration"
CLIENT_ID_RE = re.compile(r"^dms_[0-9a-f]{24}$")


class InvalidToken(Unauthorized):
    """The bearer token is malformed, expired, or its user or client no longer accepts it."""

    code = "invalid_token"


def _require(actor, permission: str):
    """Forbidden unless the actor (None: the system itself) holds the permission."""
    if actor is not None and not actor.can(permission):
        raise Forbidden()


def new_client_id() -> str:
    """A random public client id."""
    return "dms_" + secrets.token_hex(12)


def new_client_secret() -> str:
    """A random client secret (shown once, stored only as an argon2 hash)."""
    return secrets.token_urlsafe(32)


def get_client(client_pk: int) -> ApiClient:
    """The integration client with that row id, or NotFound."""
    client = db.session.get(ApiClient, client_pk)
    if client is None:
        raise NotFound()
    return client


def default_client_role() -> Role | None:
    """The role new clients get unless another is chosen ("integration", made by the first migration)."""
    return db.session.scalar(select(Role).where(Role.code == DEFAULT_CLIENT_ROLE))


def _client_role(actor, role_id: int | None) -> Role:
    """The chosen role (default: integration); ValidationError when unknown or above the actor's rights."""
    role = db.session.get(Role, role_id) if role_id else default_client_role()
    if role is None:
        raise ValidationError(fields={"role_id": [_("Unknown role.")]})
    # Nobody hands a client more than they hold themselves.
    if actor is not None and not role.permissions <= actor.permissions:
        raise ValidationError(fields={"role_id": [_("This role grants permissions you do not have.")]})
    return role


def _client_snapshot(client: ApiClient) -> dict:
    """The audited fields of a client (never its secret)."""
    return {"name": client.name, "role": client.role.code if client.role else None,
            "distributor_id": client.distributor_id, "active": client.active}


def create_client(actor, *, name: str, role_id: int | None = None,
                  distributor_id: int | None = None) -> tuple[ApiClient, str]:
    """Register an integration client; return it and its secret (the only time the secret is known)."""
    _require(actor, "clients.manage")
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ValidationError(fields={"name": [_("Give a name of at most 120 characters.")]})
    if distributor_id is not None and (not is_row_id(distributor_id)
                                       or db.session.get(Distributor, distributor_id) is None):
        raise ValidationError(fields={"distributor_id": [_("No distributor has this ID.")]})
    role = _client_role(actor, role_id)
    secret = new_client_secret()
    client = ApiClient(client_id=new_client_id(), name=name, secret_hash=hash_password(secret), role=role,
                       distributor_id=distributor_id, active=True, created_by_id=getattr(actor, "id", None))
    db.session.add(client)
    db.session.flush()
    audit.record("api_client.create", "api_client", client.id, f"registered API client {name}",
                 {k: [None, v] for k, v in _client_snapshot(client).items()} | {"client_id": [None, client.client_id]},
                 actor=actor)
    return client, secret


def set_client_active(actor, client: ApiClient, active: bool) -> ApiClient:
    """Enable or disable a client; disabling ends its tokens at once."""
    _require(actor, "clients.manage")
    if client.active == active:
        return client
    client.active = active
    if not active:
        client.auth_version += 1
    db.session.flush()
    audit.record("api_client.enable" if active else "api_client.disable", "api_client", client.id,
                 f"{'enabled' if active else 'disabled'} API client {client.name}", {"active": [not active, active]},
                 actor=actor)
    return client


def rotate_client_secret(actor, client: ApiClient) -> str:
    """Give a client a new secret (returned once); the old secret and its tokens stop working."""
    _require(actor, "clients.manage")
    secret = new_client_secret()
    client.secret_hash = hash_password(secret)
    client.auth_version += 1
    db.session.flush()
    audit.record("api_client.rotate_secret", "api_client", client.id, f"rotated the secret of API client {client.name}",
                 {"secret": ["***", "***"]}, actor=actor)
    return secret


def authenticate_client(client_id: str, secret: str) -> ApiClient | None:
    """The active client with these credentials, or None (same work whether or not it exists)."""
    client_id = (client_id or "").strip()
    client = db.session.scalar(select(ApiClient).where(ApiClient.client_id == client_id)) \
        if CLIENT_ID_RE.match(client_id) else None
    ok = verify_password(client.secret_hash if client else None, secret or "")
    if not ok or client is None or not client.active:
        return None
    return client


def _granted_scope(allowed: set[str], requested: str | None) -> set[str]:
    """The permissions a token carries: all allowed, or the requested subset (ValueError beyond it)."""
    if not requested:
        return allowed
    wanted = set(requested.split())
    if not wanted <= allowed:
        raise ValueError("scope")
    return wanted


def issue_user_token(user: User, scope: str | None = None) -> tuple[str, set[str]]:
    """A token for a user (their roles; `scope` may narrow it; ValueError when it asks for more)."""
    granted = _granted_scope(user.permissions, scope)
    token = tokens.issue(tokens.USER_PREFIX + str(user.id), [r.code for r in user.roles], granted,
                         user.auth_version)
    audit.record("user.api_token", "user", user.id, f"{user.username} obtained an API token", actor=user)
    return token, granted


def issue_client_token(client: ApiClient, scope: str | None = None) -> tuple[str, set[str]]:
    """A token for an integration client (its role; `scope` may narrow it); notes when it was used."""
    granted = _granted_scope(client.permissions, scope)
    token = tokens.issue(tokens.CLIENT_PREFIX + client.client_id, [client.role.code], granted, client.auth_version)
    client.last_used_at = utcnow()
    db.session.flush()
    return token, granted


def principal_from_token(token: str) -> Principal:
    """The caller behind a bearer token; InvalidToken when it expired or its subject no longer accepts it."""
    try:
        claims = tokens.decode(token)
    except tokens.TokenError as exc:
        if str(exc) == "expired":
            raise InvalidToken(_("The access token has expired.")) from exc
        raise InvalidToken(_("The access token is not valid.")) from exc
    subject, version = claims["sub"], claims["ver"]
    scope = set(str(claims.get("scope") or "").split())
    if subject.startswith(tokens.USER_PREFIX) and subject[len(tokens.USER_PREFIX):].isdigit():
        user = db.session.get(User, int(subject[len(tokens.USER_PREFIX):]))
        if user is None or not user.active or user.auth_version != version:
            raise InvalidToken(_("The access token has been revoked."))
        return Principal(kind="user", subject=subject, name=user.username, roles=[r.code for r in user.roles],
                         permissions=frozenset(scope & user.permissions), distributor_id=user.distributor_id,
                         user=user, token_id=claims["jti"])
    if subject.startswith(tokens.CLIENT_PREFIX):
        # The role and its grants come in the same query: this runs on every API request.
        client = db.session.scalars(select(ApiClient).options(joinedload(ApiClient.role).joinedload(Role.grants))
                                    .where(ApiClient.client_id == subject[len(tokens.CLIENT_PREFIX):])
                                    ).unique().one_or_none()
        if client is None or not client.active or client.auth_version != version:
            raise InvalidToken(_("The access token has been revoked."))
        return Principal(kind="client", subject=subject, name=client.name, roles=[client.role.code],
                         permissions=frozenset(scope & client.permissions), distributor_id=client.distributor_id,
                         client=client, token_id=claims["jti"])
    raise InvalidToken(_("The access token is not valid."))
