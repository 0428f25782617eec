"""Account forms."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from dms.core.forms import AppForm


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LoginForm(AppForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=128)],
                             render_kw={"autocomplete": "current-password"})


class ChangePasswordForm(AppForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, max=128)],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
                            render_kw={"autocomplete": "new-password"})


class ProfileFields(AppForm):
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=120)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32), Regexp(
        r"^\+?[0-9 \-]{5,32}$", message=_l("Digits, spaces and dashes only."))])
    email = StringField(_l("Email"), validators=[Optional(), Email(check_deliverability=False), Length(max=254)])
    locale = SelectField(_l("Language"), choices=[SelectChoice("", _l("Default (Chinese)")),
                                                  SelectChoice("zh_CN", "中文"), SelectChoice("en", "English")],
                         validators=[Optional()])
    distributor_id = StringField(_l("Distributor ID"),
                                 validators=[Optional(), Regexp(r"^\d{1,9}$", message=_l("A number."))])
    roles = MultiCheckboxField(_l("Roles"), choices=[])


class UserCreateForm(ProfileFields):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(min=3, max=64)],
                           render_kw={"autocomplete": "off"})
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(min=10, max=128)],
                             render_kw={"autocomplete": "new-password"})


class UserEditForm(ProfileFields):
    pass


class ResetPasswordForm(AppForm):
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, max=128)],
                                 render_kw={"autocomplete": "new-password"})


class ConfirmForm(AppForm):
    """An empty form: carries the CSRF token of a confirmed action."""

    confirm = BooleanField(_l("I am sure"), validators=[DataRequired(message=_l("Tick the box to confirm."))])


class RoleForm(AppForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(min=2, max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    description = StringField(_l("Description"), validators=[Optional(), Length(max=255)])
    permissions = MultiCheckboxField(_l("Permissions"), choices=[])


class SetPasswordForm(AppForm):
    """Set a password through a one-time link (no current password: the link stands for it)."""

    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, max=128)],
                                 render_kw={"autocomplete": "new-password", "autofocus": True})
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
                            render_kw={"autocomplete": "new-password"})
