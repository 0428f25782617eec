"""Account pages with CSRF on: login, logout, rate limits, admin users and roles, htmx behaviour."""

import re

from sqlalchemy import select

from dms.accounts.models import Role, User
from dms.core.models import AuditLog
from dms.extensions import db


def test_login_rotates_session_and_logout_invalidates_it(client, make_user):
    user = make_user("reviewer")
    client.get("/login")
    before = client.get_cookie("dms_session").value
    response = client.post("/login", {"username": user.username, "password": "correct-horse-battery"})
    assert response.status_code == 302
    after = client.get_cookie("dms_session").value
    assert after != before
    assert client.get("/").status_code == 200
    stolen = after
    client.post("/logout")
    assert client.get("/").status_code == 302
    # Replaying the old cookie does not bring the session back: it was revoked server-side.
    client.set_cookie("dms_session", stolen)
    assert client.get("/").status_code == 302


def test_wrong_password_rerenders_with_error(client, make_user):
    user = make_user("reviewer")
    client.get("/login")
    response = client.post("/login", {"username": user.username, "password": "nope"})
    assert response.status_code == 400
    assert "login-submit" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, make_user):
    user = make_user("reviewer")
    response = client.post("/login", {"username": user.username, "password": "correct-horse-battery"}, csrf=False)
    assert response.status_code == 400


def test_htmx_csrf_failure_asks_for_a_refresh(client, login_as):
    login_as("admin")
    response = client._send("post", "/notifications/read-all", headers={"HX-Request": "true", "X-CSRFToken": "bad"})
    assert response.status_code == 400
    assert response.headers["HX-Refresh"] == "true"


def test_login_rate_limited_per_account(app, client, make_user):
    user = make_user("reviewer")
    client.get("/login")
    statuses = [client.post("/login", {"username": user.username, "password": "wrong"}).status_code for _ in range(6)]
    assert statuses[:5] == [400] * 5
    assert statuses[5] == 429
    page = client.post("/login", {"username": user.username, "password": "wrong"})
    assert page.status_code == 429
    # Another account from the same address is not yet limited (the per-address limit is higher).
    other = make_user("reviewer")
    assert client.post("/login", {"username": other.username, "password": "correct-horse-battery"}).status_code == 302


def test_disabled_user_is_logged_out_on_next_request(client, login_as, make_user):
    from dms.accounts import services
    from dms.core.jobs import commit

    user = login_as("reviewer")
    assert client.get("/").status_code == 200
    services.set_active(None, db.session.get(User, user.id), False)
    commit()
    assert client.get("/").status_code == 302


def test_unauthenticated_htmx_gets_hx_redirect(client):
    response = client.get("/admin/users", htmx=True)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/login")


def test_permission_checked_not_role(client, login_as):
    login_as("reviewer")
    assert client.get("/admin/users").status_code == 403
    assert client.get("/audit").status_code == 200


def test_users_list_search_answers_fragment_for_htmx(client, login_as, make_user):
    login_as("admin")
    make_user("courier", username="zhangsan")
    make_user("courier", username="lisi")
    full = client.get("/admin/users?q=zhang")
    assert full.status_code == 200 and "<html" in full.get_data(as_text=True)
    assert "HX-Request" in full.headers["Vary"]
    fragment = client.get("/admin/users?q=zhang", htmx=True)
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and body.lstrip().startswith('<div id="users-table"')
    assert "zhangsan" in body and "lisi" not in body
    restore = client.get("/admin/users?q=zhang", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


def test_users_list_filters_sort_and_paginate(client, login_as, make_user):
    login_as("admin")
    for i in range(30):
        make_user("courier", username=f"courier-{i:02d}")
    page2 = client.get("/admin/users?role=courier&sort=username&dir=desc&page=2", htmx=True).get_data(as_text=True)
    assert "courier-04" in page2 and "courier-29" not in page2
    assert "page 2 of 2" in page2 or "2 / 2" in page2 or "第 2" in page2
    empty = client.get("/admin/users?q=nobody-at-all", htmx=True).get_data(as_text=True)
    assert 'class="empty"' in empty
    assert client.get("/admin/users?page=abc&per_page=-4").status_code == 200


def test_admin_creates_reviewer_and_sees_audit(client, login_as):
    admin = login_as("admin")
    client.get("/admin/users/new")
    response = client.post("/admin/users/new", {"username": "rev1", "password": "reviewer-pass-1",
                                                "display_name": "审核员", "roles": ["reviewer"], "locale": ""})
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "rev1"))
    assert [r.code for r in user.roles] == ["reviewer"]
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "user.create",
                                                     AuditLog.record_id == str(user.id)))
    assert entry.actor_id == admin.id and entry.ip == "127.0.0.1"
    audit_page = client.get("/audit?type=user").get_data(as_text=True)
    assert "user.create" in audit_page


def test_create_user_errors_in_place(client, login_as, make_user):
    login_as("admin")
    make_user("courier", username="taken")
    client.get("/admin/users/new")
    response = client.post("/admin/users/new", {"username": "taken", "password": "long-enough-pw",
                                                "roles": ["courier"], "email": "not-an-email"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert 'class="errors"' in body
    response = client.post("/admin/users/new", {"username": "taken", "password": "long-enough-pw",
                                                "roles": ["courier"]})
    assert response.status_code == 409 and 'class="errors"' in response.get_data(as_text=True)


def test_edit_role_permissions_is_audited(client, login_as):
    login_as("admin")
    role = db.session.scalar(select(Role).where(Role.code == "courier"))
    client.get(f"/admin/roles/{role.id}")
    response = client.post(f"/admin/roles/{role.id}", {"code": "courier", "name": role.name,
                                                       "permissions": ["deliveries.own", "orders.view"]})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Role, role.id).permissions == {"deliveries.own", "orders.view"}
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "role.permissions"))
    assert entry.changes["permissions"] == [["deliveries.own"], ["deliveries.own", "orders.view"]]


def test_disable_needs_confirmation(client, login_as, make_user):
    login_as("admin")
    user = make_user("courier")
    client.get(f"/admin/users/{user.id}")
    client.post(f"/admin/users/{user.id}/active", {"active": "0"})
    db.session.expire_all()
    assert db.session.get(User, user.id).active
    client.post(f"/admin/users/{user.id}/active", {"active": "0", "confirm": "y"})
    db.session.expire_all()
    assert not db.session.get(User, user.id).active


def test_reset_password_and_change_own(client, login_as, make_user):
    login_as("admin")
    user = make_user("courier")
    client.get(f"/admin/users/{user.id}")
    assert client.post(f"/admin/users/{user.id}/password", {"new_password": "fresh-password-1"}).status_code == 302
    client.post("/logout")
    client.get("/login")
    assert client.post("/login", {"username": user.username, "password": "fresh-password-1"}).status_code == 302
    client.get("/account/password")
    bad = client.post("/account/password", {"current_password": "wrong", "new_password": "another-pass-2",
                                            "confirm": "another-pass-2"})
    assert bad.status_code == 422  # the service refused the current password
    good = client.post("/account/password", {"current_password": "fresh-password-1",
                                             "new_password": "another-pass-2", "confirm": "another-pass-2"})
    assert good.status_code == 302
    assert client.get("/").status_code == 200  # this session survives its own password change


def test_unknown_user_id_is_404_page_and_fragment(client, login_as):
    login_as("admin")
    assert client.get("/admin/users/99999").status_code == 404
    fragment = client.get("/admin/users/99999", htmx=True)
    assert fragment.status_code == 404 and "<html" not in fragment.get_data(as_text=True)
    assert fragment.headers["HX-Retarget"] == "#flash"


def test_reset_and_disable_errors_come_back_in_place(client, login_as):
    admin = login_as("admin")
    client.get(f"/admin/users/{admin.id}")
    short = client.post(f"/admin/users/{admin.id}/password", {"new_password": "short"})
    assert short.status_code == 400 and 'id="new_password-errors"' in short.get_data(as_text=True)
    own = client.post(f"/admin/users/{admin.id}/active", {"active": "0", "confirm": "y"})
    assert own.status_code == 422
    assert "flash-error" in own.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, admin.id).active


def test_new_user_from_a_distributor_page_is_prefilled(client, login_as, make_distributor):
    distributor = make_distributor()
    login_as("admin")
    page = client.get(f"/admin/users/new?distributor_id={distributor.id}").get_data(as_text=True)
    assert f'id="distributor_id" name="distributor_id" type="text" value="{distributor.id}"' in page
    assert re.search(r'<input checked id="roles-\d+" name="roles" type="checkbox" value="distributor">', page)
