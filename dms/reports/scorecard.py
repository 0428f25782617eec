"""The dealer scorecard (经销商评估): a composite score per distributor and month, from seven criteria.

For a month, each criterion gives every distributor a raw value and points from 0 to 100 (all
computed with a few set-based queries per criterion, never one per distributor):

- target_attainment: completed sales / the month's target amount (the target quantity against units
  sold when the target has no amount); points = attainment % capped at 100. No monthly target: left
  out (quarterly targets are not split into months).
- sales_growth: (sales of the month - sales of the previous month) / sales of the previous month;
  points map -50 % .. +50 % linearly onto 0 .. 100 (clipped). No sales the month before: left out.
- return_rate: orders refunded in the month / completed-sales orders of the month; points =
  (1 - rate / 20 %) x 100, clipped at 0. No completed-sales order: left out.
- stock_turnover: units issued out of the distributor's warehouse in the month (issues less restocked
  returns, the ledger's "issue" and "return" movements) / average units on hand ((opening + closing) / 2,
  from the movement ledger); a unit-based COGS / average inventory, as the catalog keeps no cost per
  unit. Points = turnover / 1 turn a month x 100, capped at 100. No stock held: left out.
- visit_compliance: planned visits done / visits planned for days of the month (the rule of
  dms.customers.interactions.visit_compliance, counted for all distributors at once); points =
  rate x 100. Nothing planned: left out.
- satisfaction: the average rating (1-5) given in the month to the distributor's orders; points =
  (average - 1) / 4 x 100. No rating: left out.
- on_time_delivery: the share of the orders delivered in the month (whatever happened to them since)
  that were delivered within ON_TIME_DAYS days (48 hours) of payment; points = share x 100. No paid
  delivery: left out.

Completed sales = orders now delivered or completed (refunds excluded), dated by their delivery
(completion when no delivery time is kept), amounts = order totals. Months are business-zone months.

Score = sum(weight x points) / sum(weight), both sums over the criteria that have data for that
distributor (the weights are renormalised over them). Points are rounded to 0.01 first (ROUND_HALF_UP)
and the score is computed from the rounded points, so the page's figures reproduce it; a distributor
with no data for any weighted criterion gets no score that month.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select

from dms.core import audit
from dms.core.errors import Forbidden, ValidationError
from dms.core.periods import current_month, month_bounds_utc, month_last_day, month_name, parse_month, previous_month
from dms.core.schedule import register as register_periodic
from dms.core.scope import HQ_SCOPE, scoped
from dms.core.time import utcnow
from dms.customers.models import Interaction
from dms.distributors.models import Distributor, DistributorTarget, Warehouse
from dms.extensions import db
from dms.inventory.models import StockMovement
from dms.orders.models import Order, OrderLine, OrderRating
from dms.reports.models import ScorecardScore, ScorecardWeight
from dms.reports.registry import ReportDefinition
from dms.reports.registry import register as register_report

CRITERIA = ("target_attainment", "sales_growth", "return_rate", "stock_turnover", "visit_compliance",
            "satisfaction", "on_time_delivery")
LABELS = {
    "target_attainment": _l("Target attainment"),
    "sales_growth": _l("Sales growth"),
    "return_rate": _l("Return rate"),
    "stock_turnover": _l("Stock turnover"),
    "visit_compliance": _l("Visit compliance"),
    "satisfaction": _l("Customer satisfaction"),
    "on_time_delivery": _l("On-time delivery"),
}
# What the raw value is, and how it becomes points (shown on the page beside the formula).
MEASURES = {
    "target_attainment": _l("Completed sales ÷ the month's target amount (or units sold ÷ target quantity)."),
    "sales_growth": _l("(Sales of the month − sales of the previous month) ÷ sales of the previous month."),
    "return_rate": _l("Orders refunded in the month ÷ completed-sales orders of the month."),
    "stock_turnover": _l("Units issued from the distributor's warehouse (less restocked returns) ÷ average units "
                         "on hand ((opening + closing) ÷ 2)."),
    "visit_compliance": _l("Planned visits done ÷ visits planned for days of the month (cancelled ones count "
                           "as not done)."),
    "satisfaction": _l("Average customer rating (1–5) given in the month."),
    "on_time_delivery": _l("Share of the orders delivered in the month that arrived within %(days)d days of "
                           "payment."),
}
MAPPINGS = {
    "target_attainment": _l("points = attainment %, at most 100"),
    "sales_growth": _l("−50 % → 0, 0 % → 50, +50 % → 100 (linear, clipped)"),
    "return_rate": _l("points = (1 − rate ÷ 20 %) × 100, at least 0"),
    "stock_turnover": _l("points = turnover ÷ 1 turn a month × 100, at most 100"),
    "visit_compliance": _l("points = rate × 100"),
    "satisfaction": _l("points = (average − 1) ÷ 4 × 100"),
    "on_time_delivery": _l("points = share × 100"),
}
MISSING = {
    "target_attainment": _l("no monthly target"),
    "sales_growth": _l("no sales the month before"),
    "return_rate": _l("no completed sale"),
    "stock_turnover": _l("no stock held"),
    "visit_compliance": _l("no visit planned"),
    "satisfaction": _l("no rating"),
    "on_time_delivery": _l("no paid delivery"),
}
UNITS = {"target_attainment": "%", "sales_growth": "%", "return_rate": "%", "stock_turnover": "×",
         "visit_compliance": "%", "satisfaction": "/5", "on_time_delivery": "%"}

SALES_STATES = ("delivered", "completed")
ON_TIME_DAYS = 2
MAX_RETURN_RATE = Decimal("0.20")
GROWTH_SPAN = Decimal("0.50")  # -50 % .. +50 % -> 0 .. 100
TURNOVER_FULL = Decimal("1")  # turns a month worth full points
HISTORY_MONTHS = 12
MANAGE = "distributors.manage"  # with HQ scope: set weights, recompute a month
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal(0)


@dataclass
class Component:
    """One criterion of one distributor in one month: its raw value, its points and what they came from."""

    value: Decimal | None
    points: Decimal | None
    detail: dict


def measure(code: str) -> str:
    """What a criterion's raw value is, in words."""
    text = str(MEASURES[code])
    return text % {"days": ON_TIME_DAYS} if code == "on_time_delivery" else text


def _q(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, ROUND_HALF_UP)


def _clip(points: Decimal) -> Decimal:
    return _q(min(max(points, ZERO), HUNDRED))


def _month(month) -> date:
    return month if isinstance(month, date) else parse_month(month)


def _dec(value) -> Decimal:
    return Decimal(str(value or 0))


# --- the criteria ---------------------------------------------------------------------------------------------

def _sales_day():
    return func.coalesce(Order.delivered_at, Order.completed_at)


def sales_by_distributor(first: date) -> dict[int, tuple[Decimal, int]]:
    """Completed sales of a month per distributor: {id: (amount, orders)}."""
    low, high = month_bounds_utc(first)
    day = _sales_day()
    rows = db.session.execute(
        select(Order.distributor_id, func.sum(Order.total), func.count(Order.id))
        .where(Order.distributor_id.is_not(None), Order.status.in_(SALES_STATES), day >= low, day < high)
        .group_by(Order.distributor_id))
    return {d: (_dec(amount), int(n)) for d, amount, n in rows}


def _units_by_distributor(first: date, ids) -> dict[int, int]:
    if not ids:
        return {}
    low, high = month_bounds_utc(first)
    day = _sales_day()
    rows = db.session.execute(
        select(Order.distributor_id, func.sum(OrderLine.quantity)).join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.distributor_id.in_(list(ids)), Order.status.in_(SALES_STATES), day >= low, day < high)
        .group_by(Order.distributor_id))
    return {d: int(units or 0) for d, units in rows}


def target_attainment(first: date, sales: dict) -> dict[int, Component]:
    """Attainment of the month's target (amount, else quantity); points = attainment %, at most 100."""
    targets = list(db.session.scalars(select(DistributorTarget).where(DistributorTarget.period == "month",
                                                                      DistributorTarget.period_start == first)))
    by_quantity = {t.distributor_id for t in targets if not t.amount and t.quantity}
    units = _units_by_distributor(first, by_quantity)
    result = {}
    for t in targets:
        if t.amount:
            achieved, goal, basis = sales.get(t.distributor_id, (ZERO, 0))[0], Decimal(t.amount), "amount"
        elif t.quantity:
            achieved, goal, basis = Decimal(units.get(t.distributor_id, 0)), Decimal(t.quantity), "quantity"
        else:
            continue
        percent = achieved / goal * HUNDRED
        result[t.distributor_id] = Component(_q(percent), _clip(min(percent, HUNDRED)),
                                             {"basis": basis, "achieved": str(achieved), "target": str(goal)})
    return result


def sales_growth(first: date, sales: dict) -> dict[int, Component]:
    """Growth of completed sales over the previous month; -50 %..+50 % -> 0..100."""
    before = sales_by_distributor(previous_month(first))
    result = {}
    for distributor_id, (previous, _n) in before.items():
        if previous <= 0:
            continue
        now = sales.get(distributor_id, (ZERO, 0))[0]
        growth = (now - previous) / previous
        points = _clip((growth + GROWTH_SPAN) / (2 * GROWTH_SPAN) * HUNDRED)
        result[distributor_id] = Component(_q(growth * HUNDRED), points, {"sales": str(now), "previous": str(previous)})
    return result


def return_rate(first: date, sales: dict) -> dict[int, Component]:
    """Orders refunded in the month / completed-sales orders of the month; (1 - rate / 20 %) x 100."""
    low, high = month_bounds_utc(first)
    refunded = dict(db.session.execute(
        select(Order.distributor_id, func.count(Order.id))
        .where(Order.distributor_id.is_not(None), Order.status == "refunded", Order.refunded_at >= low,
               Order.refunded_at < high).group_by(Order.distributor_id)).all())
    result = {}
    for distributor_id, (_amount, orders) in sales.items():
        if not orders:
            continue
        returns = int(refunded.get(distributor_id, 0))
        rate = Decimal(returns) / Decimal(orders)
        result[distributor_id] = Component(_q(rate * HUNDRED), _clip((1 - rate / MAX_RETURN_RATE) * HUNDRED),
                                           {"refunded": returns, "orders": orders})
    return result


def stock_turnover(first: date) -> dict[int, Component]:
    """Units issued (less restocked returns) / average units on hand, of each distributor's warehouse."""
    low, high = month_bounds_utc(first)
    delta = StockMovement.on_hand_delta
    in_month = StockMovement.at >= low
    rows = db.session.execute(
        select(Warehouse.distributor_id,
               func.coalesce(func.sum(case((StockMovement.at < low, delta), else_=0)), 0),
               func.coalesce(func.sum(delta), 0),
               func.coalesce(func.sum(case((in_month & (StockMovement.kind == "issue"), -delta),
                                           (in_month & (StockMovement.kind == "return"), -delta), else_=0)), 0))
        .join(Warehouse, Warehouse.id == StockMovement.warehouse_id)
        .where(Warehouse.distributor_id.is_not(None), StockMovement.at < high)
        .group_by(Warehouse.distributor_id))
    result = {}
    for distributor_id, opening, closing, issued in rows:
        opening, closing, issued = int(opening), int(closing), int(issued)
        average = Decimal(opening + closing) / 2
        if average <= 0:
            continue
        turnover = Decimal(issued) / average
        result[distributor_id] = Component(_q(turnover), _clip(turnover / TURNOVER_FULL * HUNDRED),
                                           {"issued": issued, "opening": opening, "closing": closing,
                                            "average": str(average)})
    return result


def visit_compliance(first: date) -> dict[int, Component]:
    """Planned visits done / planned for days of the month, as interactions.visit_compliance counts them."""
    rows = db.session.execute(
        select(Interaction.distributor_id, func.count(Interaction.id),
               func.coalesce(func.sum(case((Interaction.status == "done", 1), else_=0)), 0))
        .where(Interaction.distributor_id.is_not(None), Interaction.kind == "visit",
               Interaction.planned_on.is_not(None), Interaction.planned_on >= first,
               Interaction.planned_on <= month_last_day(first))
        .group_by(Interaction.distributor_id))
    result = {}
    for distributor_id, planned, done in rows:
        planned, done = int(planned), int(done)
        if not planned:
            continue
        rate = (Decimal(done) / Decimal(planned)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        result[distributor_id] = Component(_q(rate * HUNDRED), _clip(rate * HUNDRED),
                                           {"planned": planned, "done": done})
    return result


def satisfaction(first: date) -> dict[int, Component]:
    """The average 1-5 rating given in the month to each distributor's orders; (average - 1) / 4 x 100."""
    low, high = month_bounds_utc(first)
    rows = db.session.execute(
        select(Order.distributor_id, func.sum(OrderRating.score), func.count(OrderRating.id))
        .join(Order, Order.id == OrderRating.order_id)
        .where(Order.distributor_id.is_not(None), OrderRating.at >= low, OrderRating.at < high)
        .group_by(Order.distributor_id))
    result = {}
    for distributor_id, total, count in rows:
        if not count:
            continue
        average = Decimal(int(total)) / Decimal(int(count))
        result[distributor_id] = Component(_q(average), _clip((average - 1) / 4 * HUNDRED),
                                           {"ratings": int(count), "sum": int(total)})
    return result


def on_time_delivery(first: date) -> dict[int, Component]:
    """Share of the month's deliveries made within ON_TIME_DAYS days of payment; share x 100."""
    low, high = month_bounds_utc(first)
    limit = timedelta(days=ON_TIME_DAYS)
    counts: dict[int, list[int]] = {}
    # One query for every distributor; the day arithmetic is done here, the same on SQLite and PostgreSQL.
    for distributor_id, paid_at, delivered_at in db.session.execute(
            select(Order.distributor_id, Order.paid_at, Order.delivered_at)
            .where(Order.distributor_id.is_not(None), Order.paid_at.is_not(None), Order.delivered_at >= low,
                   Order.delivered_at < high)):
        seen = counts.setdefault(distributor_id, [0, 0])
        seen[0] += 1
        seen[1] += delivered_at - paid_at <= limit
    result = {}
    for distributor_id, (delivered, on_time) in counts.items():
        share = Decimal(on_time) / Decimal(delivered)
        result[distributor_id] = Component(_q(share * HUNDRED), _clip(share * HUNDRED),
                                           {"delivered": delivered, "on_time": on_time})
    return result


def components(month) -> dict[int, dict[str, Component]]:
    """Every criterion of every distributor with any data in the month: {distributor_id: {criterion: Component}}."""
    first = _month(month)
    sales = sales_by_distributor(first)
    measured = {
        "target_attainment": target_attainment(first, sales),
        "sales_growth": sales_growth(first, sales),
        "return_rate": return_rate(first, sales),
        "stock_turnover": stock_turnover(first),
        "visit_compliance": visit_compliance(first),
        "satisfaction": satisfaction(first),
        "on_time_delivery": on_time_delivery(first),
    }
    result: dict[int, dict[str, Component]] = {}
    for code, by_distributor in measured.items():
        for distributor_id, component in by_distributor.items():
            result.setdefault(distributor_id, {})[code] = component
    return result


def composite(parts: dict[str, Component], weights: dict[str, Decimal]) -> Decimal | None:
    """sum(weight x points) / sum(weight) over the criteria with data; None when that sum of weights is 0."""
    used = [(weights.get(code, ZERO), c.points) for code, c in parts.items() if c.points is not None]
    total = sum((w for w, _p in used), ZERO)
    if total <= 0:
        return None
    return _q(sum((w * p for w, p in used), ZERO) / total)


# --- weights ------------------------------------------------------------------------------------------------

def weights() -> dict[str, Decimal]:
    """HQ's weight of every criterion (0 for one without a row)."""
    stored = {w.criterion: Decimal(w.weight) for w in db.session.scalars(select(ScorecardWeight))}
    return {code: stored.get(code, ZERO) for code in CRITERIA}


def may_manage(actor) -> bool:
    """HQ staff who edit distributors (distributors.manage with HQ scope) set weights and recompute."""
    return actor is not None and actor.can(MANAGE) and actor.can(HQ_SCOPE)


def require_manage(actor) -> None:
    """Forbidden unless the actor may set the scorecard's weights."""
    if not may_manage(actor):
        raise Forbidden()


def set_weights(actor, data: dict) -> dict[str, Decimal]:
    """Set every criterion's weight (0-100, at least one above 0; audited); ValidationError names the fields."""
    require_manage(actor)
    errors, parsed = {}, {}
    for code in CRITERIA:
        raw = str(data.get(code) if data.get(code) is not None else "").strip()
        try:
            value = Decimal(raw)
        except ArithmeticError:
            value = None
        if value is None or not value.is_finite() or not ZERO <= value <= HUNDRED or value != _q(value):
            errors[code] = [_("A number from 0 to 100, at most two decimals.")]
        else:
            parsed[code] = _q(value)
    if errors:
        raise ValidationError(fields=errors)
    if not any(parsed.values()):
        raise ValidationError(_("Give at least one criterion a weight above 0."))
    before = weights()
    rows = {w.criterion: w for w in db.session.scalars(select(ScorecardWeight))}
    for code, value in parsed.items():
        row = rows.get(code) or ScorecardWeight(criterion=code)
        row.weight, row.updated_by_id, row.updated_at = value, getattr(actor, "id", None), utcnow()
        db.session.add(row)
    db.session.flush()
    audit.record("scorecard.weights", "scorecard_weights", None, _("Scorecard weights changed"),
                 changes=audit.diff({k: str(v) for k, v in before.items()}, {k: str(v) for k, v in parsed.items()}),
                 actor=actor)
    return parsed


# --- computing and storing ----------------------------------------------------------------------------------

def compute_month(month) -> list[ScorecardScore]:
    """Compute and store (upsert) every distributor's score of a month; a rerun replaces the month's rows."""
    first = _month(month)
    period = month_name(first)
    used = weights()
    existing = {s.distributor_id: s for s in db.session.scalars(select(ScorecardScore)
                                                                .where(ScorecardScore.period == period))}
    now = utcnow()
    stored = []
    for distributor_id, parts in sorted(components(first).items()):
        score = composite(parts, used)
        if score is None:
            continue
        row = existing.pop(distributor_id, None) or ScorecardScore(distributor_id=distributor_id, period=period)
        row.score = score
        row.components = {code: {"value": None if c.value is None else str(c.value),
                                 "points": None if c.points is None else str(c.points), **c.detail}
                          for code, c in parts.items()}
        row.weights = {code: str(w) for code, w in used.items()}
        row.computed_at = now
        db.session.add(row)
        stored.append(row)
    if existing:  # no longer any data (an order moved, a target removed): the stale score goes
        for row in existing.values():
            db.session.delete(row)
    db.session.flush()
    return stored


def recompute(actor, month) -> list[ScorecardScore]:
    """HQ's recompute of one month from the page (audited); Forbidden for others."""
    require_manage(actor)
    first = _month(month)
    if first > current_month():
        raise ValidationError(fields={"period": [_("This month has not begun yet.")]})
    rows = compute_month(first)
    audit.record("scorecard.recompute", "scorecard", month_name(first),
                 _("Scorecard of %(period)s recomputed: %(n)d distributors", period=month_name(first), n=len(rows)),
                 actor=actor)
    return rows


def compute_last_month() -> int:
    """The monthly job: compute the month just ended (idempotent); returns how many scores it stored."""
    return len(compute_month(previous_month(current_month())))


register_periodic("dms.reports.scorecard.compute_last_month", cron="0 3 1 * *", queue="reports")


# --- reading ------------------------------------------------------------------------------------------------

def default_period() -> str:
    """The month shown by default: the one the monthly job last computed."""
    return month_name(previous_month(current_month()))


def ranking(actor, month) -> list[ScorecardScore]:
    """The scores of a month the actor may see, best first (a distributor sees its own only)."""
    period = month_name(_month(month))
    stmt = scoped(select(ScorecardScore).where(ScorecardScore.period == period), ScorecardScore.distributor_id, actor)
    return list(db.session.scalars(stmt.join(Distributor, Distributor.id == ScorecardScore.distributor_id)
                                   .order_by(ScorecardScore.score.desc(), Distributor.name, Distributor.id)))


def history_months(until: date | None = None, months: int = HISTORY_MONTHS) -> list[str]:
    """The names of the `months` months ending with `until` (default: last month), newest first."""
    first = until or previous_month(current_month())
    names = []
    for _n in range(months):
        names.append(month_name(first))
        first = previous_month(first)
    return names


def history(distributor_id: int, until: date | None = None, months: int = HISTORY_MONTHS) -> list[ScorecardScore]:
    """A distributor's stored scores of the last `months` months, newest first (the caller checks scope)."""
    names = history_months(until, months)
    return list(db.session.scalars(select(ScorecardScore).where(ScorecardScore.distributor_id == distributor_id,
                                                                ScorecardScore.period.in_(names))
                                   .order_by(ScorecardScore.period.desc())))


def build(actor, params: dict) -> dict:
    """The scorecard report's figures for the registry (PDF): the month's ranking, criteria and weights."""
    period = month_name(parse_month(params.get("period") or default_period()))
    return {"period": period, "period_label": period, "rows": ranking(actor, period), "weights": weights(),
            "criteria": CRITERIA, "labels": LABELS}


register_report(ReportDefinition(kind="scorecard", title=_l("Dealer scorecard"), endpoint="reports.scorecard",
                                 build="dms.reports.scorecard.build", pdf_template="reports/scorecard/pdf.html",
                                 orientation="landscape"))
