"""Commission rule forms: a draft's settings and its rows (levels, overrides, rewards), publish, discard, the simulator.

The forms check shapes only; `rules.set_rules` owns the rules and names the fields it refuses
("levels.0.rate", "overrides.1.rate", ...), which `place_errors` puts back beside the matching row's
input. The rows are read from the form by number (`levels-0-rate`, `overrides-2-target`, ...), so rows
can be added and removed without JavaScript by the form's own buttons, and by htmx alike.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from dms.commissions.models import BASES, MAX_LEVELS, MODES, OVERRIDE_SCOPES, REWARD_KINDS, REWARD_PERIODS, RuleVersion
from dms.core.errors import ValidationError
from dms.core.forms import AppForm
from dms.core.time import business_tz

MAX_ROWS = 50  # overrides or rewards on one form; more is a mistake, not a rule set
MAX_SAMPLE_LINES = 20
AMOUNT = {"inputmode": "decimal", "autocomplete": "off"}

MODE_LABELS = {"single": _l("Single-level (the seller only)"), "multi": _l("Multi-level (the seller and its uplines)")}
BASE_LABELS = {"net": _l("Order amount net of discounts"),
               "margin": _l("Gross margin (amount less the seller's price)")}
SCOPE_LABELS = {"product": _l("Product"), "category": _l("Category"), "distributor_level": _l("Distributor level")}
KIND_LABELS = {"sales_target": _l("Sales target reached"), "team_growth": _l("Team growth (new active downlines)")}
PERIOD_LABELS = {"month": _l("Month"), "quarter": _l("Quarter")}
STATE_LABELS = {"draft": _l("Draft"), "in_force": _l("In force now"), "scheduled": _l("Scheduled"),
                "superseded": _l("Superseded")}
STATE_TAGS = {"draft": "", "in_force": "ok", "scheduled": "running", "superseded": "off"}


def plain(value) -> str:
    """A Decimal as typed by a person: 10.000 -> "10", 2.500 -> "2.5"; None -> ""."""
    if value is None:
        return ""
    text = f"{Decimal(value):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _number(value, digits: int = 3) -> int | None:
    value = (value or "").strip() if isinstance(value, str) else ""
    return int(value) if value.isascii() and value.isdigit() and 0 < len(value) <= digits else None


def _indexes(formdata, prefix: str) -> list[int]:
    """The row numbers the form sent for a table (`<prefix>-<n>-<field>`), in order."""
    found = set()
    for key in formdata.keys():
        parts = key.split("-")
        if len(parts) == 3 and parts[0] == prefix and _number(parts[1]) is not None:
            found.add(_number(parts[1]))
    return sorted(found)[:MAX_ROWS]


def _value(formdata, key: str, limit: int = 20) -> str:
    return (formdata.get(key) or "").strip()[:limit]


# --- the draft's form -----------------------------------------------------------------------------

class RulesForm(AppForm):
    """A draft's settings; its levels, overrides and rewards are rows read beside it."""

    name = StringField(_l("Name"), validators=[Optional(), Length(max=120)])
    note = TextAreaField(_l("Note (why this version)"), validators=[Optional(), Length(max=4000)],
                         render_kw={"rows": 2})
    mode = SelectField(_l("Mode"), choices=[SelectChoice(m, MODE_LABELS[m]) for m in MODES], validate_choice=False)
    max_levels = SelectField(_l("Levels paid"), validate_choice=False,
                             choices=[SelectChoice(str(n), str(n)) for n in range(1, MAX_LEVELS + 1)])
    base = SelectField(_l("Commission base"), choices=[SelectChoice(b, BASE_LABELS[b]) for b in BASES],
                       validate_choice=False)
    compression = BooleanField(_l("Compression: an unqualified upline's level goes to the next qualified upline"))
    cap_per_order = StringField(_l("Cap per order (empty: no cap)"), validators=[Optional(), Length(max=20)],
                                render_kw=AMOUNT)
    hold_days = StringField(_l("Hold days"), validators=[Optional(), Length(max=6)],
                            render_kw={"inputmode": "numeric", "autocomplete": "off"})
    # "Save and publish" only: when the version takes effect, and the tick that confirms it.
    effective_from = StringField(_l("Effective from (empty: now)"), validators=[Optional(), Length(max=20)],
                                 render_kw={"type": "datetime-local"})
    confirm = BooleanField(_l("I understand that a published version can never be changed or deleted"))


def rules_form_data(version: RuleVersion) -> dict:
    """The form's fields filled from a version."""
    return {"name": version.name, "note": version.note, "mode": version.mode, "max_levels": str(version.max_levels),
            "base": version.base, "compression": version.compression, "cap_per_order": plain(version.cap_per_order),
            "hold_days": str(version.hold_days)}


@dataclass
class LevelRow:
    """One level of the form as typed (index 0 is level 1, the seller)."""

    index: int
    rate: str = ""
    min_personal_volume: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def level(self) -> int:
        return self.index + 1

    def payload(self) -> dict:
        return {"rate": self.rate, "min_personal_volume": self.min_personal_volume}


@dataclass
class OverrideRow:
    """One override as typed: its target ("product:12", "category:3", "distributor_level:city"), level, rate."""

    index: int
    target: str = ""
    level: str = ""
    rate: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        return not (self.target or self.level or self.rate)

    def payload(self) -> dict:
        scope, _sep, key = self.target.partition(":")
        data = {"scope": scope if scope in OVERRIDE_SCOPES else None, "product_id": None, "category_id": None,
                "distributor_level": None, "level": self.level, "rate": self.rate}
        if data["scope"] == "distributor_level":
            data["distributor_level"] = key
        elif data["scope"]:
            data[f"{scope}_id"] = key
        return data


@dataclass
class RewardRow:
    """One reward as typed."""

    index: int
    kind: str = ""
    period: str = "month"
    name: str = ""
    amount: str = ""
    percent: str = ""
    min_new_downlines: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        return not (self.kind or self.name or self.amount or self.percent or self.min_new_downlines)

    def payload(self) -> dict:
        return {"kind": self.kind or None, "period": self.period, "name": self.name, "amount": self.amount,
                "percent": self.percent, "min_new_downlines": self.min_new_downlines}


def rows_of(version: RuleVersion) -> tuple[list[LevelRow], list[OverrideRow], list[RewardRow]]:
    """The rows of a saved version, as the form shows them."""
    levels = [LevelRow(n, plain(rule.rate), plain(rule.min_personal_volume)) for n, rule in enumerate(version.levels)]
    overrides = []
    for n, o in enumerate(version.overrides):
        target = {"product": f"product:{o.product_id}", "category": f"category:{o.category_id}",
                  "distributor_level": f"distributor_level:{o.distributor_level}"}.get(o.scope, "")
        overrides.append(OverrideRow(n, target, str(o.level or ""), plain(o.rate)))
    rewards = [RewardRow(n, r.kind, r.period, r.name, plain(r.amount), plain(r.percent),
                         str(r.min_new_downlines or "")) for n, r in enumerate(version.rewards)]
    return levels, overrides, rewards


def read_rows(formdata) -> tuple[list[LevelRow], list[OverrideRow], list[RewardRow]]:
    """The rows a form sent, each table in the order of its row numbers."""
    levels = [LevelRow(n, _value(formdata, f"levels-{n}-rate"), _value(formdata, f"levels-{n}-min_personal_volume"))
              for n in _indexes(formdata, "levels")][:MAX_LEVELS]
    overrides = [OverrideRow(n, _value(formdata, f"overrides-{n}-target", 40), _value(formdata, f"overrides-{n}-level"),
                             _value(formdata, f"overrides-{n}-rate")) for n in _indexes(formdata, "overrides")]
    rewards = [RewardRow(n, _value(formdata, f"rewards-{n}-kind"), _value(formdata, f"rewards-{n}-period") or "month",
                         _value(formdata, f"rewards-{n}-name", 120), _value(formdata, f"rewards-{n}-amount"),
                         _value(formdata, f"rewards-{n}-percent"), _value(formdata, f"rewards-{n}-min_new_downlines"))
               for n in _indexes(formdata, "rewards")]
    return levels, overrides, rewards


def level_count(form: RulesForm, levels: list[LevelRow]) -> int:
    """How many level rows the form shows: one in single-level mode, else the levels chosen."""
    if form.mode.data == "single":
        return 1
    chosen = _number(form.max_levels.data, 2)
    return chosen if chosen and chosen <= MAX_LEVELS else max(1, min(len(levels), MAX_LEVELS))


def fit_levels(levels: list[LevelRow], count: int) -> list[LevelRow]:
    """Exactly `count` level rows: the typed ones first, blank ones after."""
    kept = levels[:count]
    return kept + [LevelRow(n) for n in range(len(kept), count)]


def rules_payload(form: RulesForm, levels: list[LevelRow], overrides: list[OverrideRow],
                  rewards: list[RewardRow]) -> dict:
    """The dict `rules.set_rules` takes, from the form and its rows (blank overrides and rewards left out)."""
    return {"name": form.name.data or "", "note": form.note.data or "", "mode": form.mode.data,
            "max_levels": form.max_levels.data, "base": form.base.data, "compression": bool(form.compression.data),
            "cap_per_order": form.cap_per_order.data or None, "hold_days": form.hold_days.data,
            "levels": [row.payload() for row in levels],
            "overrides": [row.payload() for row in overrides if not row.blank],
            "rewards": [row.payload() for row in rewards if not row.blank]}


# The service's names of an override's fields -> the input of the row that shows them.
OVERRIDE_INPUTS = {"scope": "target", "product_id": "target", "category_id": "target", "distributor_level": "target",
                   "level": "level", "rate": "rate"}


def place_errors(fields: dict, levels: list[LevelRow], overrides: list[OverrideRow],
                 rewards: list[RewardRow]) -> list[str]:
    """Put `levels.<n>.<f>`, `overrides.<n>.<f>` and `rewards.<n>.<f>` messages beside their inputs; the names placed.

    The n-th override or reward is the n-th non-blank row (the blank ones are not sent to the service).
    """
    tables = {"levels": levels, "overrides": [r for r in overrides if not r.blank],
              "rewards": [r for r in rewards if not r.blank]}
    placed = []
    for name, messages in fields.items():
        parts = name.split(".")
        if len(parts) != 3 or parts[0] not in tables or not parts[1].isdigit():
            continue
        rows = tables[parts[0]]
        if int(parts[1]) >= len(rows):
            continue
        column = OVERRIDE_INPUTS.get(parts[2], parts[2]) if parts[0] == "overrides" else parts[2]
        shown = rows[int(parts[1])].errors.setdefault(column, [])
        shown.extend(m for m in map(str, messages) if m not in shown)
        placed.append(name)
    return placed


def publish_moment(text: str | None) -> datetime | None:
    """The naive UTC instant of a local date and time typed in the business zone; None for empty (now).

    Raises ValidationError naming `effective_from` for anything that is not a date and time.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        local = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise ValidationError(fields={"effective_from": [
            _("Enter a date and time such as 2026-12-01 09:00.")]}) from None
    if local.tzinfo is not None or local.year < 2000:
        raise ValidationError(fields={"effective_from": [_("Enter a date and time such as 2026-12-01 09:00.")]})
    return local.replace(tzinfo=business_tz()).astimezone(UTC).replace(tzinfo=None)


def local_input(moment: datetime | None) -> str:
    """A naive UTC instant as a datetime-local value in the business zone ("2026-12-01T09:00")."""
    if moment is None:
        return ""
    return moment.replace(tzinfo=UTC).astimezone(business_tz()).strftime("%Y-%m-%dT%H:%M")


# --- actions on a version ------------------------------------------------------------------------

class NewDraftForm(AppForm):
    """Start a draft: a copy of `based_on` (a version's id), or of the version in force when empty."""

    based_on = HiddenField()


class PublishForm(AppForm):
    """Publish a draft from a moment (now when empty); the tick confirms it cannot be undone."""

    effective_from = StringField(_l("Effective from (empty: now)"), validators=[Optional(), Length(max=20)],
                                 render_kw={"type": "datetime-local"})
    confirm = BooleanField(_l("I understand that a published version can never be changed or deleted"),
                           validators=[DataRequired(_l("Tick the box to confirm."))])


class DiscardForm(AppForm):
    """Delete a draft; the tick confirms it."""

    confirm = BooleanField(_l("Delete this draft"), validators=[DataRequired(_l("Tick the box to confirm."))])


# --- the simulator -------------------------------------------------------------------------------

class SimulatorForm(AppForm):
    """The version to preview and the selling distributor; the sample lines are rows read beside it."""

    version_id = SelectField(_l("Rule version"), choices=[], validate_choice=False)
    seller_id = SelectField(_l("Selling distributor"), choices=[], validate_choice=False)


@dataclass
class SampleLine:
    """One line of the sample order as typed."""

    index: int
    product_id: str = ""
    quantity: str = ""
    discount: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def blank(self) -> bool:
        return not (self.product_id or self.quantity or self.discount)

    def payload(self) -> dict:
        """The line as `pricing.price_lines` takes it; junk is passed on for it to name."""
        quantity = _number(self.quantity, 6)
        return {"product_id": _number(self.product_id, 9), "quantity": quantity if quantity is not None
                else (self.quantity or None), "discount": self.discount or None}


def read_sample_lines(formdata, start_blank: int = 3) -> list[SampleLine]:
    """The sample lines a form sent; `start_blank` blank ones when none."""
    rows = [SampleLine(n, _value(formdata, f"lines-{n}-product_id"), _value(formdata, f"lines-{n}-quantity"),
                       _value(formdata, f"lines-{n}-discount")) for n in _indexes(formdata, "lines")]
    return rows[:MAX_SAMPLE_LINES] or [SampleLine(n) for n in range(start_blank)]


def place_line_errors(fields: dict, rows: list[SampleLine]) -> list[str]:
    """Put `lines.<n>.<field>` messages on the n-th non-blank sample line; the names placed."""
    filled = [row for row in rows if not row.blank]
    placed = []
    for name, messages in fields.items():
        parts = name.split(".")
        if len(parts) in (2, 3) and parts[0] == "lines" and parts[1].isdigit() and int(parts[1]) < len(filled):
            shown = filled[int(parts[1])].errors.setdefault(parts[2] if len(parts) == 3 else "product_id", [])
            shown.extend(m for m in map(str, messages) if m not in shown)
            placed.append(name)
    return placed


def kind_choices() -> list[tuple[str, object]]:
    """(value, label) of the reward kinds."""
    return [(k, KIND_LABELS[k]) for k in REWARD_KINDS]


def period_choices() -> list[tuple[str, object]]:
    """(value, label) of the reward periods."""
    return [(p, PERIOD_LABELS[p]) for p in REWARD_PERIODS]
