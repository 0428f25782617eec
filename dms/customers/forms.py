"""Customer forms: the profile (with its first address), another address, the tier override, tier rules,
the import upload.

The forms check shapes only; the services own the rules and name the fields they refuse, which
`dms.core.forms.submit` puts back beside these fields. Regions come from the region picker
(`dms.territories.picker.picked_code`), not from a form field.
"""

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from dms.core.forms import AppForm
from dms.customers.models import CUSTOMER_KINDS, CUSTOMER_SOURCES

KIND_LABELS = {"person": _l("Person"), "business": _l("Business")}
SOURCE_LABELS = {"walk_in": _l("Walk-in"), "phone": _l("Phone call"), "mini_program": _l("Mini-program"),
                 "referral": _l("Referral"), "campaign": _l("Campaign"), "import": _l("Import"),
                 "other": _l("Other")}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def choices(pairs, blank: str | None = None) -> list[SelectChoice]:
    """Select options from (value, label) pairs, after a blank first option when `blank` is given."""
    return ([SelectChoice("", blank)] if blank is not None else []) + [SelectChoice(v, label) for v, label in pairs]


class CustomerForm(AppForm):
    """A customer's profile; a new customer also gives its first (default) address and, for HQ, its distributor."""

    distributor_id = SelectField(_l("Distributor"), choices=[], validate_choice=False)
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k, KIND_LABELS[k]) for k in CUSTOMER_KINDS],
                       default="person")
    name = StringField(_l("Name"), validators=[Length(max=120)])
    phone = StringField(_l("Mobile phone"), validators=[Length(max=32)],
                        render_kw={"inputmode": "tel", "autocomplete": "off"})
    phones = TextAreaField(_l("Other phones (one per line)"), validators=[Optional(), Length(max=500)],
                           render_kw={"rows": 2})
    source = SelectField(_l("Customer source"), choices=[SelectChoice(s, SOURCE_LABELS[s]) for s in CUSTOMER_SOURCES],
                         default="other")
    owner_id = SelectField(_l("Owner"), choices=[], validate_choice=False)
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=700)],
                       render_kw={"autocomplete": "off", "list": "customer-tag-names"})
    note = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)], render_kw={"rows": 3})
    label = StringField(_l("Address label"), validators=[Optional(), Length(max=32)])
    street = StringField(_l("Street or community"), validators=[Optional(), Length(max=100)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=255)])

    def profile(self) -> dict:
        """The profile fields as the services name them."""
        return {"kind": self.kind.data, "name": self.name.data or "", "phone": self.phone.data or "",
                "phones": self.phones.data or "", "source": self.source.data, "owner_id": self.owner_id.data or None,
                "tags": self.tags.data or "", "note": self.note.data or ""}


class AddressForm(AppForm):
    """Another address of a customer (its region from the picker)."""

    label = StringField(_l("Label"), validators=[Optional(), Length(max=32)],
                        render_kw={"placeholder": _l("Home, office ...")})
    street = StringField(_l("Street or community"), validators=[Optional(), Length(max=100)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=255)])
    make_default = BooleanField(_l("Make it the default address"))


class TierOverrideForm(AppForm):
    """Set the tier by hand (or go back to the computed one), with the reason."""

    tier = SelectField(_l("Tier"), choices=[], validate_choice=False)
    reason = StringField(_l("Reason"), validators=[Length(max=255)])


class TierRuleForm(AppForm):
    """A tier and the lowest RFM score that earns it."""

    code = StringField(_l("Code"), validators=[Length(max=8)], render_kw={"size": 6})
    name = StringField(_l("Name"), validators=[Optional(), Length(max=64)])
    min_score = StringField(_l("Minimum score"), validators=[Length(max=3)],
                            render_kw={"inputmode": "numeric", "size": 4})


class ImportForm(AppForm):
    """The customer file to import, and (HQ) the distributor the customers are for."""

    distributor_id = SelectField(_l("Distributor"), choices=[], validate_choice=False)
    file = FileField(_l("File (.csv or .xlsx)"), validators=[FileRequired(_l("Choose a file."))],
                     render_kw={"accept": ".csv,.xlsx,text/csv," + XLSX_TYPE})


class ConfirmForm(AppForm):
    """An empty form: carries the CSRF token of a button (remove an address, make it the default)."""
