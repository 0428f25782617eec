"""Campaigns (public interface of the campaigns area): planning, approval, the state machine, the price rule.

HQ plans a campaign (users holding campaigns.manage with HQ scope): what it promotes, where (target
regions, any level: a province covers its cities and counties), where it is compared (control regions,
which must not overlap the targets), when, by which mechanism and at what cost. States:
draft -> approved -> running -> ended, and cancelled from draft or approved; only a draft is edited.
`advance(today)` (the daily job, and approval once the period has begun) starts approved campaigns whose
period began and ends running ones whose period is over.

The orders area prices lines with `applicable(...)` and `reduction(...)`: the campaign price is given as a
discount off the list price, so `unit_price` always stays the list price. Services flush, never commit.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from dms.campaigns.models import CAMPAIGN_STATES, MECHANISMS, Campaign, CampaignRegion
from dms.catalog.models import Product
from dms.core import audit
from dms.core.errors import Forbidden, InvalidTransition, NotFound, ValidationError
from dms.core.rows import is_row_id
from dms.core.scope import HQ_SCOPE
from dms.core.time import business_today, business_tz, utcnow
from dms.extensions import db
from dms.territories.services import ancestors, find_region, subtree_codes

MANAGE = "campaigns.manage"
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999999.99")
MAX_REGIONS = 200
MAX_PRODUCTS = 500
MAX_FREE_UNITS = 1000
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")
STATUS_LABELS = {"draft": _l("Draft"), "approved": _l("Approved"), "running": _l("Running"), "ended": _l("Ended"),
                 "cancelled": _l("Cancelled")}
STATUS_TAGS = {"draft": "", "approved": "running", "running": "ok", "ended": "off", "cancelled": "off"}
MECHANISM_LABELS = {"percent": _l("Percentage off"), "fixed_price": _l("Fixed price per unit"),
                    "buy_n_get_m": _l("Buy N get M free")}
# Which state each action leads to, from which states.
MOVES = {"approved": ("draft",), "running": ("approved",), "ended": ("running",), "cancelled": ("draft", "approved")}


def status_label(status: str) -> str:
    """The status in the user's language."""
    return str(STATUS_LABELS.get(status, status))


def mechanism_label(mechanism: str) -> str:
    """The mechanism in the user's language."""
    return str(MECHANISM_LABELS.get(mechanism, mechanism))


def _require(actor) -> None:
    """Forbidden unless the actor (None: the system) is HQ staff holding campaigns.manage (campaigns are HQ's)."""
    if actor is not None and not (actor.can(MANAGE) and actor.can(HQ_SCOPE)):
        raise Forbidden()


# --- reading -----------------------------------------------------------------------------------------

def campaigns_query(actor, *, status: str | None = None, active_from: date | None = None,
                    active_to: date | None = None):
    """A select of campaigns (HQ only): a status, and a period they overlap (either end open)."""
    _require(actor)
    stmt = select(Campaign)
    if status:
        stmt = stmt.where(Campaign.status == status)
    if active_from is not None:
        stmt = stmt.where(Campaign.ends_on >= active_from)
    if active_to is not None:
        stmt = stmt.where(Campaign.starts_on <= active_to)
    return stmt


def get_campaign(actor, campaign_id) -> Campaign:
    """One campaign by id; NotFound for an unknown or malformed id, Forbidden for non-HQ users."""
    _require(actor)
    if not is_row_id(campaign_id):
        raise NotFound()
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound()
    return campaign


def region_codes(campaign: Campaign, role: str = "target") -> list[str]:
    """The codes of the campaign's target (or control) regions as chosen (not expanded)."""
    return [r.region_code for r in campaign.regions if r.role == role]


def covered_codes(campaign: Campaign, role: str = "target") -> list[str]:
    """Every region code the campaign's target (or control) regions cover: each with all below it."""
    found: list[str] = []
    for code in region_codes(campaign, role):
        found.extend(c for c in subtree_codes(code) if c not in found)
    return found


def actual_period(campaign: Campaign) -> tuple[date, date]:
    """The days the campaign ran or runs: its period, cut short on the day it was ended early."""
    end = campaign.ends_on
    if campaign.status == "ended" and campaign.ended_at is not None:
        ended_on = campaign.ended_at.replace(tzinfo=UTC).astimezone(business_tz()).date()
        end = max(campaign.starts_on, min(end, ended_on))
    return campaign.starts_on, end


@dataclass
class ScopeSummary:
    """What a campaign covers, for its page: regions with their paths, products, counts."""

    targets: list
    controls: list
    products: list
    target_codes: int
    days: int


def scope_summary(campaign: Campaign) -> ScopeSummary:
    """The campaign's scope in words: target and control regions (with their paths), products, days."""
    from dms.territories.services import with_paths

    targets = [r.region for r in campaign.regions if r.role == "target"]
    controls = [r.region for r in campaign.regions if r.role == "control"]
    return ScopeSummary(targets=with_paths(targets), controls=with_paths(controls), products=list(campaign.products),
                        target_codes=len(covered_codes(campaign)),
                        days=(campaign.ends_on - campaign.starts_on).days + 1)


# --- cleaning a plan -----------------------------------------------------------------------------------

def _amount(value, field: str, errors: dict, required: bool = True) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[field] = [_("An amount such as 500.00.")]
        return None
    try:
        amount = Decimal(str(value).strip().replace(",", "")) if not isinstance(value, bool) else None
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT \
            or amount != amount.quantize(CENT, rounding=ROUND_HALF_UP):
        errors[field] = [_("An amount such as 500.00 (at least 0, at most two decimal places).")]
        return None
    return amount.quantize(CENT)


def _whole(value, field: str, errors: dict, low: int, high: int) -> int | None:
    if isinstance(value, str):
        value = int(value.strip()) if value.strip().isascii() and value.strip().isdigit() else value
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors[field] = [_("A whole number from %(low)d to %(high)d.", low=low, high=high)]
        return None
    return value


def _day(value, field: str, errors: dict) -> date | None:
    if isinstance(value, date):
        return value
    try:
        if isinstance(value, str) and len(value.strip()) == 10:
            return date.fromisoformat(value.strip())
    except ValueError:
        pass
    errors[field] = [_("A date such as 2026-05-01.")]
    return None


def _codes(values, field: str, errors: dict) -> list[str]:
    """Known region codes, each once, in the order given."""
    if values is None:
        values = []
    if isinstance(values, str) or not isinstance(values, (list, tuple)) or len(values) > MAX_REGIONS:
        errors[field] = [_("Choose at most %(n)d regions.", n=MAX_REGIONS)]
        return []
    codes: list[str] = []
    for value in values:
        region = find_region(value.strip()) if isinstance(value, str) else None
        if region is None:
            errors[field] = [_("Choose regions from the list.")]
            return []
        if region.code not in codes:
            codes.append(region.code)
    return codes


def _family(code: str) -> set[str]:
    return set(subtree_codes(code)) | {r.code for r in ancestors(code)}


def _products(values, errors: dict) -> list[Product]:
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)) or not values:
        errors["product_ids"] = [_("Choose at least one product.")]
        return []
    ids = []
    for value in values:
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value.strip())
        if not is_row_id(value):
            errors["product_ids"] = [_("Choose products from the list.")]
            return []
        if value not in ids:
            ids.append(value)
    if len(ids) > MAX_PRODUCTS:
        errors["product_ids"] = [_("At most %(n)d products.", n=MAX_PRODUCTS)]
        return []
    products = list(db.session.scalars(select(Product).where(Product.id.in_(ids))))
    if len(products) != len(ids):
        errors["product_ids"] = [_("Choose products from the list.")]
        return []
    return products


def clean_plan(data: dict, campaign: Campaign | None = None) -> dict:
    """The plan's fields checked and normalised; ValidationError naming every bad field."""
    if not isinstance(data, dict):
        raise ValidationError()
    errors: dict[str, list] = {}
    cleaned: dict = {}
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 120:
        errors["name"] = [_("A name of 1 to 120 characters.")]
    else:
        cleaned["name"] = name.strip()
    objective = data.get("objective") or ""
    if not isinstance(objective, str) or len(objective) > 2000:
        errors["objective"] = [_("Text of at most %(n)d characters.", n=2000)]
    else:
        cleaned["objective"] = objective.strip()
    starts_on, ends_on = _day(data.get("starts_on"), "starts_on", errors), _day(data.get("ends_on"), "ends_on", errors)
    if starts_on and ends_on and ends_on < starts_on:
        errors["ends_on"] = [_("The period ends on or after the day it starts.")]
    cleaned["starts_on"], cleaned["ends_on"] = starts_on, ends_on
    mechanism = data.get("mechanism")
    cleaned.update(mechanism=mechanism, percent_off=None, fixed_price=None, buy_n=None, get_m=None)
    if mechanism not in MECHANISMS:
        errors["mechanism"] = [_("Choose a mechanism.")]
    elif mechanism == "percent":
        percent = _amount(data.get("percent_off"), "percent_off", errors)
        if percent is not None and not Decimal("0") < percent < Decimal("100"):
            errors["percent_off"] = [_("A percentage above 0 and below 100.")]
        cleaned["percent_off"] = percent
    elif mechanism == "fixed_price":
        cleaned["fixed_price"] = _amount(data.get("fixed_price"), "fixed_price", errors)
    else:
        cleaned["buy_n"] = _whole(data.get("buy_n"), "buy_n", errors, 1, MAX_FREE_UNITS)
        cleaned["get_m"] = _whole(data.get("get_m"), "get_m", errors, 1, MAX_FREE_UNITS)
    cleaned["budget"] = _amount(data.get("budget") if data.get("budget") not in (None, "") else "0", "budget", errors)
    cleaned["cost"] = _amount(data.get("cost") if data.get("cost") not in (None, "") else "0", "cost", errors)
    code = data.get("code")
    if code is None or (isinstance(code, str) and not code.strip()):
        cleaned["code"] = None
    elif not isinstance(code, str) or not CODE_RE.match(code.strip().upper()):
        errors["code"] = [_("Letters, digits, - and _ (at most 32), starting with a letter or digit.")]
    else:
        cleaned["code"] = code.strip().upper()
        taken = db.session.scalar(select(Campaign.id).where(Campaign.code == cleaned["code"],
                                                            Campaign.id != (campaign.id if campaign else -1)))
        if taken is not None:
            errors["code"] = [_("Another campaign already uses the code %(code)s.", code=cleaned["code"])]
    targets = _codes(data.get("target_regions"), "target_regions", errors)
    controls = _codes(data.get("control_regions"), "control_regions", errors)
    if not targets and "target_regions" not in errors:
        errors["target_regions"] = [_("Choose at least one target region.")]
    if targets and controls:
        covered = set().union(*(_family(code) for code in targets))
        overlapping = [code for code in controls if code in covered]
        if overlapping:
            names = "、".join(find_region(code).name for code in overlapping)
            errors["control_regions"] = [_("A control region must not overlap a target region: %(names)s.",
                                           names=names)]
    cleaned["target_regions"], cleaned["control_regions"] = targets, controls
    cleaned["products"] = _products(data.get("product_ids"), errors)
    if errors:
        raise ValidationError(fields=errors)
    return cleaned


def _snapshot(campaign: Campaign) -> dict:
    return {"name": campaign.name, "starts_on": str(campaign.starts_on), "ends_on": str(campaign.ends_on),
            "mechanism": campaign.mechanism, "percent_off": str(campaign.percent_off or ""),
            "fixed_price": str(campaign.fixed_price or ""), "buy_n": campaign.buy_n, "get_m": campaign.get_m,
            "budget": str(campaign.budget), "cost": str(campaign.cost), "code": campaign.code,
            "targets": region_codes(campaign), "controls": region_codes(campaign, "control"),
            "products": sorted(p.id for p in campaign.products)}


def _apply(campaign: Campaign, cleaned: dict) -> None:
    for name in ("name", "objective", "starts_on", "ends_on", "mechanism", "percent_off", "fixed_price", "buy_n",
                 "get_m", "budget", "cost", "code"):
        setattr(campaign, name, cleaned[name])
    campaign.products = cleaned["products"]
    wanted = [(code, "target") for code in cleaned["target_regions"]] + \
             [(code, "control") for code in cleaned["control_regions"]]
    kept = {r.region_code: r for r in campaign.regions}
    campaign.regions = []
    db.session.flush()  # the old rows go first, so a region moved from target to control keeps the unique key
    for code, role in wanted:
        row = kept.get(code)
        campaign.regions.append(CampaignRegion(region_code=code, role=role, region=row.region if row else
                                               find_region(code)))


# --- the plan and its state machine ----------------------------------------------------------------------

def create_campaign(actor, data: dict) -> Campaign:
    """Plan a campaign (a draft); ValidationError naming each bad field, Forbidden."""
    _require(actor)
    cleaned = clean_plan(data)
    campaign = Campaign(status="draft", created_by_id=getattr(actor, "id", None))
    db.session.add(campaign)
    _apply(campaign, cleaned)
    db.session.flush()
    audit.record("campaign.create", "campaign", campaign.id, campaign.name, actor=actor)
    return campaign


def update_campaign(actor, campaign: Campaign, data: dict) -> Campaign:
    """Change a draft's plan; InvalidTransition once approved, ValidationError, Forbidden."""
    _require(actor)
    if campaign.status != "draft":
        raise InvalidTransition(_("Only a draft campaign can be edited."))
    cleaned = clean_plan(data, campaign)
    before = _snapshot(campaign)
    _apply(campaign, cleaned)
    db.session.flush()
    audit.record("campaign.edit", "campaign", campaign.id, campaign.name, audit.diff(before, _snapshot(campaign)),
                 actor=actor)
    return campaign


def _move(actor, campaign: Campaign, to: str, note: str = "") -> None:
    if campaign.status not in MOVES[to]:
        raise InvalidTransition(_("A campaign that is %(status)s cannot become %(to)s.",
                                  status=status_label(campaign.status), to=status_label(to)))
    before = campaign.status
    campaign.status = to
    db.session.flush()
    audit.record(f"campaign.{to}", "campaign", campaign.id, f"{campaign.name}: {before} -> {to}"
                 + (f" ({note})" if note else ""), {"status": [before, to]}, actor=actor)


def approve(actor, campaign: Campaign, today: date | None = None) -> Campaign:
    """HQ approves a draft; it starts at once when its period has begun. InvalidTransition, Conflict, Forbidden."""
    _require(actor)
    today = today or business_today()
    if campaign.status == "draft" and campaign.ends_on < today:
        raise InvalidTransition(_("The campaign's period ended on %(day)s: change it before approving.",
                                  day=campaign.ends_on.isoformat()))
    _move(actor, campaign, "approved")
    campaign.approved_at, campaign.approved_by_id = utcnow(), getattr(actor, "id", None)
    if campaign.starts_on <= today:
        start(actor, campaign, today)
    db.session.flush()
    return campaign


def start(actor, campaign: Campaign, today: date | None = None) -> Campaign:
    """Start an approved campaign whose period has begun; InvalidTransition before its first day."""
    _require(actor)
    today = today or business_today()
    if campaign.status == "approved" and campaign.starts_on > today:
        raise InvalidTransition(_("The campaign starts on %(day)s.", day=campaign.starts_on.isoformat()))
    _move(actor, campaign, "running")
    campaign.started_at = utcnow()
    db.session.flush()
    return campaign


def end(actor, campaign: Campaign, note: str = "") -> Campaign:
    """End a running campaign (at the end of its period, or early); its prices stop at once."""
    _require(actor)
    _move(actor, campaign, "ended", note)
    campaign.ended_at = utcnow()
    db.session.flush()
    return campaign


def cancel(actor, campaign: Campaign, reason: str = "") -> Campaign:
    """Cancel a draft or approved campaign (never a running one: end it instead)."""
    _require(actor)
    _move(actor, campaign, "cancelled", (reason or "").strip()[:200])
    db.session.flush()
    return campaign


def advance(today: date | None = None) -> dict:
    """The daily step: start approved campaigns whose period began, end running ones whose period is over.

    An approved campaign whose whole period passed unstarted (the job did not run) is started and ended,
    so its history says it ran. Idempotent: a second run the same day changes nothing.
    """
    today = today or business_today()
    started = ended = 0
    due = db.session.scalars(select(Campaign).where(Campaign.status == "approved", Campaign.starts_on <= today)
                             .order_by(Campaign.id).with_for_update())
    for campaign in list(due):
        start(None, campaign, today)
        started += 1
    over = db.session.scalars(select(Campaign).where(Campaign.status == "running", Campaign.ends_on < today)
                              .order_by(Campaign.id).with_for_update())
    for campaign in list(over):
        end(None, campaign)
        ended += 1
    return {"started": started, "ended": ended}


# --- pricing (used by the orders area) -------------------------------------------------------------------

@dataclass(frozen=True)
class Offer:
    """A running campaign as pricing needs it: id, mechanism, figures, product ids, target codes."""

    campaign_id: int
    mechanism: str
    percent_off: Decimal | None
    fixed_price: Decimal | None
    buy_n: int | None
    get_m: int | None
    product_ids: frozenset
    target_codes: frozenset


def check_code(code: str | None, day: date) -> Campaign | None:
    """The running campaign with this code (any case) on `day`; ValidationError on campaign_code otherwise."""
    if not code:
        return None
    # A code with control characters (NUL: PostgreSQL refuses it in a query) is unknown, not a crash.
    campaign = (db.session.scalar(select(Campaign).where(Campaign.code == code.strip().upper()))
                if code.isprintable() else None)
    if campaign is None or campaign.status != "running" or not campaign.starts_on <= day <= campaign.ends_on:
        raise ValidationError(fields={"campaign_code": [_("Unknown or ended campaign code.")]})
    return campaign


def code_in_force(code: str | None, day: date) -> bool:
    """True when `code` is the code of a campaign running on `day`."""
    try:
        return check_code(code, day) is not None
    except ValidationError:
        return False


def applicable(region_code: str | None, day: date, code: str | None = None) -> list[Offer]:
    """The offers that apply to an order shipped to `region_code` on `day` carrying `code`.

    Running campaigns whose period holds the day, with a target region at or above the order's region,
    and either no code or the order's code. ValidationError on campaign_code for an unknown or ended code.
    """
    chosen = check_code(code, day)
    region = find_region(region_code) if region_code else None
    if region is None:
        return []
    chain = {region.code} | {r.code for r in ancestors(region.code)}
    stmt = (select(Campaign).join(CampaignRegion, CampaignRegion.campaign_id == Campaign.id)
            .where(Campaign.status == "running", Campaign.starts_on <= day, Campaign.ends_on >= day,
                   CampaignRegion.role == "target", CampaignRegion.region_code.in_(chain),
                   or_(Campaign.code.is_(None), Campaign.id == (chosen.id if chosen else -1)))
            .distinct().order_by(Campaign.id))
    return [Offer(c.id, c.mechanism, c.percent_off, c.fixed_price, c.buy_n, c.get_m,
                  frozenset(p.id for p in c.products), frozenset(region_codes(c)))
            for c in db.session.scalars(stmt)]


def reduction(offer: Offer, unit_price: Decimal, quantity: int) -> Decimal:
    """What the offer takes off a line of `quantity` at the list `unit_price` (0.00 when nothing).

    percent: gross x p/100, rounded to the fen ROUND_HALF_UP; fixed price: (list - fixed) x quantity when the
    fixed price is lower; buy N get M: quantity // (N+M) x M units free, at the list price.
    """
    gross = (unit_price * quantity).quantize(CENT, rounding=ROUND_HALF_UP)
    if offer.mechanism == "percent" and offer.percent_off:
        off = (gross * offer.percent_off / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    elif offer.mechanism == "fixed_price" and offer.fixed_price is not None and offer.fixed_price < unit_price:
        off = ((unit_price - offer.fixed_price) * quantity).quantize(CENT, rounding=ROUND_HALF_UP)
    elif offer.mechanism == "buy_n_get_m" and offer.buy_n and offer.get_m:
        free = quantity // (offer.buy_n + offer.get_m) * offer.get_m
        off = (unit_price * free).quantize(CENT, rounding=ROUND_HALF_UP)
    else:
        off = Decimal("0.00")
    return min(max(off, Decimal("0.00")), gross)


def best_offer(offers: list[Offer], product_id: int, unit_price: Decimal, quantity: int) -> tuple[Offer | None,
                                                                                                    Decimal]:
    """The offer giving the largest reduction on this line (the earliest campaign on a tie), and that reduction."""
    best, best_off = None, Decimal("0.00")
    for offer in offers:
        if product_id not in offer.product_ids:
            continue
        off = reduction(offer, unit_price, quantity)
        if off > best_off:
            best, best_off = offer, off
    return best, best_off


def states() -> tuple[str, ...]:
    """Every campaign state, in the order of its life."""
    return CAMPAIGN_STATES
