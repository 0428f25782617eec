"""Lists: search, filters, sorting and pagination from the query string, for the list macro."""

from dataclasses import dataclass, field
from datetime import date
from math import ceil

from flask import request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from dms.extensions import db

MAX_PER_PAGE = 200


@dataclass
class Page:
    """One page of a list and everything the list macro needs to draw it."""

    items: list
    total: int
    page: int
    per_page: int
    q: str = ""
    sort: str = ""
    direction: str = "asc"
    filters: dict = field(default_factory=dict)
    endpoint: str = ""
    view_args: dict = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    def args(self, **changes) -> dict:
        """The current query arguments with some changed (None removes one)."""
        current = {"q": self.q or None, "sort": self.sort or None, "dir": self.direction if self.sort else None,
                   "page": self.page if self.page > 1 else None, **self.filters}
        current.update(changes)
        return {k: v for k, v in current.items() if v not in (None, "")}

    def url(self, **changes) -> str:
        return url_for(self.endpoint, **self.view_args, **self.args(**changes))

    def sort_url(self, column: str) -> str:
        direction = "desc" if self.sort == column and self.direction == "asc" else "asc"
        return self.url(sort=column, dir=direction, page=None)


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its wildcards escaped (use with escape="\\")."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def day_arg(name: str, errors: dict) -> date | None:
    """A day (YYYY-MM-DD) from the query string; a malformed one is reported in `errors` and not applied."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return date.fromisoformat(raw)
    except ValueError:
        pass
    errors[name] = _("A date such as 2026-05-01.")
    return None


def int_arg(name: str, default: int, low: int = 1, high: int | None = None) -> int:
    """An integer query argument, clamped; junk gives the default rather than an error."""
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    value = max(low, value)
    return min(value, high) if high else value


def paginate_list(stmt, *, search=(), sorts: dict | None = None, default_sort: str | None = None,
                  filters: dict | None = None, per_page: int = 25,
                  default_dir: str = "asc") -> Page:
    """Apply ?q=, ?sort=&dir=, filters and ?page=&per_page= to a select and run it.

    `search`: columns matched with a case-insensitive substring; `sorts`: name -> column;
    `filters`: arg name -> function(stmt, value) returning the narrowed statement;
    `default_dir`: the direction of the default sort ("desc" for newest-first lists).
    """
    q = (request.args.get("q") or "").strip()[:100]
    if q and search:
        pattern = contains_pattern(q)
        stmt = stmt.where(or_(*[col.ilike(pattern, escape="\\") for col in search]))
    applied = {}
    for name, apply in (filters or {}).items():
        value = (request.args.get(name) or "").strip()
        if value:
            stmt = apply(stmt, value)
            applied[name] = value
    sorts = sorts or {}
    sort = request.args.get("sort") or default_sort or ""
    direction = "desc" if (request.args.get("dir") or default_dir) == "desc" else "asc"
    if sort in sorts:
        col = sorts[sort]
        stmt = stmt.order_by(col.desc() if direction == "desc" else col.asc())
    else:
        sort = ""
    per_page = int_arg("per_page", per_page, 1, MAX_PER_PAGE)
    page = int_arg("page", 1)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, total=total or 0, page=page, per_page=per_page, q=q, sort=sort, direction=direction,
                filters=applied, endpoint=request.endpoint, view_args=dict(request.view_args or {}))
