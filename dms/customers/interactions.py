"""Visits and communications (拜访、沟通): logging them, planning visits, follow-ups and visit compliance.

An interaction is done (it happened, with an outcome) or planned (a visit for a day, later done or
cancelled). A done one may set the next follow-up date; that follow-up belongs to the user who logged
it and stays open until they log the customer's next interaction or mark it done. Times are stored as
naive UTC; dates the user types or reads (planned day, follow-up day, "today") are business dates in
DMS_TIMEZONE (`dms.core.time`).
"""

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select, update
from sqlalchemy.orm import selectinload

from dms.core import audit
from dms.core.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationError
from dms.core.rows import is_row_id
from dms.core.scope import HQ_SCOPE, scoped
from dms.core.time import business_today, business_tz, utcnow
from dms.customers.models import INTERACTION_KINDS, Customer, Interaction
from dms.extensions import db

MANAGE = "customers.manage"
KIND_LABELS = {"visit": _l("Visit"), "call": _l("Call"), "message": _l("Message")}
STATUS_LABELS = {"planned": _l("Planned"), "done": _l("Done"), "cancelled": _l("Cancelled")}
TEXT_LIMITS = {"contact_person": 120, "outcome": 255, "notes": 5000}
# A typed time may run a little ahead of the server's clock (minute precision, clock skew).
FUTURE_SLACK = timedelta(minutes=5)


# --- helpers ------------------------------------------------------------------------------------

def _require_manage(actor) -> None:
    """Logging and planning need customers.manage; the system itself (actor None) may always."""
    if actor is not None and not actor.can(MANAGE):
        raise Forbidden()


def to_utc(moment: datetime) -> datetime:
    """A typed time (naive: business time zone; aware: its own) as the naive UTC the columns store."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=business_tz())
    return moment.astimezone(UTC).replace(tzinfo=None)


def to_business(moment: datetime | None) -> datetime | None:
    """A stored naive UTC time in the business time zone (naive), e.g. to prefill a form."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC).astimezone(business_tz()).replace(tzinfo=None)


def _clean_texts(data: dict, errors: dict) -> dict:
    cleaned = {}
    for key, limit in TEXT_LIMITS.items():
        value = data.get(key)
        value = "" if value is None else value
        if not isinstance(value, str):
            errors[key] = [_("Must be text.")]
            continue
        value = value.strip()
        if len(value) > limit:
            errors[key] = [_("At most %(n)d characters.", n=limit)]
        else:
            cleaned[key] = value
    return cleaned


def _clean_follow_up(value, today: date, errors: dict) -> date | None:
    """The next follow-up day: none, or a date from today on (a follow-up in the past is never due)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        errors["follow_up_on"] = [_("Enter a date.")]
        return None
    if value < today:
        errors["follow_up_on"] = [_("The follow-up date cannot be in the past.")]
        return None
    return value


def _clean_happened(value, errors: dict) -> datetime:
    """When it happened (default now), not in the future; naive UTC."""
    if value in (None, ""):
        return utcnow()
    if not isinstance(value, datetime):
        errors["happened_at"] = [_("Enter a date and time.")]
        return utcnow()
    moment = to_utc(value)
    if moment > utcnow() + FUTURE_SLACK:
        errors["happened_at"] = [_("It cannot have happened in the future.")]
    return moment


def _close_open_follow_ups(actor, customer: Customer, keep_id: int | None = None) -> int:
    """Close the actor's open follow-ups of this customer: contacting them again is the follow-up."""
    if actor is None:
        return 0
    stmt = update(Interaction).where(
        Interaction.customer_id == customer.id, Interaction.user_id == actor.id,
        Interaction.follow_up_on.is_not(None), Interaction.follow_up_done_at.is_(None))
    if keep_id is not None:
        stmt = stmt.where(Interaction.id != keep_id)
    result = db.session.execute(stmt.values(follow_up_done_at=utcnow()),
                                execution_options={"synchronize_session": "fetch"})
    return result.rowcount or 0


# --- writing ------------------------------------------------------------------------------------

def log_interaction(actor, customer: Customer, data: dict, today: date | None = None) -> Interaction:
    """Record a visit, call or message that happened (status done) and close the actor's open follow-ups
    of the customer; ValidationError per field (kind, happened_at, texts, follow_up_on), Forbidden."""
    _require_manage(actor)
    today = today or business_today()
    errors: dict = {}
    kind = data.get("kind")
    if kind not in INTERACTION_KINDS:
        errors["kind"] = [_("Choose a visit, a call or a message.")]
    texts = _clean_texts(data, errors)
    happened_at = _clean_happened(data.get("happened_at"), errors)
    follow_up_on = _clean_follow_up(data.get("follow_up_on"), today, errors)
    if errors:
        raise ValidationError(fields=errors)
    _close_open_follow_ups(actor, customer)
    interaction = Interaction(customer_id=customer.id, distributor_id=customer.distributor_id,
                              user_id=getattr(actor, "id", None), kind=kind, status="done",
                              happened_at=happened_at, follow_up_on=follow_up_on, **texts)
    db.session.add(interaction)
    db.session.flush()
    audit.record("interaction.log", "customer", customer.id, f"{kind} {customer.name}", actor=actor)
    return interaction


def plan_visit(actor, customer: Customer, data: dict, today: date | None = None) -> Interaction:
    """Plan a visit to the customer on a day from today on (status planned); ValidationError per field."""
    _require_manage(actor)
    today = today or business_today()
    errors: dict = {}
    planned_on = data.get("planned_on")
    if isinstance(planned_on, datetime) or not isinstance(planned_on, date):
        errors["planned_on"] = [_("Enter the day of the visit.")]
    elif planned_on < today:
        errors["planned_on"] = [_("A visit cannot be planned in the past.")]
    texts = _clean_texts({"contact_person": data.get("contact_person"), "notes": data.get("notes")}, errors)
    if errors:
        raise ValidationError(fields=errors)
    interaction = Interaction(customer_id=customer.id, distributor_id=customer.distributor_id,
                              user_id=getattr(actor, "id", None), kind="visit", status="planned",
                              planned_on=planned_on, **texts)
    db.session.add(interaction)
    db.session.flush()
    audit.record("interaction.plan", "customer", customer.id, f"visit {customer.name} {planned_on}", actor=actor)
    return interaction


def complete_visit(actor, interaction: Interaction, data: dict, today: date | None = None) -> Interaction:
    """Mark a planned visit done with its outcome (and maybe a follow-up, owned by the actor, who made it);
    closes the actor's other open follow-ups of the customer; InvalidTransition unless planned."""
    _require_manage(actor)
    if interaction.status != "planned":
        raise InvalidTransition(_("Only a planned visit can be marked done."))
    today = today or business_today()
    errors: dict = {}
    merged = {"contact_person": interaction.contact_person, "notes": interaction.notes}
    merged.update({k: v for k, v in data.items() if k in TEXT_LIMITS and v not in (None, "")})
    texts = _clean_texts(merged, errors)
    happened_at = _clean_happened(data.get("happened_at"), errors)
    follow_up_on = _clean_follow_up(data.get("follow_up_on"), today, errors)
    if errors:
        raise ValidationError(fields=errors)
    _close_open_follow_ups(actor, interaction.customer, keep_id=interaction.id)
    interaction.status, interaction.happened_at, interaction.follow_up_on = "done", happened_at, follow_up_on
    interaction.user_id = getattr(actor, "id", interaction.user_id)
    for key, value in texts.items():
        setattr(interaction, key, value)
    db.session.flush()
    audit.record("interaction.done", "customer", interaction.customer_id, f"visit {interaction.id}", actor=actor)
    return interaction


def cancel_visit(actor, interaction: Interaction) -> Interaction:
    """Cancel a planned visit (it still counts as planned, not done, for compliance); InvalidTransition."""
    _require_manage(actor)
    if interaction.status != "planned":
        raise InvalidTransition(_("Only a planned visit can be cancelled."))
    interaction.status = "cancelled"
    db.session.flush()
    audit.record("interaction.cancel", "customer", interaction.customer_id, f"visit {interaction.id}", actor=actor)
    return interaction


def complete_follow_up(actor, interaction: Interaction) -> Interaction:
    """Mark an open follow-up done (its owner, or staff with customers.manage); a second time changes
    nothing; Conflict when the interaction has no follow-up, Forbidden for someone else's without manage."""
    if interaction.follow_up_on is None:
        raise Conflict(_("This interaction has no follow-up."))
    if actor is not None and actor.id != interaction.user_id and not actor.can(MANAGE):
        raise Forbidden()
    if interaction.follow_up_done_at is None:
        interaction.follow_up_done_at = utcnow()
        db.session.flush()
    return interaction


# --- reading ------------------------------------------------------------------------------------

def interactions_query(actor):
    """A select of the interactions `actor` may see: those of customers in their scope."""
    stmt = select(Interaction).join(Customer, Customer.id == Interaction.customer_id)
    return stmt if actor is None else scoped(stmt, Customer.distributor_id, actor)


def get_interaction(actor, interaction_id) -> Interaction:
    """One interaction within the actor's scope; NotFound otherwise (another distributor's included)."""
    if not is_row_id(interaction_id):
        raise NotFound()
    interaction = db.session.scalar(interactions_query(actor).where(Interaction.id == interaction_id))
    if interaction is None:
        raise NotFound()
    return interaction


def history(customer: Customer, limit: int = 100) -> dict:
    """The customer's planned visits (soonest first) and past interactions (latest first)."""
    base = select(Interaction).where(Interaction.customer_id == customer.id).options(selectinload(Interaction.user))
    planned = list(db.session.scalars(base.where(Interaction.status == "planned")
                                      .order_by(Interaction.planned_on, Interaction.id)))
    past = list(db.session.scalars(base.where(Interaction.status != "planned").order_by(
        func.coalesce(Interaction.happened_at, Interaction.created_at).desc(), Interaction.id.desc()).limit(limit)))
    return {"planned": planned, "past": past}


def week_end(today: date) -> date:
    """The Sunday that ends today's week (ISO weeks run Monday to Sunday)."""
    return today + timedelta(days=6 - today.weekday())


def open_follow_ups_query(actor, who: str = "mine", distributor_id: int | None = None):
    """Open follow-ups the actor may see: their own ("mine") or their distributor's ("team"); HQ's team
    view is every distributor's, or the one `distributor_id` names."""
    stmt = interactions_query(actor).where(Interaction.follow_up_on.is_not(None),
                                           Interaction.follow_up_done_at.is_(None),
                                           Interaction.status == "done")
    if who == "mine" or actor is None:
        stmt = stmt.where(Interaction.user_id == getattr(actor, "id", None))
    if distributor_id is not None and (actor is None or actor.can(HQ_SCOPE)):
        stmt = stmt.where(Customer.distributor_id == distributor_id)
    return stmt


def due_follow_ups(actor, who: str = "mine", distributor_id: int | None = None, today: date | None = None) -> dict:
    """Open follow-ups due by the end of this week, in buckets overdue / today / week (later this week),
    by business date (DMS_TIMEZONE); each oldest first."""
    today = today or business_today()
    stmt = open_follow_ups_query(actor, who, distributor_id).where(Interaction.follow_up_on <= week_end(today))
    rows = db.session.scalars(stmt.options(selectinload(Interaction.customer), selectinload(Interaction.user))
                              .order_by(Interaction.follow_up_on, Interaction.id))
    buckets: dict[str, list[Interaction]] = {"overdue": [], "today": [], "week": []}
    for row in rows:
        bucket = "overdue" if row.follow_up_on < today else "today" if row.follow_up_on == today else "week"
        buckets[bucket].append(row)
    return buckets


def due_planned_visits(actor, who: str = "mine", distributor_id: int | None = None,
                       today: date | None = None) -> list[Interaction]:
    """Planned visits not yet done whose day has come or comes this week (late ones first)."""
    today = today or business_today()
    stmt = interactions_query(actor).where(Interaction.status == "planned",
                                           Interaction.planned_on <= week_end(today))
    if who == "mine" or actor is None:
        stmt = stmt.where(Interaction.user_id == getattr(actor, "id", None))
    if distributor_id is not None and (actor is None or actor.can(HQ_SCOPE)):
        stmt = stmt.where(Customer.distributor_id == distributor_id)
    return list(db.session.scalars(stmt.options(selectinload(Interaction.customer), selectinload(Interaction.user))
                                   .order_by(Interaction.planned_on, Interaction.id)))


def visit_compliance(distributor_id: int | None, start: date, end: date) -> dict:
    """Visits the distributor planned for days in [start, end] and how many of them were done:
    {planned, done, rate}; rate = done / planned as a Decimal fraction to 4 places (None when none
    was planned). Cancelled plans count as planned and not done; visits logged without a plan are
    neither (for the reports issue's scorecard)."""
    owner = Interaction.distributor_id.is_(None) if distributor_id is None else \
        Interaction.distributor_id == distributor_id
    planned, done = db.session.execute(
        select(func.count(Interaction.id), func.coalesce(func.sum(case((Interaction.status == "done", 1), else_=0)), 0))
        .where(owner, Interaction.kind == "visit", Interaction.planned_on.is_not(None),
               Interaction.planned_on >= start, Interaction.planned_on <= end)).one()
    planned, done = int(planned or 0), int(done or 0)
    rate = (Decimal(done) / Decimal(planned)).quantize(Decimal("0.0001"), ROUND_HALF_UP) if planned else None
    return {"planned": planned, "done": done, "rate": rate}
