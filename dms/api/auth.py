"""The API's front door: bearer authentication, permission check and the unit of work of a view."""

from functools import wraps

from flask import g, make_response, request
from flask_babel import gettext as _

from dms.api import idempotency
from dms.api.services import InvalidToken, principal_from_token
from dms.core.errors import Forbidden, Unauthorized
from dms.core.jobs import commit
from dms.extensions import db

REALM = "dms"


def bearer_token() -> str | None:
    """The token of an `Authorization: Bearer ...` header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate_request():
    """The principal of this request's bearer token; Unauthorized or InvalidToken otherwise."""
    token = bearer_token()
    if token is None:
        raise Unauthorized(_("An access token is required (Authorization: Bearer ...)."))
    return principal_from_token(token)


def www_authenticate(response):
    """RFC 6750 §3: a 401 from a protected endpoint names the scheme (and the token error)."""
    if response.status_code == 401 and "WWW-Authenticate" not in response.headers:
        value = f'Bearer realm="{REALM}"'
        if g.get("api_challenge_error"):
            value += f', error="{g.api_challenge_error}"'
        response.headers["WWW-Authenticate"] = value
    return response


def idempotency_subject(principal) -> str:
    """Whose keys these are: the token's subject, or the caller's address for a public endpoint."""
    return principal.subject if principal is not None else f"public:{request.remote_addr or '-'}"


def api_view(permission: str | None = None, idempotent: bool = False, public: bool = False):
    """Authenticate by bearer token (unless `public`), check `permission`, run the view, commit once.

    `g.principal` is the caller (None on a public endpoint); pass it to services as the actor.
    Any exception rolls back and goes to the central error handler; an error answer (4xx/5xx) the
    view returns itself rolls back too. With `idempotent=True` a POST honours Idempotency-Key.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            try:
                g.principal = None
                if not public:
                    try:
                        g.principal = authenticate_request()
                    except InvalidToken:
                        g.api_challenge_error = "invalid_token"
                        raise
                    if permission is not None and not g.principal.can(permission):
                        raise Forbidden(_("Your token does not grant the permission %(p)s.", p=permission))
                key = idempotency.request_key() if idempotent and request.method == "POST" else None
                if key is not None:
                    return idempotency.run(idempotency_subject(g.principal), key, lambda: view(*args, **kwargs))
                response = make_response(view(*args, **kwargs))
                if response.status_code >= 400:
                    db.session.rollback()
                else:
                    commit()
                return response
            except BaseException:
                db.session.rollback()
                raise

        wrapper.api_permission = permission
        wrapper.api_idempotent = idempotent
        return wrapper

    return decorator
