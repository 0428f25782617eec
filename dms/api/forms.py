"""Forms of the integration-client pages."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Optional, Regexp

from dms.core.forms import AppForm


class ClientForm(AppForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)],
                       render_kw={"autocomplete": "off"})
    role_id = SelectField(_l("Role"), coerce=int, choices=[], validate_choice=True)
    distributor_id = StringField(_l("Distributor ID"),
                                 validators=[Optional(), Regexp(r"^[1-9]\d{0,8}$", message=_l("A positive number."))])


class ClientActiveForm(AppForm):
    active = HiddenField(validators=[AnyOf(["0", "1"])])
    confirm = BooleanField(_l("I am sure"), validators=[DataRequired(message=_l("Tick the box to confirm."))])


class RotateSecretForm(AppForm):
    confirm = BooleanField(_l("I am sure"), validators=[DataRequired(message=_l("Tick the box to confirm."))])
