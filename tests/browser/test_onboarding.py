"""Onboarding in a real browser: a visitor applies on a phone, a reviewer approves, the new distributor logs in."""

import re

import pytest

from tests.distributors.applying import phone
from tests.distributors.conftest import id_number

pytestmark = pytest.mark.browser


def _horizontal_overflow(page) -> int:
    return page.eval_on_selector("html", "el => el.scrollWidth - el.clientWidth")


def test_apply_approve_set_password_and_log_in(new_page, make_user, login, live_server, console, screenshot_dir):
    """The visitor's form (region picker included), the review queue, the one-time link, the first login."""
    number, mobile = id_number(), phone()

    visitor = new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    visitor.goto("/apply")
    assert visitor.get_by_test_id("logout").count() == 0  # nobody is logged in
    visitor.fill("input[name=name]", "赵六")
    visitor.fill("input[name=id_number]", number.lower())
    visitor.fill("input[name=phone]", mobile)
    visitor.fill("input[name=email]", "zhao@example.com")
    visitor.select_option("select[name=region_code__province]", "110000")
    visitor.wait_for_selector("select[name=region_code__city] option[value='110100']", state="attached")
    visitor.select_option("select[name=region_code__city]", "110100")
    visitor.wait_for_selector("select[name=region_code__county] option[value='110105']", state="attached")
    visitor.select_option("select[name=region_code__county]", "110105")
    assert visitor.input_value("input[name=region_code]") == "110105"  # app.js follows the selects
    visitor.fill("textarea[name=message]", "我在朝阳区有三家门店。")
    assert _horizontal_overflow(visitor) <= 0
    visitor.get_by_test_id("apply-submit").click()
    visitor.wait_for_url(re.compile(r"/apply/status/[^/?]+\?new=1$"))
    received = visitor.get_by_test_id("apply-received")
    assert received.is_visible()
    reference = visitor.get_by_test_id("reference").inner_text()
    status_link = visitor.get_by_test_id("status-link").inner_text()
    assert re.fullmatch(r"SQ\d{6}", reference) and status_link.startswith(f"{live_server}/apply/status/")
    assert number not in visitor.content() and _horizontal_overflow(visitor) <= 0
    visitor.screenshot(path=str(screenshot_dir / "e-applied.png"), full_page=True)

    reviewer = make_user("reviewer", username="zhang_reviewer")
    review = new_page()
    login(review, reviewer)
    review.locator('#sidenav a[href="/applications"]').click()
    review.wait_for_url(f"{live_server}/applications")
    review.locator("#applications-table a", has_text=reference).click()
    review.wait_for_url(re.compile(r"/applications/\d+$"))
    assert "110105********" in review.get_by_test_id("id-number").inner_text()
    assert review.locator("[data-check=territory] .tag.ok").count() == 1
    review.get_by_test_id("approve").click()
    link = review.get_by_test_id("password-link").inner_text().strip()
    username = review.get_by_test_id("new-username").inner_text().strip()
    assert link.startswith(f"{live_server}/account/set-password/") and username == mobile
    review.screenshot(path=str(screenshot_dir / "f-approved.png"), full_page=True)

    agent = new_page()
    agent.goto(link)
    agent.fill("input[name=new_password]", "zhao-liu-water-2026")
    agent.fill("input[name=confirm]", "zhao-liu-water-2026")
    agent.get_by_test_id("set-password-submit").click()
    agent.wait_for_url(f"{live_server}/login")
    assert agent.locator("#flash .flash-success").count() == 1
    agent.fill("input[name=username]", username)
    agent.fill("input[name=password]", "zhao-liu-water-2026")
    agent.get_by_test_id("login-submit").click()
    agent.wait_for_url(f"{live_server}/")
    distributors = agent.locator('#sidenav a[href="/distributors"]')
    assert distributors.count() == 1
    distributors.click()
    agent.wait_for_url(re.compile(r"/distributors"))
    agent.locator("#distributors-table a", has_text="赵六").click()
    agent.wait_for_url(re.compile(r"/distributors/\d+$"))
    assert "赵六" in agent.locator("h1").inner_text()
    assert number not in agent.content()
    agent.screenshot(path=str(screenshot_dir / "g-own-distributor.png"), full_page=True)

    agent.goto(link)  # the link worked once
    assert agent.get_by_test_id("link-invalid").is_visible()
    visitor.goto(status_link)
    assert visitor.get_by_test_id("decision").is_visible()
    assert not console.csp_violations(), console.csp_violations()
