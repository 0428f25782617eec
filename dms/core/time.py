"""Time helpers: store UTC, show and reason in the business time zone (DMS_TIMEZONE)."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def utcnow() -> datetime:
    """The current time as a naive UTC datetime (how every timestamp column stores it)."""
    return datetime.now(UTC).replace(tzinfo=None)


def business_tz() -> ZoneInfo:
    """The configured business time zone."""
    return ZoneInfo(current_app.config.get("DMS_TIMEZONE", "Asia/Shanghai"))


def business_today() -> date:
    """Today's date in the business time zone (business dates are in that zone)."""
    return datetime.now(business_tz()).date()


def business_day_bounds_utc(day: date) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of a business day, for filtering timestamp columns."""
    from datetime import time, timedelta

    start = datetime.combine(day, time.min, tzinfo=business_tz())
    end = start + timedelta(days=1)
    return start.astimezone(UTC).replace(tzinfo=None), end.astimezone(UTC).replace(tzinfo=None)
