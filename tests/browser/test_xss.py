"""Stored and reflected HTML/JS in a real browser: payloads kept in fields the pages display (customer name
and notes, product name and description, distributor name, interaction notes) and echoed search queries
never run.

The browser context bypasses the Content-Security-Policy on purpose: the CSP would block an inline
script anyway, and this test checks the escaping itself, which must hold without it.
"""

from urllib.parse import quote

import pytest

from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser

PAYLOADS = ('<img src=x onerror="window.__xss=1">', "<script>window.__xss=1</script>",
            '"><svg onload="window.__xss=1">', "javascript:window.__xss=1")
STORED = " ".join(PAYLOADS)


@pytest.fixture
def stored(app, make_user, make_distributor, make_product):
    """Payloads stored through the services in displayed fields; a distributor user and an admin."""
    from dms.core.jobs import commit
    from dms.core.time import utcnow
    from dms.customers import interactions
    from dms.customers import services as customers

    shop = make_distributor("440113", name=f"水站{PAYLOADS[0]}")
    customer = customers.create_customer(None, shop.id, {"name": f"王{PAYLOADS[1]}", "phone": "13912345678",
                                                         "region_code": "440113", "street": "",
                                                         "address": PAYLOADS[2], "note": STORED})
    commit()
    product = make_product(name=f"水{PAYLOADS[0]}", description=STORED)
    agent = make_user("distributor", username="xss_agent", distributor_id=shop.id)
    interactions.log_interaction(agent, customer, {"kind": "call", "happened_at": utcnow(),
                                                   "contact_person": STORED[:120], "outcome": PAYLOADS[1],
                                                   "notes": STORED, "follow_up_on": None})
    commit()
    return {"shop": shop, "customer": customer, "product": product, "agent": agent,
            "admin": make_user("admin", username="xss_admin")}


def visit_and_check(page, url: str, must_show: str | None = None) -> None:
    """Open `url`, let htmx load its fragments, and assert that no payload ran (no flag, no dialog)."""
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    response = page.goto(url)
    assert response.status < 500, f"{url}: {response.status}"
    page.wait_for_load_state("networkidle")
    if must_show:
        assert must_show in page.content() or must_show in page.inner_text("body"), f"{url}: {must_show!r} not shown"
    assert page.evaluate("window.__xss") is None, f"a payload ran on {url}"
    assert not dialogs, f"a dialog opened on {url}: {dialogs}"
    assert page.locator("img[src=x], svg[onload]").count() == 0, f"a payload became an element on {url}"


def test_stored_payloads_do_not_run_for_the_distributor(new_page, login, stored):
    """The distributor's customer list, the customer's page (with the interactions fragment) and its edit form."""
    page = new_page(bypass_csp=True)
    login(page, stored["agent"], PASSWORD)
    customer = stored["customer"].id
    for url in ("/customers", f"/customers/{customer}", f"/customers/{customer}/edit", "/follow-ups",
                f"/customers?q={quote(PAYLOADS[1])}"):
        visit_and_check(page, url)
    visit_and_check(page, f"/customers/{customer}", must_show="<script>window.__xss=1</script>")


def test_stored_payloads_do_not_run_for_hq(new_page, login, stored):
    """HQ's product list, product page and form, distributor list and page, and the echoed search boxes."""
    page = new_page(bypass_csp=True)
    login(page, stored["admin"], PASSWORD)
    product, shop = stored["product"].id, stored["shop"].id
    for url in ("/catalog/products", f"/catalog/products/{product}", f"/catalog/products/{product}/edit",
                "/distributors", f"/distributors/{shop}", f"/distributors/{shop}/edit", "/customers",
                f"/customers/{stored['customer'].id}"):
        visit_and_check(page, url)
    for payload in PAYLOADS:
        for url in (f"/catalog/products?q={quote(payload)}", f"/distributors?q={quote(payload)}",
                    f"/customers?q={quote(payload)}"):
            visit_and_check(page, url)
    visit_and_check(page, f"/catalog/products/{product}", must_show='水<img src=x onerror="window.__xss=1">')


def test_a_payload_typed_into_a_form_is_shown_as_text(new_page, login, stored):
    """Type the payload into the product form in the browser, save, and see it as text on the product page."""
    page = new_page(bypass_csp=True)
    login(page, stored["admin"], PASSWORD)
    page.goto(f"/catalog/products/{stored['product'].id}/edit")
    page.fill("input[name=name]", PAYLOADS[1])
    page.fill("textarea[name=description]", PAYLOADS[0])
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state("networkidle")
    visit_and_check(page, f"/catalog/products/{stored['product'].id}", must_show=PAYLOADS[1])
