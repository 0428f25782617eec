"""Rows: what can be a row's id, and inserting a row that another transaction may be inserting at the same
moment (a unique business key)."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dms.extensions import db

MAX_ID = 2**31 - 1  # the largest id an integer column holds: a bigger number names no row (and overflows a query)


def is_row_id(value) -> bool:
    """Whether `value` is an int (not a bool) that can be a row's id: 1 to MAX_ID."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def get_or_insert(row, *where) -> tuple[object, bool]:
    """The row of `row`'s model matching `where`, else `row` inserted (flushed): (the row, whether inserted).

    Two transactions may race for one key: the loser's insert fails inside a savepoint, so its own
    transaction survives and it takes the winner's row. (pysqlite's savepoints cannot be trusted without
    a prior BEGIN, and SQLite serialises writers anyway, so there the row is simply flushed.)
    """
    model = type(row)
    existing = db.session.scalar(select(model).where(*where))
    if existing is not None:
        return existing, False
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.add(row)
        db.session.flush()
        return row, True
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        existing = db.session.scalar(select(model).where(*where))
        if existing is None:
            raise
        return existing, False
    return row, True
