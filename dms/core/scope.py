"""Scoping of distributor-owned rows (DESIGN.md convention 9): one helper, used by every query."""

from sqlalchemy import false

from dms.core.errors import NotFound
from dms.extensions import db

HQ_SCOPE = "scope.all_distributors"


def scoped(stmt, column, actor):
    """Narrow a select to the rows `actor` may see: all for HQ, else their distributor's only."""
    if actor is not None and actor.can(HQ_SCOPE):
        return stmt
    distributor_id = getattr(actor, "distributor_id", None)
    return stmt.where(column == distributor_id) if distributor_id is not None else stmt.where(false())


def get_scoped(model, row_id, actor, column=None):
    """One row by id within the actor's scope; another distributor's row is NotFound, not Forbidden."""
    from sqlalchemy import select

    column = column if column is not None else model.distributor_id
    row = db.session.scalar(scoped(select(model).where(model.id == row_id), column, actor))
    if row is None:
        raise NotFound()
    return row
