"""Sales forecasts (销售预测): weekly unit demand per product, overall, per distributor and per region.

The rules, also shown on the forecast page:

- Demand = units of completed sales: order lines of orders delivered or completed, never refunded, dated
  by their delivery time (their completion time when no delivery time was recorded).
- Weeks run Monday to Sunday in the business time zone (DMS_TIMEZONE) and are named by their Monday. A
  series runs from its first week with a sale (at most DMS_FORECAST_HISTORY_WEEKS, default 156, back)
  to the last complete week; weeks without sales count 0. The current week is forecast, not history.
- Scopes: "all" (every sale), "distributor" (the selling distributor; key = its id) and "region" (the
  province of the delivery address, or of the distributor's region when the order has none; key = the
  province code). Orders still waiting in HQ's queue have no distributor and count in "all" only.
- Two methods:
  * seasonal naive (the baseline): each week repeats the same week one season earlier; the season is
    52 weeks when the series has at least two years, else 4 weeks when it has at least 8 weeks, else
    the last value is repeated;
  * Holt-Winters (statsmodels ExponentialSmoothing): additive damped trend + additive 52-week season
    when the series fitted has at least two seasons (104 weeks); a damped trend without season from 10
    weeks; simple exponential smoothing below that. A constant series forecasts its constant; a fit
    that fails or gives a non-finite forecast falls back to the next simpler model. Forecasts are never
    below 0.
- Backtest: the last H weeks are held out (H = 8, or half the series when shorter; none under 4 weeks),
  each method is fitted on the weeks before and forecasts the held-out ones.
  MAPE = mean of |error| / actual over the held-out weeks with sales; WAPE = sum |error| / sum actual
  (both in %). The method with the lower WAPE (on a tie, or without a backtest, the seasonal naive)
  forecasts the next 12 weeks from the current week on.

Stored as SalesForecast rows: `mape`/`wape` are Holt-Winters' backtest, `baseline_mape`/`baseline_wape`
the seasonal naive's, `method` the one used. `refresh_forecasts()` (every Monday 04:00) and
`refresh_product()` (on demand from the page) upsert them, so a rerun changes nothing but the figures.
"""

import logging
import math
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import delete, func, literal_column, select

from dms.core.schedule import register
from dms.core.time import business_today, business_tz, utcnow
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.orders.models import Order, OrderLine
from dms.reports.models import SalesForecast

log = logging.getLogger(__name__)
SALE_STATES = ("delivered", "completed")
HORIZON = 12  # weeks forecast
HOLDOUT = 8  # weeks held out by the backtest
MIN_BACKTEST = 4  # shortest series that is backtested
SEASON = 52
SHORT_SEASON = 4
MIN_TREND = 10  # weeks needed for the damped-trend model
DEFAULT_HISTORY_WEEKS = 156
HOLT_WINTERS, SEASONAL_NAIVE = "holt_winters", "seasonal_naive"
METHODS = (HOLT_WINTERS, SEASONAL_NAIVE)
SCOPES = ("all", "distributor", "region")
MAX_PERCENT = Decimal("999999.99")  # what Numeric(8, 2) holds
CENT = Decimal("0.01")
# 1970-01-05 was a Monday: weeks are counted from it.
EPOCH_MONDAY = date(1970, 1, 5)
_EPOCH_MONDAY_SECONDS = 4 * 86400
_WEEK_SECONDS = 7 * 86400


# --- weeks ----------------------------------------------------------------------------------------

def week_of(day: date) -> date:
    """The Monday of the week a day falls in."""
    return day - timedelta(days=day.weekday())


def current_week() -> date:
    """The Monday of this business week (the first week forecast)."""
    return week_of(business_today())


def history_weeks() -> int:
    """How many weeks back a series may start (DMS_FORECAST_HISTORY_WEEKS, default 156 = three years)."""
    return max(8, int(current_app.config.get("DMS_FORECAST_HISTORY_WEEKS", DEFAULT_HISTORY_WEEKS)))


def _utc_epoch(day: date) -> int:
    """Seconds since the epoch of the UTC instant a business day begins."""
    return int(datetime.combine(day, time.min, tzinfo=business_tz()).timestamp())


def _offsets(low: int, high: int) -> list[tuple[int, int]]:
    """[(from epoch second, UTC offset in seconds)] of the business zone between two instants."""
    zone = business_tz()

    def offset(second: int) -> int:
        return int(datetime.fromtimestamp(second, UTC).astimezone(zone).utcoffset().total_seconds())

    changes = [(low, offset(low))]
    second = low
    while second < high:
        following = min(second + 86400, high)
        if offset(following) != changes[-1][1]:
            # Narrow the change down to the hour (zones move their clocks on the hour or half hour).
            lo, hi = second, following
            while hi - lo > 60:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == changes[-1][1] else (lo, mid)
            changes.append((hi, offset(hi)))
        second = following
    return changes


def _week_index(moment, low: int, high: int):
    """SQL: the business week (counted from EPOCH_MONDAY) of a naive-UTC timestamp column.

    Integer arithmetic on the epoch second plus the zone's offset in force then (a CASE over the zone's
    changes in the window, a constant for zones without summer time), so both databases group alike.
    Everything is inlined as literals, so the same expression can be selected and grouped by.
    """
    dialect = db.session.get_bind().dialect
    column = str(moment.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.name == "postgresql":
        epoch = f"CAST(floor(date_part('epoch', {column})) AS BIGINT)"
    else:
        epoch = f"CAST(strftime('%s', {column}) AS INTEGER)"
    changes = _offsets(low, high)
    offset = str(changes[0][1])
    if len(changes) > 1:
        branches = " ".join(f"WHEN {epoch} < {start} THEN {previous[1]}"
                            for previous, (start, _o) in zip(changes, changes[1:], strict=False))
        offset = f"CASE {branches} ELSE {changes[-1][1]} END"
    local = f"({epoch} + {offset} - {_EPOCH_MONDAY_SECONDS})"
    if dialect.name == "postgresql":
        return literal_column(f"CAST(floor({local} / {_WEEK_SECONDS}.0) AS INTEGER)")
    return literal_column(f"({local} / {_WEEK_SECONDS})")


def week_start(index: int) -> date:
    """The Monday of week number `index`."""
    return EPOCH_MONDAY + timedelta(weeks=int(index))


def province_of(code: str | None) -> str | None:
    """The province code (first two digits + 0000) of a region code."""
    return f"{code[:2]}0000" if code and len(code) >= 2 else None


# --- the demand series ----------------------------------------------------------------------------

def sale_moment():
    """The column a completed sale is dated by: delivery, else completion."""
    return func.coalesce(Order.delivered_at, Order.completed_at)


def weekly_demand(first: date, end: date, product_ids=None, distributor_id: int | None = None) -> dict:
    """(product id, scope, key) -> {Monday: units} of completed sales in the weeks [first, end), one aggregate.

    Every scope is built from one grouping (product, distributor, province, week); `distributor_id`
    narrows it to one distributor's sales (then only the "distributor" scope is meaningful).
    """
    low, high = _utc_epoch(first), _utc_epoch(end)
    moment = sale_moment()
    week = _week_index(moment, low - 86400, high + 86400).label("week")
    province = func.substr(func.coalesce(Order.ship_region_code, Distributor.region_code),
                           literal_column("1"), literal_column("2")).label("province")
    low_at = datetime.fromtimestamp(low, UTC).replace(tzinfo=None)
    high_at = datetime.fromtimestamp(high, UTC).replace(tzinfo=None)
    stmt = (select(OrderLine.product_id, Order.distributor_id, province, week, func.sum(OrderLine.quantity))
            .join(Order, Order.id == OrderLine.order_id)
            .outerjoin(Distributor, Distributor.id == Order.distributor_id)
            .where(Order.status.in_(SALE_STATES), Order.refunded_at.is_(None), moment >= low_at, moment < high_at)
            .group_by(OrderLine.product_id, Order.distributor_id, province, week))
    if product_ids is not None:
        stmt = stmt.where(OrderLine.product_id.in_(list(product_ids)))
    if distributor_id is not None:
        stmt = stmt.where(Order.distributor_id == distributor_id)
    series: dict = defaultdict(lambda: defaultdict(int))
    for product_id, seller, prefix, index, units in db.session.execute(stmt):
        monday = week_start(index)
        keys = [("all", "")]
        if seller is not None:
            keys.append(("distributor", str(seller)))
        if prefix:
            keys.append(("region", f"{prefix}0000"))
        for scope, key in keys:
            series[(product_id, scope, key)][monday] += int(units or 0)
    return series


def dense(points: dict, end: date, first: date | None = None) -> tuple[date | None, list[float]]:
    """(first Monday, weekly units up to the week before `end`), from the first week with a sale; gaps are 0."""
    weeks = [w for w, units in points.items() if units]
    start = first or (min(weeks) if weeks else None)
    if start is None or start >= end:
        return start, []
    count = (end - start).days // 7
    return start, [float(points.get(start + timedelta(weeks=n), 0)) for n in range(count)]


# --- the methods ----------------------------------------------------------------------------------

def season_length(weeks: int) -> int:
    """The seasonal naive's season for a series of that many weeks: 52, 4, or 1 (the last value)."""
    if weeks >= 2 * SEASON:
        return SEASON
    if weeks >= 2 * SHORT_SEASON:
        return SHORT_SEASON
    return 1


def seasonal_naive(history: list[float], steps: int) -> list[float]:
    """Each future week = the same week one season earlier (see season_length)."""
    if not history:
        return [0.0] * steps
    season = season_length(len(history))
    n = len(history)
    return [history[n - season + (h % season)] for h in range(steps)]


def smoothing_variant(weeks: int) -> str:
    """Which exponential-smoothing model a series of that many weeks gets: seasonal, trend or simple."""
    if weeks >= 2 * SEASON:
        return "seasonal"
    if weeks >= MIN_TREND:
        return "trend"
    return "simple" if weeks >= 2 else "last"


def _fit(history, variant: str, steps: int):
    import numpy as np
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = np.asarray(history, dtype=float)
    if variant == "seasonal":
        model = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add", seasonal_periods=SEASON,
                                     initialization_method="heuristic")
        fitted = model.fit(use_brute=False)
    elif variant == "trend":
        model = ExponentialSmoothing(y, trend="add", damped_trend=True, initialization_method="heuristic")
        fitted = model.fit(use_brute=False)
    else:
        fitted = ExponentialSmoothing(y, initialization_method="estimated").fit()
    values = np.asarray(fitted.forecast(steps), dtype=float)
    if values.shape != (steps,) or not np.all(np.isfinite(values)):
        raise ValueError("non-finite forecast")
    return [float(v) for v in values]


def holt_winters(history: list[float], steps: int) -> list[float]:
    """Exponential smoothing (see smoothing_variant), falling back to simpler models; never below 0."""
    if not history:
        return [0.0] * steps
    if min(history) == max(history):  # constant (zeros included): nothing to fit
        return [max(0.0, history[-1])] * steps
    order = ["seasonal", "trend", "simple"]
    variant = smoothing_variant(len(history))
    for candidate in order[order.index(variant):] if variant in order else []:
        try:
            with warnings.catch_warnings(), np_errstate():
                warnings.simplefilter("ignore")
                return [max(0.0, v) for v in _fit(history, candidate, steps)]
        except Exception:  # any numerical failure: try the simpler model
            log.debug("forecast: the %s model failed on %d weeks", candidate, len(history), exc_info=True)
    return [max(0.0, history[-1])] * steps


def np_errstate():
    """numpy floating-point errors silenced (a degenerate fit must not raise or print)."""
    import numpy as np

    return np.errstate(all="ignore")


FORECASTERS = {HOLT_WINTERS: holt_winters, SEASONAL_NAIVE: seasonal_naive}


# --- accuracy -------------------------------------------------------------------------------------

def _percent(value: float | None) -> Decimal | None:
    if value is None or not math.isfinite(value):
        return None
    return min(MAX_PERCENT, Decimal(str(value * 100)).quantize(CENT, ROUND_HALF_UP))


def accuracy(actual: list[float], predicted: list[float]) -> tuple[Decimal | None, Decimal | None]:
    """(MAPE, WAPE) in %: MAPE over the weeks with sales, WAPE = sum |error| / sum actual; None when undefined."""
    pairs = list(zip(actual, predicted, strict=True))
    with_sales = [abs(a - p) / a for a, p in pairs if a]
    mape = sum(with_sales) / len(with_sales) if with_sales else None
    total = sum(actual)
    wape = sum(abs(a - p) for a, p in pairs) / total if total else None
    return _percent(mape), _percent(wape)


def holdout_weeks(weeks: int) -> int:
    """How many final weeks the backtest holds out: 8, half a short series, 0 under MIN_BACKTEST."""
    return 0 if weeks < MIN_BACKTEST else min(HOLDOUT, weeks // 2)


@dataclass
class Backtest:
    """One method's backtest: its held-out forecast, MAPE, WAPE and total absolute error."""

    predicted: list
    mape: Decimal | None
    wape: Decimal | None
    error: float


@dataclass
class Result:
    """A series' forecast: the method used, the weeks ahead, and both methods' backtests."""

    method: str
    first_week: date
    weeks: list  # [(Monday, Decimal units)]
    history: list
    holdout: int
    backtests: dict = field(default_factory=dict)  # method -> Backtest


def backtest(history: list[float]) -> dict:
    """method -> Backtest on the last holdout_weeks() of `history` (empty when too short)."""
    held = holdout_weeks(len(history))
    if not held:
        return {}
    train, actual = history[:-held], history[-held:]
    results = {}
    for method, forecaster in FORECASTERS.items():
        predicted = forecaster(train, held)
        mape, wape = accuracy(actual, predicted)
        results[method] = Backtest(predicted, mape, wape, sum(abs(a - p) for a, p in zip(actual, predicted,
                                                                                         strict=True)))
    return results


def choose(backtests: dict) -> str:
    """The method with the lower WAPE (compared by total absolute error, the same denominator); naive on a tie."""
    if not backtests:
        return SEASONAL_NAIVE
    return HOLT_WINTERS if backtests[HOLT_WINTERS].error < backtests[SEASONAL_NAIVE].error else SEASONAL_NAIVE


def forecast_series(history: list[float], first_week: date, start: date, steps: int = HORIZON) -> Result:
    """Backtest both methods on `history` (weekly units from `first_week`), forecast `steps` weeks from `start`."""
    tests = backtest(history)
    method = choose(tests)
    values = FORECASTERS[method](history, steps)
    weeks = [(start + timedelta(weeks=n), Decimal(str(round(v, 2))).quantize(CENT, ROUND_HALF_UP))
             for n, v in enumerate(values)]
    return Result(method=method, first_week=first_week, weeks=weeks, history=history,
                  holdout=holdout_weeks(len(history)), backtests=tests)


# --- storing --------------------------------------------------------------------------------------

def store(product_id: int, scope: str, key: str, result: Result) -> SalesForecast:
    """Insert or update the forecast row of one series (flushes, never commits)."""
    row = db.session.scalar(select(SalesForecast).where(SalesForecast.product_id == product_id,
                                                        SalesForecast.scope == scope, SalesForecast.scope_key == key))
    if row is None:
        row = SalesForecast(product_id=product_id, scope=scope, scope_key=key)
        db.session.add(row)
    hw, naive = result.backtests.get(HOLT_WINTERS), result.backtests.get(SEASONAL_NAIVE)
    row.method = result.method
    row.weeks = [{"week": w.isoformat(), "units": str(u)} for w, u in result.weeks]
    row.history_weeks = len(result.history)
    row.mape, row.wape = (hw.mape, hw.wape) if hw else (None, None)
    row.baseline_mape, row.baseline_wape = (naive.mape, naive.wape) if naive else (None, None)
    row.computed_at = utcnow()
    db.session.flush()
    return row


def _refresh(product_ids=None) -> int:
    """Recompute the forecasts of these products (all when None); drop those whose series has no sale left."""
    start = current_week()
    first = start - timedelta(weeks=history_weeks())
    demand = weekly_demand(first, start, product_ids)
    kept = set()
    for (product_id, scope, key), points in sorted(demand.items()):
        first_week, history = dense(points, start)
        if not history:
            continue
        store(product_id, scope, key, forecast_series(history, first_week, start))
        kept.add((product_id, scope, key))
    existing = select(SalesForecast.id, SalesForecast.product_id, SalesForecast.scope, SalesForecast.scope_key)
    if product_ids is not None:
        existing = existing.where(SalesForecast.product_id.in_(list(product_ids)))
    stale = [r.id for r in db.session.execute(existing) if (r.product_id, r.scope, r.scope_key) not in kept]
    if stale:
        db.session.execute(delete(SalesForecast).where(SalesForecast.id.in_(stale)))
    db.session.flush()
    return len(kept)


def refresh_forecasts() -> int:
    """The weekly job: recompute every product's forecasts (all, per distributor, per region); idempotent."""
    return _refresh()


def refresh_product(actor, product_id: int) -> int:
    """Recompute one product's forecasts now (HQ only); raises Forbidden for anyone else."""
    from dms.core.errors import Forbidden
    from dms.core.scope import HQ_SCOPE

    if actor is None or not actor.can(HQ_SCOPE):
        raise Forbidden()
    return _refresh([product_id])


# A whole catalogue may take minutes (tens of milliseconds per series): well above RQ's default timeout.
register("dms.reports.forecast.refresh_forecasts", cron="0 4 * * 1", queue="default", timeout=3600)
