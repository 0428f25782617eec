"""API tokens that must be refused: expired, tampered, unsigned, the wrong algorithm, audience or issuer.

tests/api/test_tokens.py covers a token signed with SECRET_KEY itself, a plainly expired one and
revocation by password, disabling and rotation; these forge tokens field by field with the real key.
"""

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from dms.api import tokens


@pytest.fixture
def admin(make_user):
    return make_user("admin")


def _claims(user, **changes) -> dict:
    now = datetime.now(UTC)
    claims = {"iss": tokens.ISSUER, "aud": tokens.AUDIENCE, "sub": f"user:{user.id}", "roles": ["admin"],
              "scope": " ".join(sorted(user.permissions)), "ver": user.auth_version, "jti": "t1",
              "iat": int(now.timestamp()), "exp": int((now + timedelta(minutes=5)).timestamp())}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(app, claims, algorithm="HS256", key=None) -> str:
    with app.app_context():
        return jwt.encode(claims, key if key is not None else tokens._key(), algorithm=algorithm)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _assert_refused(client, token):
    response = client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.get_data(as_text=True)
    error = response.json["error"]
    assert error["code"] == "invalid_token" and error["message"]  # API.md's error body
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="dms", error="invalid_token"'


def test_a_well_formed_token_is_accepted(app, client, admin):
    """The forgeries below differ from this one in one thing each."""
    response = client.get("/api/me", headers={"Authorization": f"Bearer {_sign(app, _claims(admin))}"})
    assert response.status_code == 200 and response.json["subject"] == f"user:{admin.id}"


def test_lifetime_is_api_token_ttl(app, client, admin):
    with app.test_request_context():
        issued = tokens.issue(f"user:{admin.id}", ["admin"], admin.permissions, admin.auth_version)
    claims = jwt.decode(issued, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == app.config["API_TOKEN_TTL"] == 3600


def test_expired_even_by_seconds_is_refused(app, client, admin):
    past = datetime.now(UTC) - timedelta(seconds=5)
    _assert_refused(client, _sign(app, _claims(admin, exp=int(past.timestamp()))))


def test_tampered_payload_is_refused(app, client, make_user):
    courier = make_user("courier")
    token = _sign(app, _claims(courier, roles=["courier"], scope="deliveries.own"))
    header, _payload, signature = token.split(".")
    raised = _b64(_claims(courier, roles=["admin"], scope="users.manage"))  # same signature, more rights
    _assert_refused(client, f"{header}.{raised}.{signature}")


def test_tampered_signature_is_refused(app, client, admin):
    header, payload, signature = _sign(app, _claims(admin)).split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    _assert_refused(client, f"{header}.{payload}.{flipped}")
    _assert_refused(client, f"{header}.{payload}.")


def test_alg_none_is_refused(app, client, admin):
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(admin))}."
    _assert_refused(client, unsigned)
    _assert_refused(client, jwt.encode(_claims(admin), None, algorithm="none"))


def test_another_hmac_algorithm_with_the_right_key_is_refused(app, client, admin):
    for algorithm in ("HS384", "HS512"):
        _assert_refused(client, _sign(app, _claims(admin), algorithm=algorithm))


def test_rs256_and_key_confusion_are_refused(app, client, admin):
    """An RSA-signed token, and an HS256 one keyed with a public key (the classic confusion), both fail."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _assert_refused(client, jwt.encode(_claims(admin), private, algorithm="RS256"))
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo)
    # PyJWT itself refuses to HMAC with a PEM key, so the confusion token is made by hand.
    import hashlib
    import hmac

    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(_claims(admin))}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    _assert_refused(client, signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode())


# One test, not a parametrization: each test costs a database reset, slow on PostgreSQL.
WRONG_CLAIMS = ({"aud": "another-api"}, {"aud": None}, {"iss": "someone-else"}, {"iss": None}, {"jti": None},
                {"ver": None}, {"exp": None}, {"ver": "1"}, {"sub": 7})


def test_wrong_or_missing_claims_are_refused(app, client, admin):
    for changes in WRONG_CLAIMS:
        _assert_refused(client, _sign(app, _claims(admin, **changes)))


def test_an_old_version_or_unknown_subject_is_refused(app, client, admin):
    _assert_refused(client, _sign(app, _claims(admin, ver=admin.auth_version - 1)))
    _assert_refused(client, _sign(app, _claims(admin, sub="user:999999")))
    _assert_refused(client, _sign(app, _claims(admin, sub="client:dms_000000000000000000000000")))


def test_a_token_from_the_future_is_refused(app, client, admin):
    """iat far ahead (a forged or mis-clocked issuer) is not accepted."""
    future = datetime.now(UTC) + timedelta(hours=2)
    _assert_refused(client, _sign(app, _claims(admin, iat=int(future.timestamp()),
                                               exp=int((future + timedelta(hours=1)).timestamp()))))
