"""Network forms: moving a distributor under a new upline, a team, adding, moving and removing its members.

The forms check shapes only; the services own the rules and name the fields they refuse (upline_id,
effective_on, reason, name, leader_id, level, distributor_id, to_team_id), which `dms.core.forms.submit`
puts back beside these fields. Selects are filled by the views (and narrowed by a search box via htmx).
"""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from dms.core.forms import AppForm


class MoveForm(AppForm):
    """A new upline (blank: none, a root) from a day on (today or later), and the reason."""

    upline_id = SelectField(_l("New upline"), choices=[], validate_choice=False)
    effective_on = DateField(_l("Effective from"), validators=[DataRequired(_l("A date such as 2026-05-01."))])
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=255)])


class TeamForm(AppForm):
    """A team's name, leader, level and note; a new team may take its leader as its first member."""

    name = StringField(_l("Name"), validators=[Optional(), Length(max=80)])
    leader_id = SelectField(_l("Leader"), choices=[], validate_choice=False)
    level = SelectField(_l("Level"), choices=[SelectChoice(str(n), str(n)) for n in range(1, 10)], default="1",
                        validate_choice=False)
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=255)], render_kw={"rows": 2})
    add_leader = BooleanField(_l("The leader joins the team as a member"), default=True)


class MemberForm(AppForm):
    """Add a distributor to the team."""

    distributor_id = SelectField(_l("Distributor"), choices=[], validate_choice=False)


class MoveMemberForm(AppForm):
    """Move one of the team's members to another team."""

    # Its own ids: the page also shows the add-member form, whose select is named distributor_id too.
    distributor_id = SelectField(_l("Member"), choices=[], validate_choice=False, id="move-distributor_id")
    to_team_id = SelectField(_l("To the team"), choices=[], validate_choice=False, id="move-to_team_id")


class ConfirmForm(AppForm):
    """An empty form: carries the CSRF token of a button confirmed in the browser (remove, cancel)."""
