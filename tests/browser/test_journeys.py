"""Key journeys in a real browser: login and htmx lists, the admin's first day, the phone layout, expiry."""

import re

import pytest

pytestmark = pytest.mark.browser


def users_rows(page):
    return page.locator("#users-table tbody tr:not(.empty)")


def test_login_navigate_search_language_logout(page, make_user, login, live_server, console, screenshot_dir):
    """Log in, open Users from the side navigation, search (htmx swaps only the table), English, log out."""
    admin = make_user("admin", username="hq_admin")
    make_user("reviewer", username="zhang_reviewer", display_name="张审核")
    make_user("courier", username="li_courier", display_name="李配送")
    login(page, admin)
    assert page.locator("html").get_attribute("lang") == "zh-CN"

    page.locator('#sidenav a[href="/admin/users"]').click()
    page.wait_for_url(f"{live_server}/admin/users")
    assert page.locator("#sidenav a.active").get_attribute("href") == "/admin/users"
    assert users_rows(page).count() == 3
    assert page.locator("h1").inner_text() == "用户"  # zh_CN is the default language

    # A full page load would lose both markers; an htmx swap of #users-table loses only the table's.
    page.evaluate("window.__dmsMarker = 'still here'")
    page.evaluate("document.getElementById('users-table').dataset.before = 'swap'")
    page.get_by_test_id("list-search").fill("zhang")
    page.wait_for_url(re.compile(r"/admin/users\?.*q=zhang"))
    page.wait_for_function("document.querySelectorAll('#users-table tbody tr:not(.empty)').length === 1")
    assert users_rows(page).first.locator("td").first.inner_text() == "zhang_reviewer"
    assert page.evaluate("window.__dmsMarker") == "still here"
    assert page.evaluate("document.getElementById('users-table').dataset.before") is None
    assert page.get_by_test_id("list-search").input_value() == "zhang"
    page.screenshot(path=str(screenshot_dir / "a-users-search.png"), full_page=True)

    page.get_by_test_id("lang-en").click()
    page.wait_for_selector("html[lang=en]")
    assert "/admin/users?q=zhang" in page.url  # back to the address htmx left, search included
    assert page.locator("h1").inner_text() == "Users"
    assert page.get_by_test_id("logout").inner_text() == "Log out"
    assert page.get_by_test_id("lang-zh").is_visible()

    page.get_by_test_id("logout").click()
    page.wait_for_url(f"{live_server}/login")
    assert page.get_by_test_id("login-submit").is_visible()
    assert "You have logged out." in page.locator("#flash").inner_text()
    assert not console.csp_violations(), console.csp_violations()


def test_admin_creates_reviewer_edits_role_and_reads_audit(page, make_user, login, live_server, console,
                                                           screenshot_dir):
    """The issue's 'done when': create a reviewer, change a role's permissions, see both in the audit log."""
    admin = make_user("admin", username="hq_admin")
    login(page, admin)

    page.locator('#sidenav a[href="/admin/users"]').click()
    page.locator('a[href="/admin/users/new"]').click()
    page.wait_for_url(f"{live_server}/admin/users/new")
    page.fill("input[name=username]", "wang_reviewer")
    page.fill("input[name=password]", "reviewer-pass-2026")
    page.fill("input[name=display_name]", "王审核")
    page.check("input[name=roles][value=reviewer]")
    page.click("form.grid-form .actions button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/users/\d+$"))
    assert "wang_reviewer" in page.locator("#flash").inner_text()
    assert page.locator("input[name=roles][value=reviewer]").is_checked()

    page.locator('#sidenav a[href="/admin/roles"]').click()
    page.wait_for_url(f"{live_server}/admin/roles")
    page.locator("td a", has_text=re.compile(r"^reviewer$")).click()
    page.wait_for_url(re.compile(r"/admin/roles/\d+$"))
    role_url = page.url
    untick = page.locator("input[name=permissions][value='orders.manage']")
    tick = page.locator("input[name=permissions][value='customers.manage']")
    assert untick.is_checked() and not tick.is_checked()
    untick.uncheck()
    tick.check()
    with page.expect_navigation():  # the form posts to, and redirects back to, this same address
        page.get_by_test_id("save-role").click()
    assert page.url == role_url
    assert page.locator("#flash .flash-success").count() == 1
    assert not untick.is_checked() and tick.is_checked()

    page.locator('#sidenav a[href="/audit"]').click()
    page.wait_for_url(f"{live_server}/audit")
    table = page.locator("#audit-table")
    role_row = table.locator("tbody tr", has=page.locator("code", has_text="role.permissions"))
    assert role_row.count() == 1
    assert "customers.manage" in role_row.locator("ins").inner_text()
    assert "customers.manage" not in role_row.locator("del").inner_text()
    assert "orders.manage" in role_row.locator("del").inner_text()
    assert "orders.manage" not in role_row.locator("ins").inner_text()
    assert "hq_admin" in role_row.inner_text()
    user_row = table.locator("tbody tr", has=page.locator("code", has_text="user.create")).filter(
        has_text="wang_reviewer")
    assert user_row.count() == 1 and "hq_admin" in user_row.inner_text()
    page.screenshot(path=str(screenshot_dir / "b-audit.png"), full_page=True)

    page.get_by_test_id("lang-en").click()
    page.wait_for_selector("html[lang=en]")
    assert page.locator("h1").inner_text() == "Audit log"
    page.get_by_test_id("logout").click()
    page.wait_for_url(f"{live_server}/login")
    assert page.get_by_test_id("login-submit").is_visible()
    assert not console.csp_violations(), console.csp_violations()


def _horizontal_overflow(page, selector: str = "html") -> int:
    """How many pixels the element (default: the page) scrolls sideways."""
    return page.eval_on_selector(selector, "el => el.scrollWidth - el.clientWidth")


def test_phone_layout(new_page, make_user, login, live_server, console, screenshot_dir):
    """At 360x740 nothing scrolls sideways and the menu button opens the navigation."""
    page = new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    admin = make_user("admin", username="hq_admin")
    for n in range(3):
        make_user("distributor", username=f"agent_with_a_rather_long_name_{n}", display_name="华东区域总代理有限公司")
    login(page, admin)
    assert _horizontal_overflow(page) <= 0

    toggle = page.locator(".nav-toggle")
    nav = page.locator("#sidenav")
    assert toggle.is_visible() and not nav.is_visible()
    toggle.click()
    assert nav.is_visible()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert _horizontal_overflow(page) <= 0

    nav.locator('a[href="/admin/users"]').click()
    page.wait_for_url(f"{live_server}/admin/users")
    assert not nav.is_visible()  # a new page starts with the menu closed
    assert users_rows(page).count() == 4
    assert _horizontal_overflow(page) <= 0
    assert _horizontal_overflow(page, "#users-table") <= 0  # long names wrap inside their card
    page.screenshot(path=str(screenshot_dir / "c-phone-users.png"), full_page=True)
    assert not console.csp_violations(), console.csp_violations()


def test_htmx_request_after_logout_elsewhere_goes_to_login(browser, new_page, make_user, login, live_server,
                                                           console, screenshot_dir):
    """The session ends in another tab; the next htmx request answers HX-Redirect and the page goes to login."""
    admin = make_user("admin", username="hq_admin")
    page = new_page()
    login(page, admin)
    page.goto("/admin/users")

    other = new_page()
    other.context.add_cookies(page.context.cookies())
    other.goto("/admin/users")
    assert other.get_by_test_id("logout").is_visible()
    other.get_by_test_id("logout").click()
    other.wait_for_url(f"{live_server}/login")

    with page.expect_response(lambda r: "/admin/users?" in r.url and r.request.headers.get("hx-request")) as info:
        page.get_by_test_id("list-search").fill("hq")
    response = info.value
    assert response.status == 204
    assert response.headers.get("hx-redirect", "").startswith("/login?next=")
    page.wait_for_url(re.compile(r"/login\?next="))
    assert page.get_by_test_id("login-submit").is_visible()
    assert page.locator("[data-testid=logout]").count() == 0
    page.screenshot(path=str(screenshot_dir / "d-expired.png"), full_page=True)
    assert not console.csp_violations(), console.csp_violations()
