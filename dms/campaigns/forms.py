"""Campaign forms: the plan, and one small form per action of the state machine.

The forms check shapes only; the service (`services.clean_plan`) owns the rules and names the fields it
refuses, which the views put back beside these fields (422). Target and control regions are lists of
checked codes (`target_regions`, `control_regions`), each added with its own region picker.
"""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from dms.accounts.forms import MultiCheckboxField
from dms.campaigns.models import MECHANISMS
from dms.campaigns.services import MECHANISM_LABELS
from dms.core.forms import AppForm

AMOUNT = {"inputmode": "decimal", "autocomplete": "off"}


class CampaignForm(AppForm):
    """The plan: name, objective, period, mechanism and its figures, budget and cost, code, products."""

    name = StringField(_l("Name"), validators=[DataRequired(_l("A name of 1 to 120 characters.")), Length(max=120)])
    objective = TextAreaField(_l("Objective"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})
    starts_on = StringField(_l("Starts on"), validators=[DataRequired(_l("A date such as 2026-05-01."))],
                            render_kw={"type": "date"})
    ends_on = StringField(_l("Ends on"), validators=[DataRequired(_l("A date such as 2026-05-01."))],
                          render_kw={"type": "date"})
    mechanism = SelectField(_l("Mechanism"), choices=[SelectChoice(m, MECHANISM_LABELS[m]) for m in MECHANISMS],
                            default="percent")
    percent_off = StringField(_l("Percent off (above 0, below 100)"), validators=[Optional(), Length(max=20)],
                              render_kw=AMOUNT)
    fixed_price = StringField(_l("Fixed price per unit"), validators=[Optional(), Length(max=20)], render_kw=AMOUNT)
    buy_n = StringField(_l("Buy N"), validators=[Optional(), Length(max=6)], render_kw={"inputmode": "numeric"})
    get_m = StringField(_l("Get M free"), validators=[Optional(), Length(max=6)], render_kw={"inputmode": "numeric"})
    budget = StringField(_l("Budget"), validators=[Optional(), Length(max=20)], render_kw=AMOUNT)
    cost = StringField(_l("Cost"), validators=[Optional(), Length(max=20)], render_kw=AMOUNT)
    code = StringField(_l("Code (optional: orders must carry it)"), validators=[Optional(), Length(max=32)],
                       render_kw={"autocomplete": "off"})
    product_ids = MultiCheckboxField(_l("Products"), choices=[], validate_choice=False)


class ActionForm(AppForm):
    """Approve or start: a button (the page asks for confirmation)."""


class ConfirmForm(AppForm):
    """End or cancel: a note, and a tick box that confirms it."""

    note = StringField(_l("Reason"), validators=[Optional(), Length(max=200)])
    confirm = BooleanField(_l("I confirm"), validators=[DataRequired(_l("Tick the box to confirm."))])
