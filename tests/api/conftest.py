"""API fixtures: tokens, registered clients, and a second app with test-only routes.

The product has no creating endpoint of its own yet, so the idempotency, permission and pagination
machinery is exercised on a second app instance (same test database) with routes added before its
first request. Nothing is added to the product's own app.
"""

import threading

import pytest
from flask import g

PASSWORD = "correct-horse-battery"
PROBE_GATE = {"entered": threading.Event(), "release": threading.Event()}


@pytest.fixture
def get_token(client):
    """get_token(user or username, password=...) -> an access token from the password grant."""

    def get(user, password=PASSWORD, **extra):
        username = getattr(user, "username", user)
        response = client.post("/api/auth/token", {"grant_type": "password", "username": username,
                                                   "password": password, **extra}, csrf=False)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json["access_token"]

    return get


def bearer(token: str) -> dict:
    """The Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_client(app):
    """make_client(role_code=None, **fields) -> (ApiClient, secret), committed."""
    from dms.api import services
    from dms.core.jobs import commit

    def make(role_code=None, name="ERP", distributor_id=None):
        role_id = None
        if role_code:
            from dms.accounts.models import Role
            from dms.extensions import db

            role_id = db.session.scalar(db.select(Role.id).where(Role.code == role_code))
        client, secret = services.create_client(None, name=name, role_id=role_id, distributor_id=distributor_id)
        commit()
        return client, secret

    return make


@pytest.fixture(scope="session")
def probe_app(app, database_url):
    """A second app on the same database with test-only API routes."""
    from dms import create_app
    from dms.api.auth import api_view
    from dms.api.helpers import json_body, paginate
    from dms.core import audit
    from dms.core.errors import Conflict
    from dms.core.models import AuditLog
    from dms.extensions import csrf, db

    probe = create_app({"SQLALCHEMY_DATABASE_URI": database_url})

    @api_view(permission="orders.manage", idempotent=True)
    def probe_create():
        """Create something (an audit row stands in for a business record)."""
        body = json_body()
        if body.get("wait"):  # hold the request open until the test says so (concurrency tests)
            PROBE_GATE["entered"].set()
            assert PROBE_GATE["release"].wait(10)
        if body.get("fail") == "conflict":
            audit.record("probe.create", "probe", None, "rolled back", actor=g.principal)
            raise Conflict()
        if body.get("fail") == "crash":
            audit.record("probe.create", "probe", None, "rolled back", actor=g.principal)
            raise RuntimeError("boom")
        entry = audit.record("probe.create", "probe", None, str(body.get("name", ""))[:100], actor=g.principal)
        return {"id": entry.id, "name": body.get("name")}, 201

    @api_view(permission="catalog.manage")
    def probe_manage():
        """Needs catalog.manage."""
        return {"ok": True}

    @api_view()
    def probe_list():
        """A page of audit rows."""
        stmt = db.select(AuditLog).order_by(AuditLog.id)
        return paginate(stmt, lambda row: {"id": row.id, "action": row.action})

    for rule, view, methods in (("/api/probe/things", probe_create, ["POST"]),
                                ("/api/probe/manage", probe_manage, ["GET"]),
                                ("/api/probe/list", probe_list, ["GET"])):
        csrf.exempt(view)
        probe.add_url_rule(rule, endpoint=view.__name__, view_func=view, methods=methods)
    return probe


@pytest.fixture
def probe(probe_app):
    """A test client of the probe app."""
    return probe_app.test_client()
