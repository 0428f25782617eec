"""Stocktake forms: open a count, add a line found, post; and the counted quantities of many lines at once.

The forms check shapes only; `dms.inventory.stocktakes` owns the rules.
"""

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from dms.core.forms import AppForm
from dms.inventory.services import MAX_QUANTITY

WHOLE_NUMBER = re.compile(r"\d{1,10}")
NUMBER_INPUT = {"inputmode": "numeric", "min": "0", "step": "1", "autocomplete": "off"}


class OpenStocktakeForm(AppForm):
    """Open a count of one warehouse."""

    warehouse_id = SelectField(_l("Warehouse"), choices=[], validate_choice=True)
    note = StringField(_l("Note"), validators=[Optional(), Length(max=255)])


class AddLineForm(AppForm):
    """Stock found that is not on the list: a product by SKU, its batch and the quantity found."""

    sku = StringField(_l("Product SKU"), validators=[DataRequired(message=_l("Enter the product's SKU.")),
                                                     Length(max=64)], render_kw={"autocomplete": "off"})
    batch_code = StringField(_l("Batch code"), validators=[Optional(), Length(max=64)],
                             render_kw={"autocomplete": "off"})
    expiry_date = DateField(_l("Expiry date"), validators=[Optional()])
    counted = IntegerField(_l("Quantity found"), validators=[
        InputRequired(message=_l("Enter the quantity found.")),
        NumberRange(min=0, max=MAX_QUANTITY, message=_l("A whole number, 0 or more."))], render_kw=NUMBER_INPUT)


class PostStocktakeForm(AppForm):
    """Post the differences; uncounted lines are kept as booked only when ticked."""

    keep_uncounted = BooleanField(_l("Keep the lines not counted as booked (no adjustment)"))


class ConfirmForm(AppForm):
    """An empty form: the CSRF token of an action (save counts, cancel) confirmed in the browser."""


def count_field(line_id: int) -> str:
    """The name of a line's counted-quantity input."""
    return f"counted-{line_id}"


def parse_counts(formdata, lines) -> tuple[dict, dict]:
    """({line_id: counted or None}, {line_id: [message]}) from the submitted inputs of `lines`.

    Only lines whose input was sent are returned, so a page showing some lines (filtered, or one line
    saved by htmx) changes only those; an empty input means "not counted".
    """
    counts, errors = {}, {}
    for line in lines:
        name = count_field(line.id)
        if name not in formdata:
            continue
        raw = (formdata.get(name) or "").strip()
        if raw == "":
            counts[line.id] = None
        elif WHOLE_NUMBER.fullmatch(raw) and int(raw) <= MAX_QUANTITY:
            counts[line.id] = int(raw)
        else:
            errors[line.id] = [_("A whole number, 0 or more.")]
    return counts, errors
