"""Forms of the application pages: the public application, withdrawal, and the reviewer's decisions.

The application form checks little itself: the service validates every field (the API shares it),
and its errors come back beside the fields they name.
"""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from dms.core.forms import AppForm


class ApplyForm(AppForm):
    applicant_type = RadioField(_l("I apply as"), choices=[SelectChoice("person", _l("A person")),
                                                                 SelectChoice("company", _l("A company"))],
                                default="person", validate_choice=False)
    name = StringField(_l("Your name"), validators=[Length(max=120)], render_kw={"autocomplete": "name"})
    id_number = StringField(_l("National ID number"), validators=[Length(max=40)],
                            render_kw={"autocomplete": "off", "inputmode": "text", "spellcheck": "false"})
    company_name = StringField(_l("Company name"), validators=[Length(max=200)],
                               render_kw={"autocomplete": "organization"})
    credit_code = StringField(_l("Unified social credit code"), validators=[Length(max=40)],
                              render_kw={"autocomplete": "off", "spellcheck": "false"})
    phone = StringField(_l("Mobile number"), validators=[Length(max=32)],
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    email = StringField(_l("Email (optional)"), validators=[Length(max=254)],
                        render_kw={"autocomplete": "email", "inputmode": "email", "type": "email"})
    # Not drawn: the region picker draws its own inputs; this field only carries the region's errors.
    region_code = StringField(_l("Region"))
    level = SelectField(_l("Level"), choices=[SelectChoice("", _l("The level of the chosen region")),
                                              SelectChoice("province", _l("Province agent")),
                                              SelectChoice("city", _l("City agent")),
                                              SelectChoice("county", _l("County agent"))], validate_choice=False)
    message = TextAreaField(_l("Message (optional)"), validators=[Length(max=2000)], render_kw={"rows": 4})


class WithdrawForm(AppForm):
    confirm = BooleanField(_l("Yes, withdraw my application"),
                           validators=[DataRequired(message=_l("Tick the box to confirm."))])


class StartReviewForm(AppForm):
    """Carries only the CSRF token."""


class ApproveForm(AppForm):
    exclusive = BooleanField(_l("Exclusive territory"), default=True)
    effective_from = DateField(_l("Territory from"), validators=[DataRequired(message=_l("Enter a date."))])
    profit_share = StringField(_l("Profit share (%)"), validators=[Optional(), Regexp(
        r"^\d{1,3}(\.\d{1,2})?$", message=_l("Enter a percentage such as 12.5."))], render_kw={"inputmode": "decimal"})
    username = StringField(_l("Username"), validators=[Optional(), Length(min=3, max=64)],
                           render_kw={"autocomplete": "off"})
    reason = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=500)], render_kw={"rows": 2})


class RejectForm(AppForm):
    # Required by the service (the API shares the rule); the message comes back beside the field.
    reason = TextAreaField(_l("Reason"), validators=[Length(max=500)], render_kw={"rows": 3})


class PasswordLinkForm(AppForm):
    """Carries only the CSRF token."""
