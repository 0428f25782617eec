"""Login sessions: fixation, logout, disabling, password changes, idle timeout and login throttling.

tests/accounts/test_views.py already checks that the cookie changes at login, that logout revokes it,
that a disabled user is out on the next request and the per-account limit; these go further: an
attacker's pre-set cookie, other sessions of the same user, the admin's reset, the per-address limit.
"""

from datetime import timedelta

from sqlalchemy import select

from dms.accounts.models import User, UserSession
from dms.extensions import db
from tests.conftest import Client
from tests.security.conftest import PASSWORD, logged_in_client


def _logged_in(client) -> bool:
    """True when the client's cookie opens a page that needs a login."""
    response = client.get("/account/password")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def _sessions(user) -> list[UserSession]:
    return list(db.session.scalars(select(UserSession).where(UserSession.user_id == user.id).order_by(UserSession.id)))


def test_an_attackers_preset_cookie_never_becomes_authenticated(app, make_user):
    user = make_user("reviewer")
    attacker = Client(app, app.test_client())
    attacker.get("/login")
    planted = attacker.get_cookie("dms_session").value
    victim = Client(app, app.test_client())
    victim.set_cookie("dms_session", planted)  # the attacker fixed the victim's cookie before the login
    victim.csrf = attacker.csrf
    assert victim.post("/login", {"username": user.username, "password": PASSWORD}).status_code == 302
    assert victim.get_cookie("dms_session").value != planted
    assert _logged_in(victim)
    # The attacker still holds the planted cookie: it was never logged in, and is not now.
    assert not _logged_in(attacker)
    fixed = Client(app, app.test_client())
    fixed.set_cookie("dms_session", planted)
    assert not _logged_in(fixed)


def test_each_login_gets_a_new_server_side_session(app, make_user):
    user = make_user("reviewer")
    first, second = logged_in_client(app, user), logged_in_client(app, user)
    rows = _sessions(user)
    assert len(rows) == 2 and rows[0].token_hash != rows[1].token_hash
    assert first.get_cookie("dms_session").value != second.get_cookie("dms_session").value


def test_logout_revokes_the_row_and_a_replayed_cookie_cannot_act(app, make_user):
    user = make_user("admin")
    client = logged_in_client(app, user)
    stolen, token = client.get_cookie("dms_session").value, client.csrf
    client.post("/logout")
    db.session.expire_all()
    assert _sessions(user)[0].revoked_at is not None
    thief = Client(app, app.test_client())
    thief.set_cookie("dms_session", stolen)
    thief.csrf = token
    response = thief.post("/admin/users/new", {"username": "planted", "password": "planted-password-1",
                                               "roles": ["admin"]})
    assert response.status_code in (302, 400)
    assert response.status_code == 400 or response.headers["Location"].startswith("/login")
    assert db.session.scalar(select(User).where(User.username == "planted")) is None


def test_disabling_through_the_admin_page_ends_every_session_at_once(app, make_user):
    admin = logged_in_client(app, make_user("admin"))
    target = make_user("distributor")
    phone, laptop = logged_in_client(app, target), logged_in_client(app, target)
    admin.get(f"/admin/users/{target.id}")
    assert admin.post(f"/admin/users/{target.id}/active", {"active": "0", "confirm": "y"}).status_code == 302
    assert not _logged_in(phone)
    fragment = laptop.get("/orders", htmx=True)  # an htmx request is sent to the login page too
    assert fragment.status_code == 204 and fragment.headers["HX-Redirect"].startswith("/login")
    db.session.expire_all()
    assert all(row.revoked_at is not None for row in _sessions(target))
    disabled = Client(app, app.test_client())
    disabled.get("/login")
    assert disabled.post("/login", {"username": target.username, "password": PASSWORD}).status_code == 400


def test_changing_ones_password_ends_ones_other_sessions_and_tokens(app, make_user):
    user = make_user("distributor")
    here, elsewhere = logged_in_client(app, user), logged_in_client(app, user)
    token = app.test_client().post("/api/auth/token", data={"grant_type": "password", "username": user.username,
                                                            "password": PASSWORD}).json["access_token"]
    here.get("/account/password")
    response = here.post("/account/password", {"current_password": PASSWORD, "new_password": "a-new-password-9",
                                               "confirm": "a-new-password-9"})
    assert response.status_code == 302
    assert _logged_in(here)
    assert not _logged_in(elsewhere)
    assert app.test_client().get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_an_admin_reset_ends_all_the_users_sessions(app, make_user):
    admin = logged_in_client(app, make_user("admin"))
    user = make_user("courier")
    one, two = logged_in_client(app, user), logged_in_client(app, user)
    admin.get(f"/admin/users/{user.id}")
    assert admin.post(f"/admin/users/{user.id}/password", {"new_password": "reset-password-7"}).status_code == 302
    assert not _logged_in(one) and not _logged_in(two)
    assert _logged_in(admin)


def test_an_idle_session_expires(app, make_user):
    user = make_user("reviewer")
    client = logged_in_client(app, user)
    cookie = client.get_cookie("dms_session").value
    row = _sessions(user)[0]
    row.last_seen_at -= timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    db.session.commit()
    assert not _logged_in(client)
    # The idle check is made afresh on every request (last_seen_at moves only for a live session).
    replay = Client(app, app.test_client())
    replay.set_cookie("dms_session", cookie)
    assert not _logged_in(replay)


def test_login_is_throttled_per_address_with_retry_after(app, make_user):
    """LOGIN_LIMITS_PER_ADDRESS: 30 a minute from one address, whatever the username."""
    user = make_user("reviewer")
    client = Client(app, app.test_client())
    client.get("/login")
    limit = int(app.config["LOGIN_LIMITS_PER_ADDRESS"].split(";")[0].split()[0])
    statuses = [client.post("/login", {"username": f"guess{i}", "password": "wrong"}).status_code
                for i in range(limit)]
    assert statuses == [400] * limit
    refused = client.post("/login", {"username": user.username, "password": PASSWORD})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    # Another address is not affected.
    other = Client(app, app.test_client())
    other.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    response = other.post("/login", {"username": user.username, "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert response.status_code == 302


def test_login_is_throttled_per_account_across_addresses(app, make_user):
    """LOGIN_LIMITS_PER_ACCOUNT: 5 a minute for one username, even from changing addresses."""
    user = make_user("reviewer")
    client = Client(app, app.test_client())
    client.get("/login")
    limit = int(app.config["LOGIN_LIMITS_PER_ACCOUNT"].split(";")[0].split()[0])
    for i in range(limit):
        response = client.post("/login", {"username": user.username.upper(), "password": "wrong"},
                               environ_base={"REMOTE_ADDR": f"10.0.1.{i + 1}"})
        assert response.status_code == 400
    refused = client.post("/login", {"username": user.username, "password": PASSWORD},
                          environ_base={"REMOTE_ADDR": "10.0.2.1"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert not _logged_in(client)


def test_a_session_used_only_for_reading_stays_alive(app, make_user):
    """Page views that write nothing still move last_seen_at (once a minute): an active reader is not idle."""
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    user = make_user("reviewer")
    client = logged_in_client(app, user)
    row = _sessions(user)[0]
    row.last_seen_at -= idle - timedelta(minutes=1)
    db.session.commit()
    backdated = row.last_seen_at
    assert _logged_in(client)  # a GET: the page itself commits nothing
    db.session.expire_all()
    assert _sessions(user)[0].last_seen_at >= backdated + idle - timedelta(minutes=1)  # now
    assert _logged_in(client)


def test_an_idle_sessions_revocation_is_stored(app, make_user):
    user = make_user("reviewer")
    client = logged_in_client(app, user)
    row = _sessions(user)[0]
    row.last_seen_at -= timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
    db.session.commit()
    assert not _logged_in(client)
    db.session.expire_all()
    assert _sessions(user)[0].revoked_at is not None
