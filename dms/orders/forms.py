"""Order forms: the order (customer, distributor, lines), and one small form per move of the state machine.

The forms check shapes only; the services own the rules (prices, stock, states, who may act) and name
the fields they refuse, which the views put back beside these fields. An order's lines are a variable
list of inputs named `lines-<n>-product_id|quantity|discount|q`, read by `read_lines`.
"""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from dms.core.forms import AppForm
from dms.orders.models import PAYMENT_METHODS
from dms.orders.pricing import MAX_LINES
from dms.orders.queries import LineRow, number

BLANK_LINES = 3  # lines a new order form starts with, so it works without JavaScript
METHOD_LABELS = {"cash": _l("Cash"), "wechat": _l("WeChat Pay"), "alipay": _l("Alipay"),
                 "bank_transfer": _l("Bank transfer"), "card": _l("Card"), "other": _l("Other")}
STATUS_TAGS = {"pending": "", "paid": "running", "assigned": "running", "shipped": "running", "delivered": "ok",
               "completed": "ok", "cancelled": "off", "refunded": "off"}
EVENT_LABELS = {"placed": _l("Placed"), "edited": _l("Edited"), "transition": _l("Status changed"),
                "courier": _l("Courier"), "routed": _l("Distributor assigned"), "rated": _l("Rated")}
ID = Regexp(r"^[0-9]{1,9}$", message=_l("Choose from the list."))


def choices(pairs, blank: str | None = None) -> list[SelectChoice]:
    """Select options from (value, label) pairs, after a blank first option when `blank` is given."""
    return ([SelectChoice("", blank)] if blank is not None else []) + [SelectChoice(v, label) for v, label in pairs]


def read_lines(formdata, start_blank: int = 0) -> list[LineRow]:
    """The order lines a form sent, in the order of their numbers; `start_blank` blank ones when none."""
    indexes = set()
    for key in formdata.keys():
        parts = key.split("-")
        if len(parts) == 3 and parts[0] == "lines" and number(parts[1], 3) is not None:
            indexes.add(number(parts[1], 3))
    rows = []
    for index in sorted(indexes)[:MAX_LINES + 1]:
        def value(name, limit=20, index=index):
            return (formdata.get(f"lines-{index}-{name}") or "").strip()[:limit]
        rows.append(LineRow(index=index, product_id=value("product_id"), quantity=value("quantity"),
                            discount=value("discount"), q=value("q", 50)))
    if not rows:
        rows = [LineRow(index=n) for n in range(start_blank)]
    return rows


class OrderForm(AppForm):
    """A new order: an existing customer or a new one, the distributor (HQ), where it ships from, a campaign
    code, a note."""

    customer_q = StringField(_l("Find a customer"), validators=[Optional(), Length(max=50)],
                             render_kw={"autocomplete": "off", "type": "search"})
    customer_id = StringField(_l("Customer"), validators=[Optional(), ID])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)], render_kw={"autocomplete": "off"})
    phone = StringField(_l("Mobile phone"), validators=[Optional(), Length(max=32)],
                        render_kw={"inputmode": "tel", "autocomplete": "off"})
    street = StringField(_l("Street or community"), validators=[Optional(), Length(max=100)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=255)])
    distributor_id = SelectField(_l("Distributor"), choices=[])
    ship_from_hq = BooleanField(_l("Ship from the headquarters warehouse"))
    # Drawn with the lines (templates/orders/_lines.html), so the live prices show its campaign and its errors.
    campaign_code = StringField(_l("Campaign code"), validators=[Optional(), Length(max=32)])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})


class EditOrderForm(AppForm):
    """A pending order's lines (read separately) and note; its campaign code stays the one it was placed with."""

    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})


class PayForm(AppForm):
    """Record the payment of the whole total: how, and the payment's reference."""

    method = SelectField(_l("Paid by"), choices=[SelectChoice(m, METHOD_LABELS[m]) for m in PAYMENT_METHODS],
                         default="cash")
    reference = StringField(_l("Payment reference"), validators=[Optional(), Length(max=64)])


class CourierForm(AppForm):
    """Give the order to one of its distributor's couriers."""

    courier_id = SelectField(_l("Courier"), choices=[], validate_choice=False,
                             validators=[DataRequired(_l("Choose a courier."))])


class NoteForm(AppForm):
    """A move with an optional note (ship, deliver, complete)."""

    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])


class CancelForm(AppForm):
    """Cancel: why, and a tick box that confirms it."""

    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=500)])
    confirm = BooleanField(_l("I confirm: the order is cancelled and its stock released."),
                           validators=[DataRequired(_l("Tick the box to confirm."))])


class RefundForm(AppForm):
    """Refund: why (required), whether the goods go back into stock, and a tick box that confirms it."""

    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Say why the order is refunded.")),
                                                   Length(max=500)])
    restock = BooleanField(_l("The goods came back and can be sold again"), default=True)
    method = SelectField(_l("Paid back by"), choices=[SelectChoice(m, METHOD_LABELS[m]) for m in PAYMENT_METHODS],
                         default="other")
    confirm = BooleanField(_l("I confirm: the money is owed back to the customer."),
                           validators=[DataRequired(_l("Tick the box to confirm."))])


class RateForm(AppForm):
    """The customer's rating, recorded on their behalf: 1-5 and a comment."""

    score = IntegerField(_l("Rating (1-5)"), validators=[DataRequired(_l("A whole number from 1 to 5.")),
                                                         NumberRange(min=1, max=5)],
                         render_kw={"inputmode": "numeric", "min": 1, "max": 5})
    comment = StringField(_l("Comment"), validators=[Optional(), Length(max=500)])


class AssignDistributorForm(AppForm):
    """HQ gives an unassigned order to a distributor."""

    distributor_id = SelectField(_l("Distributor"), choices=[], validators=[DataRequired(_l("Choose a distributor."))])
    ship_from_hq = BooleanField(_l("Ship from the headquarters warehouse"))
    back = HiddenField()
