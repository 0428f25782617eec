"""Orders' invariants for `flask dms check`: totals add up; each order holds and has issued what its state says."""

from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select

from dms.core.cli import CHECKS
from dms.extensions import db
from dms.orders.models import Order, OrderLine
from dms.orders.services import stock_differences


def check_order_totals() -> list[str]:
    """Orders whose total is not the sum of their line amounts (must be none)."""
    sums = db.session.execute(select(OrderLine.order_id, func.sum(OrderLine.amount)).group_by(OrderLine.order_id))
    lines = {order_id: Decimal(total or 0) for order_id, total in sums}
    return [_("order %(id)s totals %(total)s but its lines add up to %(lines)s", id=order_id, total=f"{total:.2f}",
              lines=f"{lines.get(order_id, Decimal('0')):.2f}")
            for order_id, total in db.session.execute(select(Order.id, Order.total))
            if lines.get(order_id, Decimal("0")) != total]


CHECKS.extend([check_order_totals, stock_differences])
