"""`flask dms seed-demo` makes the demo orders once: one in every state for 黄丽, one awaiting HQ."""

from sqlalchemy import func, select

from dms.accounts.models import User
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.inventory import services as inventory
from dms.orders import services
from dms.orders.models import ORDER_STATES, Order, OrderRating


def test_seed_demo_makes_orders_in_every_state_once(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["dms", "seed-demo"])
    assert first.exit_code == 0, first.output
    db.session.expire_all()
    agent = db.session.scalar(select(Distributor).where(Distributor.region_code == "440605"))
    orders = list(db.session.scalars(select(Order).order_by(Order.id)))
    own = [o for o in orders if o.distributor_id == agent.id]
    assert {o.status for o in own} == set(ORDER_STATES)
    assert all(o.customer.distributor_id == agent.id and o.warehouse_id == agent.warehouse.id for o in own)
    waiting, = [o for o in orders if o.distributor_id is None]
    assert (waiting.status, waiting.warehouse_id, waiting.ship_region_code) == ("pending", None, "110105")
    courier = db.session.scalar(select(User).where(User.username == "courier"))
    assert courier.distributor_id == agent.id
    assert {o.courier_id for o in own if o.status in ("assigned", "shipped", "delivered", "completed")} == {courier.id}
    ratings = select(func.count(OrderRating.id)).join(Order).where(Order.distributor_id == agent.id)
    assert db.session.scalar(ratings) == 2

    again = runner.invoke(args=["dms", "seed-demo"])
    assert again.exit_code == 0, again.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Order)) == len(orders)
    assert inventory.ledger_differences() == [] and services.stock_differences() == []
    check = runner.invoke(args=["dms", "check"])
    assert check.exit_code == 0, check.output
