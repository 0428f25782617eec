"""Commission rules (平台规则): versions, drafts, publishing, the version in force at a moment.

Published versions are never edited — history is never rewritten; HQ copies the version in force into
a draft, edits the draft, and publishes it from a date (now or later). A draft can be discarded.
"""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import gettext as _
from sqlalchemy import func, select

from dms.catalog.models import Category, Product
from dms.commissions.models import (
    BASES,
    MAX_LEVELS,
    MODES,
    OVERRIDE_SCOPES,
    REWARD_KINDS,
    REWARD_PERIODS,
    RewardRule,
    RuleLevel,
    RuleOverride,
    RuleVersion,
)
from dms.core import audit
from dms.core.errors import Conflict, Forbidden, NotFound, ValidationError
from dms.core.rows import MAX_ID
from dms.core.time import utcnow
from dms.extensions import db
from dms.territories.models import LEVELS

RATE = Decimal("0.001")
CENT = Decimal("0.01")
MAX_HOLD_DAYS = 365


def require_manage(actor):
    """Raise Forbidden unless the actor may edit rules and run settlements."""
    if actor is not None and not actor.can("commissions.manage"):
        raise Forbidden()


def version_at(at: datetime) -> RuleVersion | None:
    """The published version in force at `at` (the latest effective_from not after it), or None."""
    return db.session.scalar(select(RuleVersion).where(RuleVersion.status == "published",
                                                       RuleVersion.effective_from <= at)
                             .order_by(RuleVersion.effective_from.desc(), RuleVersion.number.desc()).limit(1))


def current_version() -> RuleVersion | None:
    """The version in force now."""
    return version_at(utcnow())


def versions() -> list[RuleVersion]:
    """Every version, newest number first."""
    return list(db.session.scalars(select(RuleVersion).order_by(RuleVersion.number.desc())))


def get_version(version_id) -> RuleVersion:
    """A version by id; raises NotFound."""
    version = db.session.get(RuleVersion, version_id)
    if version is None:
        raise NotFound()
    return version


def _next_number() -> int:
    return (db.session.scalar(select(func.max(RuleVersion.number))) or 0) + 1


def create_draft(actor, based_on: RuleVersion | None = None) -> RuleVersion:
    """A new draft copying `based_on` (the version in force by default, else sensible defaults)."""
    require_manage(actor)
    source = based_on or current_version()
    draft = RuleVersion(number=_next_number(), status="draft", created_by_id=getattr(actor, "id", None))
    if source is None:
        draft.mode, draft.max_levels, draft.base, draft.hold_days = "multi", 3, "net", 7
        draft.levels = [RuleLevel(level=n, rate=rate) for n, rate in
                        ((1, Decimal("10")), (2, Decimal("5")), (3, Decimal("2")))]
    else:
        draft.based_on_id = source.id
        for attr in ("name", "mode", "max_levels", "base", "compression", "cap_per_order", "hold_days", "note"):
            setattr(draft, attr, getattr(source, attr))
        draft.levels = [RuleLevel(level=r.level, rate=r.rate, min_personal_volume=r.min_personal_volume)
                        for r in source.levels]
        draft.overrides = [RuleOverride(scope=o.scope, product_id=o.product_id, category_id=o.category_id,
                                        distributor_level=o.distributor_level, level=o.level, rate=o.rate)
                           for o in source.overrides]
        draft.rewards = [RewardRule(kind=r.kind, period=r.period, name=r.name, amount=r.amount, percent=r.percent,
                                    min_new_downlines=r.min_new_downlines) for r in source.rewards]
    db.session.add(draft)
    db.session.flush()
    audit.record("commission_rules.draft", "commission_rule_version", draft.id, str(draft),
                 {"based_on": source.number if source else None}, actor=actor)
    return draft


def _decimal(value, field, errors, *, low=Decimal(0), high=None, places=CENT, optional=False):
    if value in (None, "") and optional:
        return None
    try:
        number = Decimal(str(value).strip()).quantize(places, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, TypeError):
        errors[field] = [_("Enter a number such as 12.5.")]
        return None
    if not number.is_finite() or number < low or (high is not None and number > high):
        errors[field] = ([_("Enter a number from %(low)s to %(high)s.", low=low, high=high)] if high is not None
                         else [_("Enter a number of at least %(low)s.", low=low)])
        return None
    return number


def _integer(value, field, errors, low, high, optional=False):
    if value in (None, "") and optional:
        return None
    try:
        number = int(str(value).strip())
    except (ValueError, TypeError):
        errors[field] = [_("Enter a whole number.")]
        return None
    if not low <= number <= high:
        errors[field] = [_("Enter a whole number from %(low)s to %(high)s.", low=low, high=high)]
        return None
    return number


def _clean_levels(rows, max_levels, errors) -> list[RuleLevel]:
    levels = []
    for n in range(1, max_levels + 1):
        row = rows[n - 1] if n - 1 < len(rows) else {}
        rate = _decimal(row.get("rate"), f"levels.{n - 1}.rate", errors, high=Decimal(100), places=RATE)
        minimum = _decimal(row.get("min_personal_volume") or "0", f"levels.{n - 1}.min_personal_volume", errors,
                           high=Decimal("999999999999.99"))
        if rate is not None and minimum is not None:
            levels.append(RuleLevel(level=n, rate=rate, min_personal_volume=minimum))
    return levels


def _clean_overrides(rows, max_levels, errors) -> list[RuleOverride]:
    overrides, seen = [], set()
    for i, row in enumerate(rows):
        scope = row.get("scope")
        if scope not in OVERRIDE_SCOPES:
            errors[f"overrides.{i}.scope"] = [_("Choose what the override applies to.")]
            continue
        override = RuleOverride(scope=scope)
        if scope == "product":
            product_id = _integer(row.get("product_id"), f"overrides.{i}.product_id", errors, 1, MAX_ID)
            if product_id is not None and db.session.get(Product, product_id) is None:
                errors[f"overrides.{i}.product_id"] = [_("Choose an existing product.")]
            override.product_id, target = product_id, product_id
        elif scope == "category":
            category_id = _integer(row.get("category_id"), f"overrides.{i}.category_id", errors, 1, MAX_ID)
            if category_id is not None and db.session.get(Category, category_id) is None:
                errors[f"overrides.{i}.category_id"] = [_("Choose an existing category.")]
            override.category_id, target = category_id, category_id
        else:
            if row.get("distributor_level") not in LEVELS:
                errors[f"overrides.{i}.distributor_level"] = [_("Choose a distributor level.")]
            override.distributor_level = target = row.get("distributor_level")
        override.level = _integer(row.get("level"), f"overrides.{i}.level", errors, 1, max_levels, optional=True)
        override.rate = _decimal(row.get("rate"), f"overrides.{i}.rate", errors, high=Decimal(100), places=RATE)
        key = (scope, target, override.level)
        if key in seen:
            errors[f"overrides.{i}.scope"] = [_("This override is listed twice.")]
        seen.add(key)
        overrides.append(override)
    return overrides


def _clean_rewards(rows, errors) -> list[RewardRule]:
    rewards = []
    for i, row in enumerate(rows):
        kind, period = row.get("kind"), row.get("period") or "month"
        if kind not in REWARD_KINDS:
            errors[f"rewards.{i}.kind"] = [_("Choose the kind of reward.")]
            continue
        if period not in REWARD_PERIODS:
            errors[f"rewards.{i}.period"] = [_("Choose month or quarter.")]
        reward = RewardRule(kind=kind, period=period, name=str(row.get("name") or "")[:120].strip())
        reward.amount = _decimal(row.get("amount"), f"rewards.{i}.amount", errors, optional=True,
                                 high=Decimal("999999999999.99"))
        reward.percent = _decimal(row.get("percent"), f"rewards.{i}.percent", errors, optional=True,
                                  high=Decimal(100), places=RATE)
        if (reward.amount is None) == (reward.percent is None) and f"rewards.{i}.amount" not in errors:
            errors[f"rewards.{i}.amount"] = [_("Give either a fixed amount or a percentage, not both.")]
        if kind == "team_growth":
            if reward.percent is not None:
                errors[f"rewards.{i}.percent"] = [_("A team-growth reward is a fixed amount.")]
            reward.min_new_downlines = _integer(row.get("min_new_downlines"), f"rewards.{i}.min_new_downlines",
                                                errors, 1, 10000)
        rewards.append(reward)
    return rewards


def set_rules(actor, draft: RuleVersion, data: dict) -> RuleVersion:
    """Replace a draft's settings, levels, overrides and rewards; ValidationError names every bad field."""
    require_manage(actor)
    if draft.status != "draft":
        raise Conflict(_("A published version cannot be changed; make a new draft from it."))
    errors: dict = {}
    mode = data.get("mode")
    if mode not in MODES:
        errors["mode"] = [_("Choose single-level or multi-level.")]
    base = data.get("base")
    if base not in BASES:
        errors["base"] = [_("Choose the commission base.")]
    max_levels = 1 if mode == "single" else _integer(data.get("max_levels"), "max_levels", errors, 1, MAX_LEVELS)
    hold_days = _integer(data.get("hold_days"), "hold_days", errors, 0, MAX_HOLD_DAYS)
    cap = _decimal(data.get("cap_per_order"), "cap_per_order", errors, optional=True, low=CENT,
                   high=Decimal("999999999999.99"))
    levels = _clean_levels(list(data.get("levels") or []), max_levels or 0, errors) if max_levels else []
    overrides = _clean_overrides(list(data.get("overrides") or []), max_levels or MAX_LEVELS, errors)
    rewards = _clean_rewards(list(data.get("rewards") or []), errors)
    if errors:
        raise ValidationError(fields=errors)
    # The old rows go first: one flush inserting the new levels before deleting the old would break the
    # (version, level) unique key.
    draft.levels, draft.overrides, draft.rewards = [], [], []
    db.session.flush()
    draft.name = str(data.get("name") or "")[:120].strip()
    draft.note = str(data.get("note") or "")[:4000]
    draft.mode, draft.base, draft.max_levels, draft.hold_days = mode, base, max_levels, hold_days
    draft.compression = bool(data.get("compression")) and mode == "multi"
    draft.cap_per_order = cap
    draft.levels, draft.overrides, draft.rewards = levels, overrides, rewards
    db.session.flush()
    audit.record("commission_rules.edit", "commission_rule_version", draft.id, str(draft),
                 {"mode": mode, "levels": [str(level.rate) for level in levels], "base": base,
                  "compression": draft.compression, "cap_per_order": str(cap) if cap else None,
                  "hold_days": hold_days, "overrides": len(overrides), "rewards": len(rewards)}, actor=actor)
    return draft


def publish(actor, draft: RuleVersion, effective_from: datetime | None = None) -> RuleVersion:
    """Publish a draft from `effective_from` (now by default; never in the past, which would rewrite history)."""
    require_manage(actor)
    if draft.status != "draft":
        raise Conflict(_("This version is already published."))
    now = utcnow()
    effective_from = effective_from or now
    if effective_from < now.replace(second=0, microsecond=0):
        raise ValidationError(fields={"effective_from": [_("A version takes effect now or later, never earlier.")]})
    if not draft.levels:
        raise ValidationError(fields={"levels": [_("Give the rate of every level before publishing.")]})
    draft.status, draft.effective_from = "published", max(effective_from, now)
    draft.published_at, draft.published_by_id = now, getattr(actor, "id", None)
    db.session.flush()
    audit.record("commission_rules.publish", "commission_rule_version", draft.id, str(draft),
                 {"effective_from": draft.effective_from.isoformat(timespec="minutes")}, actor=actor)
    return draft


def discard(actor, draft: RuleVersion) -> None:
    """Delete a draft (published versions stay forever)."""
    require_manage(actor)
    if draft.status != "draft":
        raise Conflict(_("A published version cannot be deleted."))
    audit.record("commission_rules.discard", "commission_rule_version", draft.id, str(draft), {}, actor=actor)
    db.session.delete(draft)
    db.session.flush()
