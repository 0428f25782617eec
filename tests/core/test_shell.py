"""The UI shell: security headers, language, error pages, navigation by permission, notifications."""

import re

from dms.core.jobs import commit
from dms.core.services import notify


def test_security_headers_and_cookies(client, login_as):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", csp).group(1)
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    login_as("admin")
    cookie = client.get_cookie("dms_session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_no_inline_scripts_in_pages(client, login_as):
    login_as("admin")
    for url in ("/", "/admin/users", "/admin/roles", "/audit", "/notifications", "/jobs"):
        body = client.get(url).get_data(as_text=True)
        for tag in re.findall(r"<script[^>]*>", body):
            assert "src=" in tag, (url, tag)
        assert " on" + "click=" not in body


def test_language_switch_before_and_after_login(client, login_as):
    assert "登录" in client.get("/login").get_data(as_text=True)
    client.post("/language", {"locale": "en", "next": "/login"})
    assert "Log in" in client.get("/login").get_data(as_text=True)
    user = login_as("reviewer")
    client.post("/language", {"locale": "zh_CN", "next": "/"})
    from dms.accounts.models import User
    from dms.extensions import db

    assert db.session.get(User, user.id).locale == "zh_CN"
    assert client.post("/language", {"locale": "xx"}).status_code == 400


def test_language_switch_refuses_get(client):
    assert client.get("/language?locale=en").status_code == 405


def test_error_pages_in_both_languages(client, login_as):
    login_as("reviewer")
    zh = client.get("/no/such/page")
    assert zh.status_code == 404 and "找不到" in zh.get_data(as_text=True)
    client.post("/language", {"locale": "en"})
    en = client.get("/no/such/page")
    assert en.status_code == 404 and "Not found" in en.get_data(as_text=True)
    forbidden = client.get("/admin/users")
    assert forbidden.status_code == 403


def test_navigation_follows_permissions(client, login_as):
    login_as("courier")
    body = client.get("/").get_data(as_text=True)
    assert "/admin/users" not in body and "/audit" not in body


def test_notification_bell_counts_unread(client, login_as):
    user = login_as("reviewer")
    notify(user.id, "Stock low", link="/")
    notify(user.id, "Another")
    commit()
    bell = client.get("/notifications/bell", htmx=True).get_data(as_text=True)
    assert 'data-testid="unread">2<' in bell
    client.get("/notifications")
    client.post("/notifications/read-all")
    assert 'data-testid="unread"' not in client.get("/notifications/bell", htmx=True).get_data(as_text=True)


def test_someone_elses_notification_is_404(client, login_as, make_user):
    other = make_user("reviewer")
    note = notify(other.id, "Private")
    commit()
    login_as("reviewer")
    client.get("/notifications")
    assert client.post(f"/notifications/{note.id}/read").status_code == 404


def test_money_and_dates_follow_locale(app):
    from decimal import Decimal

    from flask_babel import force_locale

    from dms.core.i18n import money

    with app.test_request_context():
        with force_locale("zh_CN"):
            assert money(Decimal("1234.5")) == "¥1,234.50"
        with force_locale("en"):
            assert money(Decimal("1234.5")).endswith("1,234.50")


def test_scope_helper_hides_other_distributors_rows(make_user):
    import pytest
    from sqlalchemy import select

    from dms.accounts.models import User
    from dms.core.errors import NotFound
    from dms.core.scope import get_scoped, scoped
    from dms.distributors.models import Distributor
    from dms.extensions import db

    one, two = Distributor(name="甲", level="county"), Distributor(name="乙", level="county")
    db.session.add_all([one, two])
    db.session.commit()
    mine = make_user("distributor", distributor_id=one.id)
    theirs = make_user("distributor", distributor_id=two.id)
    hq = make_user("admin")
    ids = set(db.session.scalars(scoped(select(User.id), User.distributor_id, mine)))
    assert mine.id in ids and theirs.id not in ids
    assert theirs.id in set(db.session.scalars(scoped(select(User.id), User.distributor_id, hq)))
    with pytest.raises(NotFound):
        get_scoped(User, theirs.id, mine)
    assert get_scoped(User, mine.id, mine).id == mine.id


def test_junk_in_urls_and_query_strings_never_gives_a_500(client, login_as):
    login_as("admin")
    for url in ("/jobs/99999999999999999999", "/admin/users/4294967296",
                "/admin/users?page=%ff&per_page=999999&sort=%00&dir=x&q=" + "a" * 5000,
                "/audit?since=2026-13-45&until=abc&actor=%27%22&record=" + "9" * 300,
                "/jobs?status=%ff&queue=<script>", "/notifications?unread=%00"):
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
