"""Stock forms: receiving (several lines), write-offs, a warehouse's threshold; and the labels the pages show.

The forms check only shapes; the services own the rules and name the fields they refuse, which the
views put back beside these fields.
"""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from dms.core.forms import AppForm, AppSubForm
from dms.inventory.services import MAX_QUANTITY, WRITE_OFF_REASONS

KIND_LABELS = {"receipt": _l("Receipt"), "reserve": _l("Reservation"), "release": _l("Release"),
               "issue": _l("Issue"), "transfer_out": _l("Transfer out"), "transfer_in": _l("Transfer in"),
               "count": _l("Count"), "write_off": _l("Write-off"), "return": _l("Return")}
STATE_LABELS = {"in_stock": _l("In stock"), "reserved": _l("Reserved"), "in_transit": _l("In transit"),
                "sold": _l("Sold"), "written_off": _l("Written off")}
REASON_LABELS = {"expired": _l("Expired"), "damaged": _l("Damaged"), "other": _l("Other")}
EXPIRY_LABELS = {"expired": _l("Expired"), "near": _l("Near expiry"), "ok": _l("Not near expiry")}
RECEIPT_LINES = 5  # blank lines a receipt form starts with, so it works without JavaScript
MAX_RECEIPT_LINES = 100
NUMERIC = {"inputmode": "numeric", "autocomplete": "off"}


class ReceiptLineForm(AppSubForm):
    """One line of a receipt (a sub-form: the receipt's CSRF token covers it)."""

    # The choice is checked by the view: the spare lines a FieldList adds carry no value at all.
    product_id = SelectField(_l("Product"), choices=[], validate_choice=False)
    quantity = IntegerField(_l("Quantity"), validators=[Optional(), NumberRange(min=1, max=MAX_QUANTITY)],
                            render_kw=NUMERIC)
    batch_code = StringField(_l("Batch code"), validators=[Optional(), Length(max=64)],
                             render_kw={"autocomplete": "off"})
    expiry_date = DateField(_l("Expiry date"), validators=[Optional()])
    serials = TextAreaField(_l("Serial numbers (one per line)"), validators=[Optional(), Length(max=20000)],
                            render_kw={"rows": 2})

    def is_blank(self) -> bool:
        """True when nothing was entered on the line (the form's spare lines)."""
        return not (self.product_id.data or self.quantity.raw_data and self.quantity.raw_data[0]
                    or (self.batch_code.data or "").strip() or (self.serials.data or "").strip()
                    or self.expiry_date.raw_data and self.expiry_date.raw_data[0])

    def serial_list(self) -> list[str]:
        return [s.strip() for s in (self.serials.data or "").splitlines() if s.strip()]


class ReceiveForm(AppForm):
    """Receive stock into a warehouse: a reason (or document number) and several lines."""

    warehouse_id = SelectField(_l("Warehouse"), choices=[])
    reason = StringField(_l("Reason or document"), validators=[Optional(), Length(max=200)])
    lines = FieldList(FormField(ReceiptLineForm), min_entries=RECEIPT_LINES, max_entries=MAX_RECEIPT_LINES)


class WriteOffForm(AppForm):
    """Write off stock of one batch: how many, why, and a tick box that confirms it."""

    warehouse = HiddenField()
    product = HiddenField()
    batch = SelectField(_l("Batch"), choices=[])
    quantity = IntegerField(_l("Quantity"), validators=[DataRequired(_l("A whole number, 1 or more.")),
                                                        NumberRange(min=1, max=MAX_QUANTITY)], render_kw=NUMERIC)
    reason = SelectField(_l("Reason"), choices=[SelectChoice(r, REASON_LABELS[r]) for r in WRITE_OFF_REASONS])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
    confirm = BooleanField(_l("I confirm: this stock leaves the books and cannot be sold."),
                           validators=[DataRequired(_l("Tick the box to confirm the write-off."))])


class UnitWriteOffForm(AppForm):
    """Write off one serial unit: why, and a tick box that confirms it."""

    reason = SelectField(_l("Reason"), choices=[SelectChoice(r, REASON_LABELS[r]) for r in WRITE_OFF_REASONS])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])
    confirm = BooleanField(_l("I confirm: this unit leaves the books and cannot be sold."),
                           validators=[DataRequired(_l("Tick the box to confirm the write-off."))])


class ThresholdForm(AppForm):
    """A warehouse's own low-stock threshold for a product; empty removes it (the product's applies)."""

    warehouse = HiddenField()
    product = HiddenField()
    threshold = StringField(_l("Threshold"), validators=[Optional(), Length(max=10)], render_kw=NUMERIC)
