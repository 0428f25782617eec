"""The token endpoint (RFC 6749) and bearer authentication."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.conftest import PASSWORD, bearer


def _token(client, **form):
    return client.post("/api/auth/token", form, csrf=False)


def test_password_grant_gives_a_bearer_token_that_opens_me(client, make_user, make_distributor):
    distributor = make_distributor()
    user = make_user("distributor", distributor_id=distributor.id)
    response = _token(client, grant_type="password", username=user.username, password=PASSWORD)
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["access_token"]
    assert response.headers["Cache-Control"] == "no-store"
    me = client.get("/api/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json["subject"] == f"user:{user.id}" and me.json["kind"] == "user"
    assert me.json["name"] == user.username and me.json["roles"] == ["distributor"]
    assert me.json["distributor_id"] == distributor.id and "orders.manage" in me.json["permissions"]


def test_token_claims(app, client, make_user):
    import jwt

    user = make_user("courier")
    token = _token(client, grant_type="password", username=user.username, password=PASSWORD).json["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == f"user:{user.id}" and claims["roles"] == ["courier"]
    assert claims["scope"] == "deliveries.own" and claims["ver"] == 1
    assert claims["exp"] - claims["iat"] == 3600 and claims["jti"]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_client_credentials_grant(client, make_client, make_distributor):
    distributor = make_distributor()
    api_client, secret = make_client(distributor_id=distributor.id)
    response = _token(client, grant_type="client_credentials", client_id=api_client.client_id, client_secret=secret)
    assert response.status_code == 200
    me = client.get("/api/me", headers=bearer(response.json["access_token"])).json
    assert me["kind"] == "client" and me["subject"] == f"client:{api_client.client_id}"
    assert me["name"] == "ERP" and me["roles"] == ["integration"] and me["distributor_id"] == distributor.id
    assert "orders.manage" in me["permissions"] and "users.manage" not in me["permissions"]


def test_client_credentials_by_http_basic(client, make_client):
    import base64

    api_client, secret = make_client()
    basic = base64.b64encode(f"{api_client.client_id}:{secret}".encode()).decode()
    response = client.post("/api/auth/token", {"grant_type": "client_credentials"}, csrf=False,
                           headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200 and response.json["access_token"]
    wrong = base64.b64encode(f"{api_client.client_id}:nope".encode()).decode()
    response = client.post("/api/auth/token", {"grant_type": "client_credentials"}, csrf=False,
                           headers={"Authorization": f"Basic {wrong}"})
    assert response.status_code == 401 and response.json["error"] == "invalid_client"


@pytest.mark.parametrize("username,password", [("nobody", PASSWORD), (None, "wrong-password-here")])
def test_wrong_user_credentials_are_invalid_grant(client, make_user, username, password):
    user = make_user("admin")
    response = _token(client, grant_type="password", username=username or user.username, password=password)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"
    assert response.headers["Cache-Control"] == "no-store"


def test_wrong_client_credentials_are_invalid_client(client, make_client):
    api_client, _secret = make_client()
    for client_id, secret in ((api_client.client_id, "nope"), ("dms_" + "0" * 24, "x"), ("", "")):
        response = _token(client, grant_type="client_credentials", client_id=client_id, client_secret=secret)
        assert response.status_code == 401, client_id
        assert response.json["error"] == "invalid_client"


def test_malformed_token_requests(client):
    response = _token(client, grant_type="implicit")
    assert response.status_code == 400 and response.json["error"] == "unsupported_grant_type"
    response = _token(client, username="a", password="b")
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    response = _token(client, grant_type="password", username="a")
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    response = client.http.post("/api/auth/token", json={"grant_type": "password", "username": "a", "password": "b"})
    assert response.status_code == 400 and response.json["error"] == "invalid_request"
    response = client.http.post("/api/auth/token", data="grant_type=password&grant_type=client_credentials",
                                content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and response.json["error"] == "invalid_request"


def test_scope_narrows_the_token(client, make_user, get_token):
    user = make_user("distributor")
    token = get_token(user, scope="orders.view")
    assert client.get("/api/me", headers=bearer(token)).json["permissions"] == ["orders.view"]
    response = _token(client, grant_type="password", username=user.username, password=PASSWORD,
                      scope="users.manage")
    assert response.status_code == 400 and response.json["error"] == "invalid_scope"


def test_missing_and_garbage_tokens_are_401_with_challenge(client):
    response = client.get("/api/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="dms"'
    for header in ("Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz"):
        response = client.get("/api/me", headers={"Authorization": header})
        assert response.status_code == 401, header
    response = client.get("/api/me", headers=bearer("not.a.jwt"))
    assert response.json["error"]["code"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_token_signed_with_another_key_is_refused(app, client, make_user):
    import jwt

    user = make_user("admin")
    now = datetime.now(UTC)
    forged = jwt.encode({"iss": "dms", "aud": "dms-api", "sub": f"user:{user.id}", "roles": ["admin"],
                         "scope": "users.manage", "ver": 1, "jti": "x", "iat": int(now.timestamp()),
                         "exp": int((now + timedelta(hours=1)).timestamp())}, app.config["SECRET_KEY"])
    assert client.get("/api/me", headers=bearer(forged)).status_code == 401


def test_expired_token_is_refused(app, client, make_user):
    from dms.api import tokens

    user = make_user("admin")
    with app.test_request_context():
        token = tokens.issue(f"user:{user.id}", ["admin"], user.permissions, user.auth_version,
                             now=datetime.now(UTC) - timedelta(seconds=3601))
    response = client.get("/api/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "invalid_token"


def test_disabled_users_token_is_refused(client, make_user, get_token, db_session):
    from dms.accounts import services
    from dms.core.jobs import commit

    user = make_user("distributor")
    token = get_token(user)
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    services.set_active(None, db_session.merge(user), False)
    commit()
    assert client.get("/api/me", headers=bearer(token)).status_code == 401
    services.set_active(None, db_session.merge(user), True)
    commit()
    # Enabling again does not revive tokens issued before the account was disabled.
    assert client.get("/api/me", headers=bearer(token)).status_code == 401


def test_password_change_invalidates_tokens(client, make_user, get_token, db_session):
    from dms.accounts import services
    from dms.core.jobs import commit

    user = make_user("admin")
    token = get_token(user)
    services.reset_password(None, db_session.merge(user), "another-long-password")
    commit()
    assert client.get("/api/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/me", headers=bearer(get_token(user, "another-long-password"))).status_code == 200


def test_disabled_or_rotated_client_tokens_are_refused(client, make_client, db_session):
    from dms.api import services
    from dms.core.jobs import commit

    api_client, secret = make_client()
    form = {"grant_type": "client_credentials", "client_id": api_client.client_id, "client_secret": secret}
    token = _token(client, **form).json["access_token"]
    new_secret = services.rotate_client_secret(None, db_session.merge(api_client))
    commit()
    assert client.get("/api/me", headers=bearer(token)).status_code == 401
    assert _token(client, **form).status_code == 401
    form["client_secret"] = new_secret
    token = _token(client, **form).json["access_token"]
    assert client.get("/api/me", headers=bearer(token)).status_code == 200
    services.set_client_active(None, db_session.merge(api_client), False)
    commit()
    assert client.get("/api/me", headers=bearer(token)).status_code == 401
    assert _token(client, **form).json["error"] == "invalid_client"


def test_missing_permission_is_403(probe, make_user, get_token):
    courier = make_user("courier")
    response = probe.get("/api/probe/manage", headers=bearer(get_token(courier)))
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"
    admin = make_user("admin")
    assert probe.get("/api/probe/manage", headers=bearer(get_token(admin))).status_code == 200
    narrowed = get_token(admin, scope="orders.view")
    assert probe.get("/api/probe/manage", headers=bearer(narrowed)).status_code == 403


def test_role_losing_a_permission_takes_effect_at_once(probe, make_user, get_token, db_session):
    from dms.accounts import services
    from dms.accounts.models import Role
    from dms.core.jobs import commit

    role = services.create_role(None, code="cataloguer", name="Cataloguer", permissions=["catalog.manage"])
    commit()
    user = make_user("cataloguer")
    token = get_token(user)
    assert probe.get("/api/probe/manage", headers=bearer(token)).status_code == 200
    services.set_role_permissions(None, db_session.get(Role, role.id), ["catalog.view"])
    commit()
    assert probe.get("/api/probe/manage", headers=bearer(token)).status_code == 403


def test_token_endpoint_is_rate_limited(app, client, make_user):
    user = make_user("admin")
    saved = app.config["LOGIN_LIMITS_PER_ACCOUNT"]
    app.config["LOGIN_LIMITS_PER_ACCOUNT"] = "3 per minute"
    try:
        for _ in range(3):
            assert _token(client, grant_type="password", username=user.username, password="wrong").status_code == 400
        response = _token(client, grant_type="password", username=user.username, password=PASSWORD)
        assert response.status_code == 429
        assert response.json["error"]["code"] == "rate_limited"
        # Client credentials are counted by client_id.
        for _ in range(3):
            _token(client, grant_type="client_credentials", client_id="dms_abc", client_secret="x")
        response = _token(client, grant_type="client_credentials", client_id="dms_abc", client_secret="x")
        assert response.status_code == 429
    finally:
        app.config["LOGIN_LIMITS_PER_ACCOUNT"] = saved


def test_user_token_is_audited_without_secrets(client, make_user, db_session):
    from sqlalchemy import select

    from dms.core.models import AuditLog

    user = make_user("admin")
    token = _token(client, grant_type="password", username=user.username, password=PASSWORD).json["access_token"]
    entries = list(db_session.scalars(select(AuditLog).where(AuditLog.action == "user.api_token")))
    assert len(entries) == 1 and entries[0].actor_id == user.id
    assert token not in str(entries[0].changes) and PASSWORD not in entries[0].summary


def test_wrong_method_keeps_allow_header(client):
    response = client.get("/api/auth/token")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"] and response.json["error"]["code"] == "method_not_allowed"
