"""Forms and labels of the ledger, settlement and statement pages.

The forms check shapes only; the services (`ledger`, `settlement`) own the rules and name the fields they
refuse, which the views put back beside these fields (422).
"""

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from dms.core.forms import AppForm

ENTRY_STATUS_LABELS = {"accrued": _l("Accrued"), "held": _l("Held"), "payable": _l("Payable"), "paid": _l("Paid")}
ENTRY_STATUS_HINTS = {
    "accrued": _l("Earned; the refund window of the order is still open."),
    "held": _l("Held back by headquarters; not settled until released."),
    "payable": _l("Will be on the next statement."),
    "paid": _l("Paid out with a statement."),
}
KIND_LABELS = {"accrual": _l("Commission"), "clawback": _l("Clawback"), "reward": _l("Reward"),
               "adjustment": _l("Adjustment")}
STATEMENT_STATUS_LABELS = {"draft": _l("Draft"), "confirmed": _l("Confirmed"), "paid": _l("Paid")}
RUN_STATUS_LABELS = {"pending": _l("Waiting"), "queued": _l("Queued"), "running": _l("Running"),
                     "retrying": _l("Retrying"), "finished": _l("Finished"), "failed": _l("Failed")}
# CSS classes of the status tags.
ENTRY_STATUS_TAGS = {"accrued": "", "held": "off", "payable": "queued", "paid": "ok"}
STATEMENT_STATUS_TAGS = {"draft": "", "confirmed": "queued", "paid": "ok"}

AMOUNT = {"inputmode": "decimal", "autocomplete": "off"}
MONTH = {"placeholder": "YYYY-MM", "inputmode": "numeric", "autocomplete": "off", "size": 8, "maxlength": 7}


class HoldForm(AppForm):
    """Hold an entry back from settlement, with the reason."""

    reason = StringField(_l("Reason"), validators=[Length(max=255)], render_kw={"autocomplete": "off"})


class ButtonForm(AppForm):
    """A button that changes something (release, confirm): carries the CSRF token; the page asks first."""


class AdjustmentForm(AppForm):
    """HQ's manual adjustment: whose, how much (+ or -), and why."""

    distributor_id = SelectField(_l("Distributor"), choices=[], validate_choice=False)
    amount = StringField(_l("Amount (negative to deduct)"), validators=[Length(max=20)], render_kw=AMOUNT)
    reason = TextAreaField(_l("Reason"), validators=[Length(max=500)], render_kw={"rows": 3})


class RunForm(AppForm):
    """Settle a month now."""

    period = StringField(_l("Month"), validators=[Length(max=7)], render_kw=MONTH)


class PayForm(AppForm):
    """Record a confirmed statement as paid: when, and the bank's reference."""

    paid_on = DateField(_l("Paid on"), validators=[DataRequired(_l("A date such as 2026-05-01."))])
    reference = StringField(_l("Bank reference"), validators=[Optional(), Length(max=64)],
                            render_kw={"autocomplete": "off"})


def choices(options, blank) -> list[tuple[str, str]]:
    """A select's choices with a blank first option."""
    return [("", str(blank)), *options]
