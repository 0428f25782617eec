"""Replenishment in a real browser: a distributor asks on a phone, HQ approves in part, the distributor
confirms the receipt with one unit short, and its stock and movement pages show what arrived."""

import re
from datetime import date

import pytest

from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _horizontal_overflow(page) -> int:
    return page.eval_on_selector("html", "el => el.scrollWidth - el.clientWidth")


@pytest.fixture
def setting(app, make_user, make_distributor, make_product):
    """HQ with 100 bottles of water (threshold 10), a distributor with 3 of them, and their users."""
    from dms.core.jobs import commit
    from dms.inventory import services

    water = make_product(name="矿泉水 550ml", sku="WATER-550", tracking="batch", low_stock_threshold=10)
    shop = make_distributor("110105", name="朝阳水站")
    hq = services.hq_warehouse()
    services.receive(None, hq, [{"product": water, "quantity": 100, "batch_code": "HQ-2026",
                                 "expiry_date": date(2099, 12, 31)}])
    services.receive(None, shop.warehouse, [{"product": water, "quantity": 3, "batch_code": "OLD-1"}])
    commit()
    return {"water": water, "shop": shop, "admin": make_user("admin", username="hq_stock"),
            "agent": make_user("distributor", username="chaoyang", distributor_id=shop.id)}


def test_request_approve_receive_and_see_the_stock(new_page, setting, login, live_server, console,
                                                   screenshot_dir):
    """Distributor requests replenishment -> HQ approves in part -> distributor receives -> stock and movements."""
    water, agent_user, admin = setting["water"], setting["agent"], setting["admin"]

    agent = new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    login(agent, agent_user, PASSWORD)
    agent.goto("/inventory/replenishment")
    agent.get_by_test_id("new-replenishment").click()
    agent.wait_for_url(f"{live_server}/inventory/replenishment/new")
    quantity = agent.get_by_test_id("qty-WATER-550")
    assert quantity.input_value() == "17", "suggested: twice the threshold (20) minus the 3 available"
    assert _horizontal_overflow(agent) <= 0
    agent.fill("textarea[name=note]", "国庆前补货")
    agent.get_by_test_id("replenishment-submit").click()
    agent.wait_for_url(re.compile(r"/inventory/replenishment/\d+$"))
    reference = agent.get_by_test_id("reference").inner_text()
    assert re.fullmatch(r"BH\d{6}", reference)
    assert agent.locator("#flash .flash-success").count() == 1
    agent.screenshot(path=str(screenshot_dir / "h-replenishment-requested.png"), full_page=True)

    hq = new_page()
    login(hq, admin, PASSWORD)
    hq.goto("/inventory/replenishment?status=submitted")
    hq.locator("#replenishments-table a", has_text=reference).click()
    hq.wait_for_url(re.compile(r"/inventory/replenishment/\d+$"))
    approved = hq.get_by_test_id("approved-WATER-550")
    assert approved.input_value() == "17"
    approved.fill("15")
    hq.get_by_test_id("approve").click()
    hq.wait_for_url(re.compile(r"/inventory/transfers/\d+$"))
    transfer_ref = hq.get_by_test_id("reference").inner_text()
    assert re.fullmatch(r"DB\d{6}", transfer_ref)
    items = hq.get_by_test_id("transfer-item")
    assert items.count() == 1 and "HQ-2026" in items.first.inner_text()
    hq.screenshot(path=str(screenshot_dir / "i-replenishment-approved.png"), full_page=True)

    agent.reload()
    agent.get_by_test_id("transfer-link").click()
    agent.wait_for_url(re.compile(r"/inventory/transfers/\d+$"))
    received = agent.get_by_test_id("received-WATER-550")
    assert received.input_value() == "15", "defaults to what was sent"
    received.fill("14")
    dialogs = []
    agent.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    agent.get_by_test_id("receive").click()
    agent.wait_for_selector("[data-testid=short]")
    assert dialogs, "the receipt is confirmed before it is sent"
    assert agent.get_by_test_id("difference").inner_text().strip() == "-1"
    assert agent.locator("input[name^=received-]").count() == 0
    assert _horizontal_overflow(agent) <= 0
    agent.screenshot(path=str(screenshot_dir / "j-transfer-received.png"), full_page=True)

    agent.goto("/inventory")
    row = agent.locator(f"#stock-row-{water.id}")
    assert "17" in row.inner_text(), "3 before + 14 received"
    assert agent.locator("[data-testid=low-stock]").count() == 0
    agent.goto("/inventory/movements")
    movement = agent.get_by_test_id("movement-row").filter(has_text=transfer_ref).first
    assert "+14" in movement.inner_text() and "HQ-2026" in movement.inner_text()
    agent.screenshot(path=str(screenshot_dir / "k-movements.png"), full_page=True)
    assert not console.csp_violations(), console.csp_violations()
