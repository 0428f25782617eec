"""Forms of the dispatch board and the courier's page.

Ids and scores arrive as text and are turned into numbers here; anything that is not a number becomes
None, so the service's own message ("Choose a courier.", "A whole number from 1 to 5.") is the one
shown beside the field. The services own the rules (which courier, which state, rated once).
"""

from flask_babel import lazy_gettext as _l
from wtforms import StringField, TextAreaField
from wtforms.validators import Length, Optional

from dms.core.forms import AppForm


def _number(text) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


class AssignCourierForm(AppForm):
    """One order's courier on the dispatch board (assign, or reassign an assigned order)."""

    courier_id = StringField(_l("Courier"))
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])

    @property
    def courier(self) -> int | None:
        return _number(self.courier_id.data)


class ShipForm(AppForm):
    """Out for delivery: carries the CSRF token and an optional note."""

    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])


class DeliverForm(AppForm):
    """Delivered, with a note (left at the door, handed to a neighbour...)."""

    note = TextAreaField(_l("Delivery note"), validators=[Optional(), Length(max=500)], render_kw={"rows": 2})


class RatingForm(AppForm):
    """The customer's satisfaction, recorded by the courier on the customer's behalf."""

    score = StringField(_l("Rating"))
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=500)], render_kw={"rows": 2})

    @property
    def value(self) -> int | None:
        return _number(self.score.data)
