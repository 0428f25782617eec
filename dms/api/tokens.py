"""API access tokens: signed JWTs (HS256) carrying the subject, its roles, its scope and a version.

The signing key is derived from SECRET_KEY (HMAC with a fixed label) so that the session secret
itself never signs tokens. `ver` is the user's `auth_version` (or the client's): a password change,
a disabled account or a rotated client secret bumps it and every token issued before stops working.
"""

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from flask import current_app

ALGORITHM = "HS256"
ISSUER = "dms"
AUDIENCE = "dms-api"
USER_PREFIX, CLIENT_PREFIX = "user:", "client:"


class TokenError(Exception):
    """The token is missing, malformed, badly signed or expired."""


def _key() -> bytes:
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, b"dms-api-token-v1", hashlib.sha256).digest()


def ttl() -> int:
    """Seconds a token lives (API_TOKEN_TTL)."""
    return int(current_app.config.get("API_TOKEN_TTL", 3600))


def issue(subject: str, roles: list[str], permissions, version: int, now: datetime | None = None) -> str:
    """A signed token for `subject` ("user:<id>" or "client:<client_id>")."""
    now = now or datetime.now(UTC)
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": subject,
        "roles": sorted(roles), "scope": " ".join(sorted(permissions)),
        "ver": version, "jti": uuid.uuid4().hex,
        "iat": int(now.timestamp()), "exp": int((now + timedelta(seconds=ttl())).timestamp()),
    }
    return jwt.encode(claims, _key(), algorithm=ALGORITHM)


def decode(token: str) -> dict:
    """The verified claims of a token; TokenError when it is not one of ours or has expired."""
    try:
        claims = jwt.decode(token, _key(), algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["sub", "exp", "iat", "jti", "ver"]})
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("invalid") from exc
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("ver"), int):
        raise TokenError("invalid")
    return claims
