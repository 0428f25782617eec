"""The orders area's background jobs: completing delivered orders after the waiting days."""

from flask_babel import gettext as _

from dms.core import jobs
from dms.core.schedule import register
from dms.extensions import db
from dms.orders import transitions
from dms.orders.models import Order


def complete_delivered_orders():
    """Periodic (hourly): one completion job per order delivered more than ORDER_AUTO_COMPLETE_DAYS ago."""
    ids = transitions.due_for_completion()
    for order_id in ids:
        jobs.enqueue(complete_order, order_id, key=f"order-auto-complete:{order_id}")
    return {"due": len(ids)}


def complete_order(order_id: int):
    """Job: complete one delivered order on the system's behalf; an order no longer delivered is left alone."""
    order = db.session.get(Order, order_id)
    if order is None or order.status != "delivered":
        return {"order": order_id, "completed": False}
    transitions.complete(None, order, _("Completed automatically %(days)d days after delivery.",
                                        days=transitions.auto_complete_days()))
    return {"order": order_id, "completed": True}


register("dms.orders.jobs.complete_delivered_orders", cron="5 * * * *")
