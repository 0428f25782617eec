"""Visits in a real browser: a distributor's staff logs a visit with a follow-up on the customer's page
(a follow-up in the past is refused in place first), sees it due today on the follow-ups page, and completes it."""

from datetime import timedelta

import pytest

from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def setting(app, make_user, make_distributor):
    """A county distributor, one of its customers and its staff user."""
    from dms.core.jobs import commit
    from dms.customers import services as customers

    shop = make_distributor("440113", name="番禺水站")
    customer = customers.create_customer(None, shop.id, {"name": "王阿姨", "phone": "13912345678",
                                                         "region_code": "440113", "street": "市桥街道",
                                                         "address": "桥东路8号301"})
    commit()
    return {"shop": shop, "customer": customer,
            "agent": make_user("distributor", username="panyu_agent", display_name="小陈", distributor_id=shop.id)}


def test_log_a_visit_with_a_follow_up_see_it_due_and_complete_it(new_page, setting, login, screenshot_dir):
    """Customer page -> log a visit (past follow-up refused, then today's) -> /follow-ups today -> done."""
    from dms.core.time import business_today
    from dms.customers.models import Interaction
    from dms.extensions import db

    customer, today = setting["customer"], business_today()
    page = new_page()
    login(page, setting["agent"], PASSWORD)
    page.goto(f"/customers/{customer.id}")
    form = page.get_by_test_id("log-interaction")  # the interactions fragment, loaded by htmx
    form.wait_for()

    form.locator("select[name=log-kind]").select_option("visit")
    form.locator("input[name=log-contact_person]").fill("王阿姨")
    form.locator("input[name=log-outcome]").fill("试饮满意，下周订水")
    form.locator("input[name=log-follow_up_on]").fill((today - timedelta(days=1)).isoformat())
    form.locator("button[type=submit]").click()
    page.locator("[data-testid=log-interaction] .errors").wait_for()  # refused in place (422), nothing saved
    assert db.session.query(Interaction).count() == 0
    form = page.get_by_test_id("log-interaction")
    assert form.locator("input[name=log-outcome]").input_value() == "试饮满意，下周订水"

    form.locator("input[name=log-follow_up_on]").fill(today.isoformat())
    form.locator("button[type=submit]").click()
    page.locator("[data-testid=interaction]", has_text="试饮满意").wait_for()
    db.session.expire_all()
    visit = db.session.query(Interaction).one()
    assert (visit.kind, visit.status, visit.follow_up_on, visit.user_id) == ("visit", "done", today,
                                                                             setting["agent"].id)

    page.goto("/follow-ups")
    due = page.locator("[data-testid=bucket-today] [data-testid=follow-up]", has_text="王阿姨")
    due.wait_for()
    assert "试饮满意" in due.inner_text()
    assert page.locator("[data-testid=bucket-overdue] [data-testid=follow-up]").count() == 0
    page.screenshot(path=str(screenshot_dir / "k2-follow-ups.png"), full_page=True)
    due.get_by_test_id("complete-follow-up").locator("button").click()
    page.get_by_test_id("follow-ups-message").wait_for()
    assert page.locator("[data-testid=follow-up]").count() == 0
    db.session.expire_all()
    assert db.session.get(Interaction, visit.id).follow_up_done_at is not None
