"""The business day (DMS_TIMEZONE) of a stored naive-UTC timestamp, in Python and in SQL, so that reports
group by day in the database: PostgreSQL converts with timezone(); SQLite, which has no time zones, calls
a Python function registered on each of its connections."""

import sqlite3
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Date, event, literal
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from dms.core.time import business_tz


def local_day(moment: datetime) -> date:
    """The business day of a naive UTC timestamp."""
    return moment.replace(tzinfo=UTC).astimezone(business_tz()).date()


class _LocalDate(FunctionElement):
    """SQL: the business day (DMS_TIMEZONE) of a naive UTC timestamp column, as a DATE."""

    type = Date()
    inherit_cache = True
    name = "dms_local_date"


@compiles(_LocalDate, "postgresql")
def _local_date_postgresql(element, compiler, **kw):
    moment, zone = list(element.clauses)
    return f"CAST(timezone({compiler.process(zone, **kw)}, timezone('UTC', {compiler.process(moment, **kw)})) AS DATE)"


@compiles(_LocalDate)
def _local_date_other(element, compiler, **kw):
    # SQLite has no time zones: the Python function registered on every SQLite connection below.
    return f"dms_local_date({compiler.process(element.clauses, **kw)})"


def _sqlite_local_date(moment, zone):
    if moment is None:
        return None
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return value.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).date().isoformat()


@event.listens_for(Engine, "connect")
def _register_sqlite_functions(dbapi_connection, connection_record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("dms_local_date", 2, _sqlite_local_date, deterministic=True)


def local_date(moment):
    """SQL: the business day of a timestamp column, so reports group by day in the database."""
    return _LocalDate(moment, literal(business_tz().key))
