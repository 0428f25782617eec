"""Distributor forms: the profile, status changes, territory grants and sales targets.

The forms check only shapes (lengths, dates); the services own the rules and name the fields they
refuse, which `dms.core.forms.submit` puts back beside these fields (same names as the services use).
"""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, HiddenField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from dms.core.forms import AppForm
from dms.distributors.models import KINDS, LEVELS, PERIODS

KIND_LABELS = {"person": _l("Person"), "company": _l("Company")}
LEVEL_LABELS = {"province": _l("Province"), "city": _l("City"), "county": _l("County")}
PERIOD_LABELS = {"month": _l("Month"), "quarter": _l("Quarter")}


class DistributorForm(AppForm):
    """A distributor's profile and rights; the region comes from the region picker named region_code."""

    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, KIND_LABELS[k]) for k in KINDS], default="person")
    name = StringField(_l("Name"), validators=[Length(max=120)])
    company_name = StringField(_l("Company name"), validators=[Optional(), Length(max=200)])
    credit_code = StringField(_l("Unified social credit code"), validators=[Optional(), Length(max=32)],
                              render_kw={"autocomplete": "off"})
    phone = StringField(_l("Mobile number"), validators=[Length(max=32)],
                        render_kw={"autocomplete": "off", "inputmode": "tel"})
    email = StringField(_l("Email"), validators=[Optional(), Length(max=254)],
                        render_kw={"autocomplete": "off", "inputmode": "email"})
    id_number = StringField(_l("National ID number"), validators=[Optional(), Length(max=32)],
                            render_kw={"autocomplete": "off"})
    level = SelectField(_l("Level"), choices=[SelectChoice("", _l("Choose a level")),
                                              *(SelectChoice(v, LEVEL_LABELS[v]) for v in LEVELS)])
    # Drawn by the region picker; the field only carries the service's messages back to the page.
    region_code = HiddenField(_l("Region"))
    upline_id = SelectField(_l("Upline"), choices=[])
    exclusive = BooleanField(_l("Exclusive rights in the territory"), default=True)
    profit_share = StringField(_l("Profit share (%)"), validators=[Optional(), Length(max=10)],
                               render_kw={"inputmode": "decimal"})
    # Where commission payouts go; the number is stored encrypted and never sent back to the form.
    bank_name = StringField(_l("Bank and branch"), validators=[Optional(), Length(max=120)])
    bank_account_name = StringField(_l("Account holder"), validators=[Optional(), Length(max=120)])
    bank_account = StringField(_l("Account number"), validators=[Optional(), Length(max=40)],
                               render_kw={"autocomplete": "off", "inputmode": "numeric"})


class StatusForm(AppForm):
    """Suspend, terminate or reactivate, with a reason, confirmed by a tick box."""

    status = SelectField(_l("New status"), choices=[])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=255)])
    confirm = BooleanField(_l("I am sure"), validators=[DataRequired(message=_l("Tick the box to confirm."))])


class GrantForm(AppForm):
    """Grant a region (from the picker named region_code) from a date, optionally to a date."""

    region_code = HiddenField(_l("Region"))
    exclusive = BooleanField(_l("Exclusive"), default=True)
    effective_from = DateField(_l("From"), validators=[Optional()])
    effective_to = DateField(_l("To (inclusive, empty for open-ended)"), validators=[Optional()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=255)])


class EndGrantForm(AppForm):
    """End a grant after a date (the last day it is in force)."""

    effective_to = DateField(_l("Last day"), validators=[DataRequired(message=_l("Enter the last day."))])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=255)])


class TargetForm(AppForm):
    """Set or replace the sales target of one month or quarter."""

    period = SelectField(_l("Period"), choices=[SelectChoice(p, PERIOD_LABELS[p]) for p in PERIODS], default="month")
    period_start = DateField(_l("A day in the period"), validators=[Optional()])
    amount = StringField(_l("Amount (¥)"), validators=[Optional(), Length(max=20)],
                         render_kw={"inputmode": "decimal"})
    quantity = StringField(_l("Quantity"), validators=[Optional(), Length(max=12)],
                           render_kw={"inputmode": "numeric"})


class ConfirmDeleteForm(AppForm):
    """An empty form: carries the CSRF token of a delete confirmed in the browser."""
