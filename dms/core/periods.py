"""Calendar periods (months, quarters) in the business time zone, as the ledger and reports count them.

A month is named "YYYY-MM"; its UTC bounds [start, end) filter timestamp columns, which store UTC.
"""

import re
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import gettext as _

from dms.core.errors import ValidationError
from dms.core.time import business_today, business_tz

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value, field: str = "period") -> date:
    """The first day of the month "YYYY-MM"; raises ValidationError naming `field`."""
    match = _MONTH.match(str(value or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise ValidationError(fields={field: [_("Enter a month as YYYY-MM, for example 2026-11.")]})
    return date(int(match.group(1)), int(match.group(2)), 1)


def month_name(first: date) -> str:
    """The "YYYY-MM" name of the month starting on `first`."""
    return f"{first.year:04d}-{first.month:02d}"


def next_month(first: date) -> date:
    """The first day of the following month."""
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def previous_month(first: date) -> date:
    """The first day of the preceding month."""
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def month_last_day(first: date) -> date:
    """The last day of the month starting on `first`."""
    return next_month(first) - timedelta(days=1)


def month_of(moment: datetime) -> date:
    """The first day of the business month a UTC timestamp falls in."""
    local = moment.replace(tzinfo=UTC).astimezone(business_tz())
    return date(local.year, local.month, 1)


def business_date(moment: datetime) -> date:
    """The business-zone date of a naive UTC timestamp."""
    return moment.replace(tzinfo=UTC).astimezone(business_tz()).date()


def utc_start(day: date) -> datetime:
    """The naive UTC instant at which a business day begins."""
    return datetime.combine(day, time.min, tzinfo=business_tz()).astimezone(UTC).replace(tzinfo=None)


def month_bounds_utc(first: date) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a business month."""
    return utc_start(first), utc_start(next_month(first))


def quarter_start(first: date) -> date:
    """The first day of the quarter a month belongs to."""
    return date(first.year, (first.month - 1) // 3 * 3 + 1, 1)


def is_quarter_end(first: date) -> bool:
    """Whether the month closes a quarter (March, June, September, December)."""
    return first.month % 3 == 0


def current_month() -> date:
    """The first day of this business month."""
    today = business_today()
    return date(today.year, today.month, 1)
