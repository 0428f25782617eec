"""The order's main path through the service: placed, paid, assigned, shipped, delivered, completed."""

from decimal import Decimal

from dms.core.jobs import commit
from dms.core.models import Job
from dms.extensions import db
from dms.inventory import services as inventory
from dms.orders import transitions


def test_an_order_goes_from_pending_to_completed_and_moves_stock(app, shop, place):
    distributor, water, courier = shop["distributor"], shop["water"], shop["courier"]
    order = place(None, {"distributor_id": distributor.id, "product_id": water.id, "quantity": 3,
                         "total_price": 54})
    assert order.status == "pending" and order.total == Decimal("54.00")
    assert inventory.available_of(water, distributor.warehouse) == 7
    transitions.pay(None, order, "cash")
    transitions.assign_courier(None, order, courier.id)
    transitions.ship(courier, order)
    transitions.deliver(courier, order, "放在门口")
    transitions.complete(None, order)
    commit()
    assert order.status == "completed"
    assert [e.to_status for e in order.events if e.kind == "transition"] == [
        "paid", "assigned", "shipped", "delivered", "completed"]
    balance = inventory.stock_of(water, distributor.warehouse, include_empty=True)[0]
    assert (balance.on_hand, balance.reserved) == (7, 0)
    assert not inventory.ledger_differences()
    assert db.session.query(Job).filter(Job.key == f"event:order.completed:{order.id}").count() == 1


def test_the_order_checks_find_a_reservation_or_total_that_disagrees(app, shop, place):
    from sqlalchemy import update

    from dms.orders import cli, services
    from dms.orders.models import Order

    order = place(None, {"distributor_id": shop["distributor"].id, "product_id": shop["water"].id, "quantity": 2})
    assert cli.check_order_totals() == [] and services.stock_differences() == []
    transitions.cancel(None, order, "客户取消")
    commit()
    assert services.stock_differences() == []
    # An order put back to pending by hand holds nothing: the check says so.
    db.session.execute(update(Order).where(Order.id == order.id).values(status="pending", total=Decimal("1.00")))
    commit()
    assert len(services.stock_differences()) == 1 and len(cli.check_order_totals()) == 1
