"""The activity score (RFM) and tiers: pure rules of the customers area, taking order figures as input.

The formula (shown on the customer page, figures from the orders area's `customer_stats`):

- Orders that count are those not cancelled and not refunded, dated by the business day they were placed.
- R (recency) from the days since the last such order: <= 7 days 5, <= 30 days 4, <= 90 days 3,
  <= 180 days 2, older 1.
- F (frequency) from the number of such orders in the last 365 days: >= 12 5, >= 6 4, >= 3 3, 2 2, 1 1.
  With none in the last 365 days the customer is not scored at all (no R, F, M, score or tier): a
  lapsed customer is "not active", not "tier C".
- M (monetary) from their totals in the last 365 days (CNY): >= 5000 5, >= 2000 4, >= 800 3, >= 200 2,
  less 1.
- score = R + F + M (3 to 15); tier = the rule with the highest minimum score not above the score.

"The last 365 days" are the 365 business days ending today (today and the 364 before it).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l

WINDOW_DAYS = 365
# (threshold, points), checked in order: the first band the figure falls in gives its points.
RECENCY_BANDS = ((7, 5), (30, 4), (90, 3), (180, 2))  # at most so many days -> points
FREQUENCY_BANDS = ((12, 5), (6, 4), (3, 3), (2, 2), (1, 1))  # at least so many orders -> points
MONETARY_BANDS = ((Decimal("5000"), 5), (Decimal("2000"), 4), (Decimal("800"), 3), (Decimal("200"), 2))

# The formula as the page shows it, one line per part.
FORMULA = (
    (_l("R — recency"), _l("days since the last order: ≤ 7 → 5, ≤ 30 → 4, ≤ 90 → 3, ≤ 180 → 2, older → 1")),
    (_l("F — frequency"), _l("orders in the last 365 days: ≥ 12 → 5, ≥ 6 → 4, ≥ 3 → 3, 2 → 2, 1 → 1; "
                            "none → not scored")),
    (_l("M — monetary"), _l("spent in the last 365 days (¥): ≥ 5000 → 5, ≥ 2000 → 4, ≥ 800 → 3, ≥ 200 → 2, "
                           "less → 1")),
    (_l("Score"), _l("R + F + M (3 to 15); the tier is the rule with the highest minimum score the score "
                     "reaches")),
)
FORMULA_NOTE = _l("Orders that count are those not cancelled or refunded. Recomputed every night.")


@dataclass(frozen=True)
class Rfm:
    """The three parts, their sum and the tier; all None for a customer without a recent order."""

    recency: int | None = None
    frequency: int | None = None
    monetary: int | None = None
    score: int | None = None
    tier: str | None = None


def window_start(today: date) -> date:
    """The first business day of the scoring window ending `today`."""
    return today - timedelta(days=WINDOW_DAYS - 1)


def recency_points(days: int) -> int:
    """R from the days since the last order."""
    return next((points for limit, points in RECENCY_BANDS if days <= limit), 1)


def frequency_points(orders: int) -> int | None:
    """F from the orders in the window; None when there were none (the customer is not scored)."""
    return next((points for least, points in FREQUENCY_BANDS if orders >= least), None)


def monetary_points(spend: Decimal) -> int:
    """M from the money spent in the window."""
    return next((points for least, points in MONETARY_BANDS if spend >= least), 1)


def tier_for(score: int | None, rules) -> str | None:
    """The code of the rule with the highest `min_score` not above `score`; None when none applies.

    `rules`: objects with `code` and `min_score` (CustomerTierRule rows or anything shaped so).
    """
    if score is None:
        return None
    reached = [rule for rule in rules if rule.min_score <= score]
    return max(reached, key=lambda rule: rule.min_score).code if reached else None


def score(last_order_day: date | None, orders_in_window: int, spend_in_window: Decimal, today: date,
          rules=()) -> Rfm:
    """The customer's RFM parts, score and tier from their figures as of `today`."""
    frequency = frequency_points(orders_in_window)
    if frequency is None or last_order_day is None:
        return Rfm()
    recency = recency_points(max(0, (today - last_order_day).days))
    monetary = monetary_points(spend_in_window or Decimal("0"))
    total = recency + frequency + monetary
    return Rfm(recency, frequency, monetary, total, tier_for(total, rules))
