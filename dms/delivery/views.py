"""Delivery pages: the dispatch board, the courier's deliveries today, ratings.

Every route with an order id first loads the order within the user's scope (the board through the
orders area's scope, the courier's page among the orders assigned to that courier), so a foreign id
answers 404 before anything else is checked. An htmx request gets back the fragment it aimed at (the
board, or the courier's list) with the outcome in it; a plain form post is redirected (or re-shown
with its errors, 422, or a conflict's message, 409).
"""

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from dms.core.auth import require_permission
from dms.core.errors import NotFound
from dms.core.forms import form_status, submit
from dms.core.nav import nav_url
from dms.core.render import is_htmx, render
from dms.core.scope import HQ_SCOPE
from dms.delivery import bp, services
from dms.delivery.forms import AssignCourierForm, DeliverForm, RatingForm, ShipForm
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.orders import ratings, transitions
from dms.orders.services import get_order

MANAGE = "orders.manage"
OWN = "deliveries.own"


def _id_arg(value) -> int | None:
    """An id from the address; junk is NotFound, as an unknown id is."""
    value = (value or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise NotFound()
    return int(value)


def _form_messages(form) -> list[str]:
    """Every message a failed form carries, for the one order it was about."""
    if form is None:
        return []
    messages = list(form.form_errors)
    for name, errors in form.errors.items():
        if name != "csrf_token" and name is not None:
            messages.extend(e for e in errors if e not in messages)
    return messages


def _order_url(order) -> str | None:
    """The order's page, once the orders area serves it."""
    return nav_url("orders.show_order", order_id=order.id)


# --- the dispatch board ----------------------------------------------------------------------------

def _board(distributor: Distributor | None, *, failed_id=None, failed_form=None, notice=None, status=200):
    """The board of `distributor` (HQ without one: the chooser), with a failed form's messages in place."""
    hq = current_user.can(HQ_SCOPE)
    ctx = {"distributor": distributor, "distributors": services.board_distributors(current_user), "hq": hq,
           "status_label": transitions.status_label, "order_url": _order_url, "notice": notice,
           "failed_id": failed_id, "failed_messages": _form_messages(failed_form), "board_messages": []}
    if distributor is not None:
        awaiting = services.awaiting_courier(current_user, distributor)
        assigned = services.assigned_not_shipped(current_user, distributor)
        loads = services.courier_loads(distributor)
        ctx.update(awaiting=services.group_by_area(awaiting), assigned=services.group_by_area(assigned),
                   awaiting_count=len(awaiting), assigned_count=len(assigned), loads=loads,
                   suggested=services.suggested_courier(loads))
        shown = {o.id for o in awaiting + assigned}
        if failed_id is not None and failed_id not in shown:
            ctx["board_messages"] = ctx["failed_messages"]  # the order left the board (shipped, cancelled...)
    elif failed_id is not None:
        ctx["board_messages"] = ctx["failed_messages"]
    return render("delivery/dispatch.html", "delivery/_board.html", status=status, **ctx)


@bp.get("/dispatch")
@require_permission(MANAGE)
def dispatch_board():
    """Paid orders awaiting a courier by county and street, assigned ones to hand over, couriers' loads today."""
    distributor = services.board_distributor(current_user, _id_arg(request.args.get("distributor")))
    return _board(distributor)


@bp.post("/dispatch/orders/<int:order_id>/courier")
@require_permission(MANAGE)
def assign_courier(order_id: int):
    """Give a paid order to a courier, or an assigned one to another; answers the updated board."""
    order = get_order(current_user, order_id)
    distributor_id = order.distributor_id
    form = AssignCourierForm()
    done = submit(form, lambda: transitions.assign_courier(current_user, order, form.courier, form.note.data or ""))
    distributor = db.session.get(Distributor, distributor_id) if distributor_id is not None else None
    if not done:
        return _board(distributor, failed_id=order_id, failed_form=form, status=form_status(form, invalid=422))
    message = _("%(ref)s goes with %(name)s.", ref=order.reference, name=order.courier.label)
    if is_htmx():
        return _board(distributor, notice=message)
    flash(message, "success")
    hq = current_user.can(HQ_SCOPE)
    return redirect(url_for("delivery.dispatch_board", distributor=distributor_id if hq else None))


# --- the courier's page ----------------------------------------------------------------------------

def _deliveries(*, failed_id=None, failed_form=None, notice=None, status=200):
    """The courier's open deliveries and those done today, with a failed form's messages beside its order."""
    open_orders = services.my_open_deliveries(current_user)
    done = services.my_delivered_today(current_user)
    response = render("delivery/deliveries.html", "delivery/_deliveries.html", status=status,
                      open_orders=open_orders, done=done, places=services.address_labels(open_orders + done),
                      status_label=transitions.status_label, notice=notice, failed_id=failed_id,
                      failed_form=failed_form, failed_messages=_form_messages(failed_form))
    response.headers["Cache-Control"] = "no-store"  # a phone's back button must not show stale states
    return response


def _after(message: str):
    """The courier's list with the outcome (htmx), or a redirect back to it with the message flashed."""
    if is_htmx():
        return _deliveries(notice=message)
    flash(message, "success")
    return redirect(url_for("delivery.my_deliveries"))


@bp.get("/deliveries")
@require_permission(OWN)
def my_deliveries():
    """The courier's phone page: deliveries today in order, tap-to-call, out-for-delivery and delivered buttons."""
    return _deliveries()


@bp.post("/deliveries/<int:order_id>/ship")
@require_permission(OWN)
def ship_delivery(order_id: int):
    """The courier takes the order out for delivery (its reserved stock leaves the warehouse)."""
    order = services.my_delivery(current_user, order_id)
    form = ShipForm()
    if submit(form, lambda: transitions.ship(current_user, order, form.note.data or "")):
        return _after(_("%(ref)s is out for delivery.", ref=order.reference))
    return _deliveries(failed_id=order_id, failed_form=form, status=form_status(form, invalid=422))


@bp.post("/deliveries/<int:order_id>/deliver")
@require_permission(OWN)
def deliver_delivery(order_id: int):
    """The courier marks the order delivered, with an optional note."""
    order = services.my_delivery(current_user, order_id)
    form = DeliverForm()
    if submit(form, lambda: transitions.deliver(current_user, order, form.note.data or "")):
        return _after(_("%(ref)s is delivered.", ref=order.reference))
    return _deliveries(failed_id=order_id, failed_form=form, status=form_status(form, invalid=422))


@bp.post("/deliveries/<int:order_id>/rating")
@require_permission(OWN)
def rate_delivery(order_id: int):
    """Record the customer's 1-5 rating and comment of a delivered order, once (409 the second time)."""
    order = services.my_delivery(current_user, order_id)
    form = RatingForm()
    if submit(form, lambda: ratings.rate_order(current_user, order, form.value, form.comment.data or "")):
        return _after(_("Thank you: the rating of %(ref)s is recorded.", ref=order.reference))
    return _deliveries(failed_id=order_id, failed_form=form, status=form_status(form, invalid=422))
