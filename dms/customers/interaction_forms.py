"""Forms of visits and communications: log one, plan a visit, mark a planned visit done or cancelled.

The forms check shapes (a known kind, a real date); the rules (follow-up not in the past, not in the
future, lengths) are the service's, shown beside the fields they name.
"""

from flask_babel import lazy_gettext as _l
from wtforms import DateField, DateTimeLocalField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from dms.core.forms import AppForm
from dms.customers.interactions import KIND_LABELS
from dms.customers.models import INTERACTION_KINDS


class LogInteractionForm(AppForm):
    """A visit, call or message that happened, with its outcome and the next follow-up date."""

    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, KIND_LABELS[k]) for k in INTERACTION_KINDS],
                       validators=[InputRequired()])
    happened_at = DateTimeLocalField(_l("When"), format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                     validators=[Optional()])
    contact_person = StringField(_l("Contact person"), validators=[Optional(), Length(max=120)])
    outcome = StringField(_l("Outcome"), validators=[Optional(), Length(max=255)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 2})
    follow_up_on = DateField(_l("Next follow-up"), validators=[Optional()])

    def data_for_service(self) -> dict:
        return {name: getattr(self, name).data for name in
                ("kind", "happened_at", "contact_person", "outcome", "notes", "follow_up_on")}


class PlanVisitForm(AppForm):
    """A visit planned for a day."""

    planned_on = DateField(_l("Visit on"), validators=[InputRequired(message=_l("Enter the day of the visit."))])
    contact_person = StringField(_l("Contact person"), validators=[Optional(), Length(max=120)])
    notes = TextAreaField(_l("Purpose"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 1})

    def data_for_service(self) -> dict:
        return {"planned_on": self.planned_on.data, "contact_person": self.contact_person.data,
                "notes": self.notes.data}


class CompleteVisitForm(AppForm):
    """A planned visit made: its outcome and the next follow-up date."""

    outcome = StringField(_l("Outcome"), validators=[Optional(), Length(max=255)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=5000)], render_kw={"rows": 1})
    follow_up_on = DateField(_l("Next follow-up"), validators=[Optional()])

    def data_for_service(self) -> dict:
        return {"outcome": self.outcome.data, "notes": self.notes.data, "follow_up_on": self.follow_up_on.data}


class ConfirmForm(AppForm):
    """A button with nothing to fill in (cancel a visit, complete a follow-up): the CSRF token only."""
