"""Satisfaction (客户满意度): the customer's rating of a delivered order, recorded once."""

from flask_babel import gettext as _

from dms.core import audit
from dms.core.errors import Conflict, Forbidden, InvalidTransition, ValidationError
from dms.extensions import db
from dms.orders.models import Order, OrderRating
from dms.orders.services import actor_label, record_event

RATEABLE = ("delivered", "completed")


def may_rate(actor, order: Order) -> bool:
    """Staff of the order's distributor (or HQ), its courier, or an integration client managing orders."""
    if actor is None:
        return True
    if actor.can("orders.manage"):
        return True
    return actor.can("deliveries.own") and order.courier_id == getattr(actor, "id", None)


def rate_order(actor, order: Order, score, comment: str = "", source: str = "web") -> OrderRating:
    """Record the customer's 1-5 rating and comment of a delivered order; Conflict if already rated."""
    if not may_rate(actor, order):
        raise Forbidden()
    if order.status not in RATEABLE:
        raise InvalidTransition(_("An order can be rated once it is delivered."))
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError(fields={"score": [_("A whole number from 1 to 5.")]})
    if comment is None:
        comment = ""
    if not isinstance(comment, str) or len(comment) > 500:
        raise ValidationError(fields={"comment": [_("Text of at most %(n)d characters.", n=500)]})
    if order.rating is not None:
        raise Conflict(_("%(ref)s has already been rated.", ref=order.reference), code="duplicate")
    rating = OrderRating(order_id=order.id, score=score, comment=comment.strip(), source=source,
                         actor_id=getattr(actor, "id", None), actor_label=actor_label(actor))
    db.session.add(rating)
    db.session.flush()
    record_event(order, actor, "rated", _("Rated %(score)d/5.", score=score) + (f" {rating.comment}" if
                                                                               rating.comment else ""))
    audit.record("order.rate", "order", order.id, f"{order.reference} {score}/5", actor=actor)
    return rating
