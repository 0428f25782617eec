"""Order figures the customer pages load as fragments: a customer's consumption history and satisfaction,
and the average satisfaction of the distributor(s) the user sees.

The customers area may not read orders (it sits below them), so its pages fetch these by URL with htmx.
A customer is loaded through the customers area's scoped `get_customer`, so another distributor's
customer answers 404 here too.
"""

from flask import request
from flask_login import current_user

from dms.core.auth import require_permission
from dms.core.render import render
from dms.core.scope import HQ_SCOPE
from dms.core.time import business_today
from dms.customers import services as customers
from dms.customers.views import shown_phone
from dms.orders import bp, customer_stats, transitions
from dms.orders.forms import STATUS_TAGS
from dms.orders.queries import number


@bp.get("/orders/customers/<int:customer_id>/history")
@require_permission("customers.view")
def customer_history(customer_id: int):
    """Fragment: the customer's orders (amounts, products), last order, order count, lifetime value, satisfaction."""
    customer = customers.get_customer(current_user, customer_id)
    response = render("customers/_consumption.html", None, customer=customer,
                      figures=customer_stats.figures_of(customer.id, business_today()),
                      orders=customer_stats.history(customer.id), limit=customer_stats.HISTORY_LIMIT,
                      products=customer_stats.products_bought(customer.id),
                      satisfaction=customer_stats.satisfaction_of_customer(customer.id),
                      status_label=transitions.status_label, status_tags=STATUS_TAGS, phone=shown_phone,
                      can_open_orders=current_user.can("orders.view"))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/orders/customers/satisfaction")
@require_permission("customers.view")
def customers_satisfaction():
    """Fragment: the average rating of the orders of the user's distributor (HQ: the network, or ?distributor=)."""
    distributor_id = number(request.args.get("distributor", "")) if current_user.can(HQ_SCOPE) else None
    response = render("customers/_satisfaction.html", None,
                      satisfaction=customer_stats.satisfaction_in_scope(current_user, distributor_id),
                      hq=current_user.can(HQ_SCOPE), distributor_id=distributor_id)
    response.headers["Cache-Control"] = "no-store"
    return response
