"""Admin pages for integration clients (CSRF on): list, register, disable, rotate; secrets shown once."""

import re

import pytest
from sqlalchemy import select

from tests.api.conftest import bearer

BASE = "/admin/api-clients"


def _role_id(db_session, code):
    from dms.accounts.models import Role

    return db_session.scalar(select(Role.id).where(Role.code == code))


def _secret_of(page: str) -> str:
    return re.search(r'data-testid="client-secret">([^<]+)<', page).group(1).strip()


def _client_row(db_session, name):
    from dms.api.models import ApiClient

    db_session.rollback()
    return db_session.scalar(select(ApiClient).where(ApiClient.name == name))


def _token(client, client_id, secret):
    return client.post("/api/auth/token", {"grant_type": "client_credentials", "client_id": client_id,
                                           "client_secret": secret}, csrf=False)


def test_pages_need_the_permission(client, login_as):
    assert client.get(BASE).status_code == 302
    login_as("distributor")
    assert client.get(BASE).status_code == 403
    assert client.get(f"{BASE}/new").status_code == 403


def test_nav_links_to_the_list(client, login_as):
    login_as("admin")
    assert f'href="{BASE}"' in client.get("/").get_data(as_text=True)


def test_create_shows_the_secret_once_and_stores_it_hashed(client, login_as, db_session, make_distributor):
    from dms.accounts.passwords import verify_password
    from dms.core.models import AuditLog

    distributor_id = make_distributor().id
    admin = login_as("admin")
    form = client.get(f"{BASE}/new").get_data(as_text=True)
    assert "selected" in form  # the integration role is preselected
    response = client.post(f"{BASE}/new", {"name": "Mini-program", "role_id": _role_id(db_session, "integration"),
                                           "distributor_id": str(distributor_id)})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    secret = _secret_of(page)
    row = _client_row(db_session, "Mini-program")
    assert row.client_id in page and row.distributor_id == distributor_id and row.role.code == "integration"
    assert row.created_by_id == admin.id and row.active
    assert secret not in row.secret_hash and row.secret_hash.startswith("$argon2id$")
    assert verify_password(row.secret_hash, secret)
    # Never shown again, never logged.
    for url in (BASE, f"{BASE}/{row.id}"):
        assert secret not in client.get(url).get_data(as_text=True)
    entries = list(db_session.scalars(select(AuditLog).where(AuditLog.record_type == "api_client")))
    assert [e.action for e in entries] == ["api_client.create"]
    assert secret not in str(entries[0].changes) and secret not in entries[0].summary
    # The credentials work.
    token = _token(client, row.client_id, secret).json["access_token"]
    assert client.get("/api/me", headers=bearer(token)).json["distributor_id"] == distributor_id


# 400: the form's own checks; 422: the service's (ValidationError), as for every re-shown form.
@pytest.mark.parametrize("data,field,status", [({"name": ""}, "name", 400),
                                               ({"name": "x", "distributor_id": "abc"}, "distributor_id", 400),
                                               ({"name": "x", "distributor_id": "999999"}, "distributor_id", 422),
                                               ({"name": "x", "role_id": "99999"}, "role_id", 400)])
def test_bad_input_rerenders_the_form_with_errors(client, login_as, db_session, data, field, status):
    from dms.api.models import ApiClient

    login_as("admin")
    client.get(f"{BASE}/new")
    data = {"role_id": _role_id(db_session, "integration"), **data}
    response = client.post(f"{BASE}/new", data)
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert f'id="{field}-errors"' in page or 'class="flash flash-error"' in page
    assert db_session.scalar(select(ApiClient.id)) is None


def test_no_client_gets_more_than_its_creator_holds(client, login_as, make_user, db_session):
    from dms.accounts import services
    from dms.core.jobs import commit

    services.create_role(None, code="integrator", name="Integrator", permissions=["clients.manage", "orders.view"])
    commit()
    login_as(make_user("integrator"))
    client.get(f"{BASE}/new")
    response = client.post(f"{BASE}/new", {"name": "Escalate", "role_id": _role_id(db_session, "admin")})
    assert response.status_code == 422
    assert 'id="role_id-errors"' in response.get_data(as_text=True)
    assert _client_row(db_session, "Escalate") is None


def test_csrf_is_enforced(client, login_as, db_session):
    login_as("admin")
    response = client.post(f"{BASE}/new", {"name": "No token", "role_id": _role_id(db_session, "integration")},
                           csrf=False)
    assert response.status_code == 400
    assert _client_row(db_session, "No token") is None


def test_disable_needs_confirmation_then_ends_tokens(client, login_as, make_client, db_session):
    from dms.core.models import AuditLog

    api_client, secret = make_client(name="ERP")
    token = _token(client, api_client.client_id, secret).json["access_token"]
    login_as("admin")
    client.get(f"{BASE}/{api_client.id}")
    response = client.post(f"{BASE}/{api_client.id}/active", {"active": "0"})
    assert response.status_code == 400
    assert "confirm-errors" in response.get_data(as_text=True)
    assert _client_row(db_session, "ERP").active
    response = client.post(f"{BASE}/{api_client.id}/active", {"active": "0", "confirm": "y"})
    assert response.status_code == 302
    assert not _client_row(db_session, "ERP").active
    assert client.get("/api/me", headers=bearer(token)).status_code == 401
    assert _token(client, api_client.client_id, secret).status_code == 401
    client.get(f"{BASE}/{api_client.id}")
    assert client.post(f"{BASE}/{api_client.id}/active", {"active": "1", "confirm": "y"}).status_code == 302
    assert _token(client, api_client.client_id, secret).status_code == 200
    actions = list(db_session.scalars(select(AuditLog.action).where(AuditLog.record_type == "api_client")
                                      .order_by(AuditLog.id)))
    assert actions == ["api_client.create", "api_client.disable", "api_client.enable"]


def test_rotate_shows_a_new_secret_once(client, login_as, make_client, db_session):
    api_client, old_secret = make_client(name="ERP")
    login_as("admin")
    client.get(f"{BASE}/{api_client.id}")
    assert client.post(f"{BASE}/{api_client.id}/secret", {}).status_code == 400
    response = client.post(f"{BASE}/{api_client.id}/secret", {"confirm": "y"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    new_secret = _secret_of(response.get_data(as_text=True))
    assert new_secret != old_secret
    assert _token(client, api_client.client_id, old_secret).status_code == 401
    assert _token(client, api_client.client_id, new_secret).status_code == 200
    assert new_secret not in client.get(f"{BASE}/{api_client.id}").get_data(as_text=True)


def test_unknown_client_is_404(client, login_as):
    login_as("admin")
    assert client.get(f"{BASE}/999").status_code == 404


def test_list_search_filter_pagination_and_fragment(client, login_as, make_client, db_session, make_distributor):
    make_client(name="Alpha ERP")
    distributor = make_distributor()
    beta, _secret = make_client(name="Beta shop", distributor_id=distributor.id)
    login_as("admin")
    page = client.get(BASE).get_data(as_text=True)
    assert "Alpha ERP" in page and "Beta shop" in page and 'id="clients-table"' in page
    assert "Beta shop" not in client.get(f"{BASE}?q=alpha").get_data(as_text=True)
    assert "Beta shop" in client.get(f"{BASE}?q={beta.client_id}").get_data(as_text=True)
    assert "Alpha ERP" not in client.get(f"{BASE}?distributor={distributor.id}").get_data(as_text=True)
    fragment = client.get(f"{BASE}?status=disabled", htmx=True)
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith("<div id=\"clients-table\"") and "<html" not in body
    assert "Alpha ERP" not in body and "HX-Request" in fragment.headers["Vary"]
    assert client.get(f"{BASE}?per_page=1&page=2").status_code == 200


def test_empty_state(client, login_as):
    login_as("admin")
    page = client.get(BASE).get_data(as_text=True)
    assert 'class="empty"' in page
