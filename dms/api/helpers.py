"""Helpers for API views: the JSON body, and pages of a list (API.md "Conventions")."""

from flask import request
from flask_babel import gettext as _
from sqlalchemy import func, select

from dms.core.errors import BadRequest
from dms.extensions import db

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50


def json_body() -> dict:
    """The request's JSON object; BadRequest (400) when the body is missing, malformed or not an object."""
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise BadRequest(_("The body must be a JSON object."))
    return data


def _positive_int(name: str, default: int, high: int | None = None) -> int:
    """A query argument that must be a whole number from 1 (to `high`); BadRequest otherwise."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or int(raw) < 1 or (high and int(raw) > high):
        limit = _("a whole number from 1 to %(high)d", high=high) if high else _("a whole number from 1")
        raise BadRequest(_("%(name)s must be %(limit)s.", name=name, limit=limit), fields={name: [limit]})
    return int(raw)


def page_args(default_per_page: int = DEFAULT_PER_PAGE) -> tuple[int, int]:
    """?page= and ?per_page= (at most 200); BadRequest for anything else."""
    return _positive_int("page", 1), _positive_int("per_page", default_per_page, MAX_PER_PAGE)


def paginate(stmt, serialize, default_per_page: int = DEFAULT_PER_PAGE) -> dict:
    """Run a select one page at a time: {"items": [serialize(row)...], "page", "per_page", "total"}.

    The statement should be ordered (by a unique column last) so pages do not overlap.
    """
    page, per_page = page_args(default_per_page)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page))
    return {"items": [serialize(row) for row in rows], "page": page, "per_page": per_page, "total": total}
