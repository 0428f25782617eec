"""An order in a real browser: a distributor orders for a customer, records the payment, gives the order to a
courier on the dispatch board; the courier, on a phone, takes it out and delivers it; the timeline shows it all."""

import re

import pytest
from sqlalchemy import select

from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _horizontal_overflow(page) -> int:
    return page.eval_on_selector("html", "el => el.scrollWidth - el.clientWidth")


@pytest.fixture
def setting(app, make_user, make_distributor, make_product):
    """A county distributor with 20 bottles of water, a customer in 市桥街道, its staff user and its courier."""
    from dms.core.jobs import commit
    from dms.customers import services as customers
    from dms.inventory import services

    shop = make_distributor("440113", name="番禺水站")
    water = make_product(name="桶装水 19L", sku="WATER-19L", price="18.00")
    services.receive(None, shop.warehouse, [{"product": water, "quantity": 20}])
    customer = customers.create_customer(None, shop.id, {"name": "王阿姨", "phone": "13912345678",
                                                         "region_code": "440113", "street": "市桥街道",
                                                         "address": "桥东路8号301"})
    commit()
    return {"shop": shop, "water": water, "customer": customer,
            "agent": make_user("distributor", username="panyu_agent", distributor_id=shop.id),
            "courier": make_user("courier", username="courier_li", display_name="李师傅", distributor_id=shop.id)}


def test_order_pay_dispatch_ship_deliver_and_see_the_timeline(new_page, setting, login, live_server, console,
                                                                screenshot_dir):
    """Distributor places and marks paid -> assigns on the board -> courier ships, delivers on a phone -> timeline."""
    from dms.extensions import db
    from dms.inventory import services as inventory
    from dms.orders.models import Order, OrderEvent

    water, customer = setting["water"], setting["customer"]

    agent = new_page()
    login(agent, setting["agent"], PASSWORD)
    agent.goto("/orders/new")
    agent.fill("input[name=customer_q]", "王阿姨")
    agent.locator("[data-testid=customer-option] input[type=radio]").first.check()
    agent.select_option("[data-testid=product-0]", str(water.id))
    agent.wait_for_selector("[data-testid=unit-price-0]:not(:has-text('—'))")
    agent.fill("[data-testid=quantity-0]", "2")
    agent.press("[data-testid=quantity-0]", "Tab")
    agent.wait_for_selector("[data-testid=running-total]:has-text('36.00')")
    agent.get_by_test_id("order-submit").click()
    agent.wait_for_url(re.compile(r"/orders/\d+$"))
    reference = agent.get_by_test_id("reference").inner_text()
    assert re.fullmatch(r"DD\d{6}", reference)
    order_id = int(agent.url.rsplit("/", 1)[1])
    assert agent.get_by_test_id("ship-name").inner_text() == customer.name

    agent.locator("[data-testid=move-pay] button[type=submit]").click()
    agent.wait_for_selector("[data-testid=move-assign-courier]")
    db.session.expire_all()
    assert db.session.get(Order, order_id).status == "paid"

    # The dispatch board: the order waits under its county and street; one click gives it to the courier.
    agent.goto("/dispatch")
    waiting = agent.locator(f"[data-testid=awaiting-order][data-order={reference}]")
    area = agent.locator("[data-testid=awaiting-area]", has=waiting)
    assert "番禺区" in area.locator("h3").inner_text() and "市桥街道" in area.inner_text()
    assert waiting.locator("select[name=courier_id] option:checked").inner_text().startswith("李师傅")
    waiting.get_by_test_id("assign").click()
    assigned = agent.locator(f"[data-testid=assigned-order][data-order={reference}]")
    assigned.wait_for()
    assert assigned.get_by_test_id("current-courier").inner_text() == "李师傅"
    assert agent.get_by_test_id("board-notice").count() == 1
    assert agent.locator("[data-courier=courier_li] [data-testid=load-total]").inner_text() == "1"
    agent.screenshot(path=str(screenshot_dir / "l-dispatch-board.png"), full_page=True)

    # The courier, on a phone: call, out for delivery, delivered with a note, the customer's rating.
    phone = new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    login(phone, setting["courier"], PASSWORD)
    phone.goto("/deliveries")
    card = phone.locator(f"[data-testid=delivery][data-order={reference}]")
    assert card.get_by_test_id("call").get_attribute("href") == "tel:13912345678"
    assert "市桥街道" in card.get_by_test_id("address").inner_text()
    assert _horizontal_overflow(phone) <= 0
    card.get_by_test_id("ship").click()
    card.get_by_test_id("deliver").wait_for()
    assert phone.get_by_test_id("delivery-notice").count() == 1
    db.session.expire_all()
    assert inventory.stock_of(water, setting["shop"].warehouse, include_empty=True)[0].on_hand == 18
    phone.screenshot(path=str(screenshot_dir / "m-courier-out.png"), full_page=True)
    card.get_by_test_id("deliver-note").fill("放在门口鞋柜上")
    card.get_by_test_id("deliver").click()
    done = phone.locator(f"[data-testid=delivered][data-order={reference}]")
    done.wait_for()
    assert phone.get_by_test_id("nothing-to-deliver").count() == 1
    done.get_by_test_id("score-5").check()
    done.get_by_test_id("rating-comment").fill("师傅很准时")
    done.get_by_test_id("rate").click()
    done.get_by_test_id("rating").wait_for()
    assert "5/5" in done.get_by_test_id("rating").inner_text()
    assert _horizontal_overflow(phone) <= 0
    phone.screenshot(path=str(screenshot_dir / "n-courier-delivered.png"), full_page=True)

    # Back at the distributor: the timeline shows every step.
    agent.goto(f"/orders/{order_id}")
    kinds = agent.locator("[data-testid=timeline] [data-testid=event]").evaluate_all(
        "els => els.map(e => e.dataset.kind)")
    assert kinds == ["placed", "transition", "transition", "transition", "transition", "rated"]
    timeline = agent.get_by_test_id("timeline").inner_text()
    assert "李师傅" in timeline and "放在门口鞋柜上" in timeline
    db.session.expire_all()
    steps = db.session.scalars(select(OrderEvent.to_status).where(OrderEvent.order_id == order_id,
                                                                 OrderEvent.kind == "transition")
                               .order_by(OrderEvent.id)).all()
    assert steps == ["paid", "assigned", "shipped", "delivered"]
    assert db.session.get(Order, order_id).status == "delivered"
    agent.screenshot(path=str(screenshot_dir / "o-order-timeline.png"), full_page=True)
    assert not console.csp_violations(), console.csp_violations()
