"""Forms of the transfer and replenishment pages.

Each form has a fixed header (warehouses, note, reason) and a variable set of quantity inputs, one
per product, line or item, named `<prefix>-<id>`: the view says which ids the page shows
(`form.line_ids`), the form parses them into `form.quantities` and puts a bad one's message in
`form.line_errors[id]`, shown beside its input. The services own the rules (stock, states, who).
"""

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from dms.core.forms import AppForm
from dms.inventory.services import MAX_QUANTITY

TRANSFER_STATUS_LABELS = {"in_transit": _l("In transit"), "received": _l("Received"), "cancelled": _l("Cancelled")}
REQUEST_STATUS_LABELS = {"submitted": _l("Awaiting approval"), "approved": _l("Approved"),
                         "partially_approved": _l("Partially approved"), "rejected": _l("Rejected"),
                         "cancelled": _l("Cancelled")}
STATUS_TAGS = {"in_transit": "running", "submitted": "running", "received": "ok", "approved": "ok",
               "partially_approved": "ok", "rejected": "off", "cancelled": "off"}


class LinesForm(AppForm):
    """A form with one quantity input per id (`<prefix>-<id>`); blank is `blank` (None: not asked for)."""

    prefix = "qty"
    allow_zero = True
    blank = None

    def __init__(self, *args, line_ids=(), maximums: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.line_ids = list(line_ids)
        self.maximums = maximums or {}
        self.quantities: dict[int, int] = {}
        self.line_errors: dict[int, list[str]] = {}

    def raw(self, line_id) -> str | None:
        """What was typed for `line_id` (None on a fresh form)."""
        if not self.is_submitted():
            return None
        return request.form.get(f"{self.prefix}-{line_id}", "")

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        for line_id in self.line_ids:
            text = (request.form.get(f"{self.prefix}-{line_id}") or "").strip()
            if not text:
                if self.blank is not None:
                    self.quantities[line_id] = self.blank
                continue
            low, high = (0 if self.allow_zero else 1), self.maximums.get(line_id, MAX_QUANTITY)
            if not text.isdigit() or len(text) > 10 or not low <= int(text) <= high:
                self.line_errors[line_id] = [_("A whole number from %(low)d to %(high)d.", low=low, high=high)]
                continue
            self.quantities[line_id] = int(text)
        return ok and not self.line_errors

    def place(self, fields: dict, key_prefix: str) -> None:
        """Put a service's `<key_prefix><id>` field messages beside their inputs."""
        for name, messages in fields.items():
            if name.startswith(key_prefix) and name[len(key_prefix):].isdigit():
                self.line_errors.setdefault(int(name[len(key_prefix):]), []).extend(messages)


class ReplenishmentForm(LinesForm):
    """A new request: a quantity per product (blank or 0: not asked for), and a note."""

    prefix = "qty"
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=500)], render_kw={"rows": 2})


class ApproveForm(LinesForm):
    """HQ's approval: the quantity approved per line (0 to what was asked; blank: all of it)."""

    prefix = "approved"
    reason = StringField(_l("Comment"), validators=[Optional(), Length(max=500)])


class RejectForm(AppForm):
    """HQ's rejection; the reason is required by the service (the message comes back beside the field)."""

    reason = TextAreaField(_l("Reason"), validators=[Length(max=500)], render_kw={"rows": 2})


class ConfirmForm(AppForm):
    """Carries only the CSRF token of an action confirmed in the browser."""


class CancelTransferForm(AppForm):
    """Cancel an in-transit transfer, with an optional reason."""

    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])


class ReceiveForm(LinesForm):
    """The receiving side's confirmation: the quantity received per item (blank: all that was sent)."""

    prefix = "received"
    note = StringField(_l("Note"), validators=[Optional(), Length(max=200)])


class TransferForm(LinesForm):
    """HQ's transfer between two warehouses: a quantity per product (serial products may list serials)."""

    prefix = "qty"
    from_warehouse = SelectField(_l("From"), choices=[])
    to_warehouse = SelectField(_l("To"), choices=[])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=255)])

    def serials(self, product_id) -> list[str]:
        """The serial numbers typed for a product (comma, space or line separated)."""
        text = request.form.get(f"serials-{product_id}", "") if self.is_submitted() else ""
        return [s for s in text.replace(",", " ").split() if s]
