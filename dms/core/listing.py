"""Lists: search, filters, sorting and pagination from the query string, for the list macro."""

from dataclasses import dataclass, field
from datetime import date
from html import escape
from math import ceil

from flask import request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import func, literal, literal_column, or_, select, union_all

from dms.extensions import db

MAX_PER_PAGE = 200
# Keyset lists count at most this many rows ("10,000+") and reach deeper pages by cursor only: counting
# or OFFSETting through a million-row table costs what the page itself should not.
COUNT_CAP = 10_000


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
    capped: bool = False  # `total` is a lower bound: there are more than COUNT_CAP rows
    keyset: bool = False  # prev/next are cursors (?before= / ?after= an id), not page numbers
    more_before: bool = False
    more_after: bool = False
    too_deep: bool = False  # ?page= asked past COUNT_CAP rows, which only cursors reach
    keep_per_page: bool = False  # the page size was asked for, so links keep it

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_prev(self) -> bool:
        if self.too_deep:  # the page before is as deep: offer the first page instead
            return False
        return self.more_before if self.keyset else self.page > 1

    @property
    def has_next(self) -> bool:
        return self.more_after if self.keyset else self.page < self.pages

    @property
    def prev_url(self) -> str:
        """The previous page: the rows just before the first shown (keyset) or page - 1."""
        if self.keyset and self.items:
            return self.url(before=self.items[0].id, page=self.page - 1 if self.page > 2 else None)
        return self.url(page=self.page - 1)

    @property
    def next_url(self) -> str:
        """The next page: the rows just after the last shown (keyset) or page + 1."""
        if self.keyset and self.items:
            return self.url(after=self.items[-1].id, page=self.page + 1)
        return self.url(page=self.page + 1)

    @property
    def first_url(self) -> str:
        return self.url(page=None)

    def options(self, name: str, choices) -> Markup:
        """The <option>s of a filter's select, the applied value selected.

        Built here rather than by a template loop: HQ's distributor filter has thousands of choices, and
        a Jinja loop over them cost more than the whole page's queries.
        """
        chosen = self.filters.get(name)
        return Markup("".join(  # noqa: S704 - every value and text is escaped
            f'<option value="{escape(str(value))}"{" selected" if chosen == str(value) else ""}>'
            f'{escape(str(text))}</option>' for value, text in choices))

    def args(self, **changes) -> dict:
        """The current query arguments with some changed (None removes one)."""
        current = {"q": self.q or None, "sort": self.sort or None, "dir": self.direction if self.sort else None,
                   "page": self.page if self.page > 1 else None,
                   "per_page": self.per_page if self.keep_per_page else None, **self.filters}
        current.update(changes)
        return {k: v for k, v in current.items() if v not in (None, "")}

    def url(self, **changes) -> str:
        return url_for(self.endpoint, **self.view_args, **self.args(**changes))

    def sort_url(self, column: str) -> str:
        direction = "desc" if self.sort == column and self.direction == "asc" else "asc"
        return self.url(sort=column, dir=direction, page=None)


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its wildcards escaped (use with escape="\\")."""
    # NUL dropped: PostgreSQL refuses it in a query, and no stored text can hold one.
    escaped = text.replace("\x00", "").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
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


def _first_rows(stmt, cap: int):
    """SELECT 1 for at most cap + 1 of `stmt`'s rows: what a capped count counts (an index-only scan, often)."""
    return (stmt.order_by(None).with_only_columns(literal_column("1"), maintain_column_froms=True)
            .limit(cap + 1).subquery())


def capped_count(stmt, cap: int | None = None) -> tuple[int, bool]:
    """How many rows `stmt` selects, counting at most cap + 1 of them: (count, True when there are more)."""
    cap = COUNT_CAP if cap is None else cap
    sub = _first_rows(stmt, cap)
    total = db.session.scalar(select(func.count()).select_from(sub)) or 0
    return min(total, cap), total > cap


def capped_counts(stmt, column, values, cap: int | None = None) -> tuple[dict, set]:
    """value -> how many rows of `stmt` have `column` = value, each counted up to `cap`, in one statement.

    Returns the counts and the set of values whose count reached the cap (shown as "10,000+").
    """
    cap = COUNT_CAP if cap is None else cap
    values = list(values)
    if not values:
        return {}, set()
    parts = []
    for value in values:
        sub = _first_rows(stmt.where(column == value), cap)
        parts.append(select(literal(value).label("value"), select(func.count()).select_from(sub)
                            .scalar_subquery().label("n")))
    rows = db.session.execute(union_all(*parts)).all()
    counts = {value: min(n or 0, cap) for value, n in rows}
    return counts, {value for value, n in rows if (n or 0) > cap}


def cursor_arg(name: str) -> int | None:
    """A keyset cursor (a row id) from the query string; junk gives none (the first page)."""
    raw = (request.args.get(name) or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < len(raw) <= 18 else None


def paginate_list(stmt, *, search=(), sorts: dict | None = None, default_sort: str | None = None,
                  filters: dict | None = None, per_page: int = 25,
                  default_dir: str = "asc", keyset=None) -> Page:
    """Apply ?q=, ?sort=&dir=, filters and ?page=&per_page= to a select and run it.

    `search`: columns matched with a case-insensitive substring; `sorts`: name -> column;
    `filters`: arg name -> function(stmt, value) returning the narrowed statement;
    `default_dir`: the direction of the default sort ("desc" for newest-first lists).

    `keyset`: the integer id column of a big list (the model's primary key, which `stmt` selects). Sorted
    by it, pages are found by seek (`?after=<id>` / `?before=<id>`: WHERE id < :after ORDER BY id DESC
    LIMIT n, through the index), never by OFFSET, so the 5,000th page costs what the first does; ?page=N
    still works while N pages stay within COUNT_CAP rows. The count stops at COUNT_CAP ("10,000+"). Other
    sorts fall back to OFFSET, also within COUNT_CAP rows.
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
    col = sorts.get(sort)
    if col is None:
        sort = ""
    per_page = int_arg("per_page", per_page, 1, MAX_PER_PAGE)
    page = int_arg("page", 1)
    found = dict(q=q, sort=sort, direction=direction, filters=applied, endpoint=request.endpoint,
                 view_args=dict(request.view_args or {}), per_page=per_page,
                 keep_per_page="per_page" in request.args)
    if keyset is None:
        if col is not None:
            stmt = stmt.order_by(col.desc() if direction == "desc" else col.asc())
        total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
        return Page(items=items, total=total or 0, page=page, **found)
    total, capped = capped_count(stmt)
    if col is not None and col is keyset:
        return _seek(stmt, keyset, direction, page, total, capped, found)
    if col is not None:  # another column: OFFSET, ties broken by id so pages neither repeat nor skip rows
        stmt = stmt.order_by(col.desc() if direction == "desc" else col.asc(),
                             keyset.desc() if direction == "desc" else keyset.asc())
    too_deep = (page - 1) * per_page >= COUNT_CAP
    items = [] if too_deep else list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    # `total` stops at COUNT_CAP, so the last page offered is the one holding the COUNT_CAP-th row.
    return Page(items=items, total=total, page=page, capped=capped, too_deep=too_deep, **found)


def _seek(stmt, key, direction: str, page: int, total: int, capped: bool, found: dict) -> Page:
    """One page of a list sorted by its id column, found from the ?after= / ?before= cursor (or shallow ?page=)."""
    per_page = found["per_page"]
    after, before = cursor_arg("after"), cursor_arg("before")
    forward, backward = (key.desc(), key.asc()) if direction == "desc" else (key.asc(), key.desc())

    def beyond(cursor):  # rows after `cursor` in the list's order
        return key < cursor if direction == "desc" else key > cursor

    def short_of(cursor):  # rows before `cursor` in the list's order
        return key > cursor if direction == "desc" else key < cursor

    if before is not None:
        rows = list(db.session.scalars(stmt.where(short_of(before)).order_by(backward).limit(per_page + 1)))
        more_before = len(rows) > per_page
        items = rows[:per_page][::-1]
        return Page(items=items, total=total, page=max(page, 2) if more_before else 1, capped=capped, keyset=True,
                    more_before=more_before, more_after=True, **found)
    too_deep = False
    if after is not None:
        stmt, more_before = stmt.where(beyond(after)), True
    else:
        # A shallow ?page=N is an OFFSET within COUNT_CAP rows; deeper pages are reached by cursor only.
        too_deep = (page - 1) * per_page >= COUNT_CAP
        stmt, more_before = stmt.offset((page - 1) * per_page), page > 1
        if too_deep:
            return Page(items=[], total=total, page=page, capped=capped, keyset=True, too_deep=True, **found)
    rows = list(db.session.scalars(stmt.order_by(forward).limit(per_page + 1)))
    return Page(items=rows[:per_page], total=total, page=page, capped=capped, keyset=True,
                more_before=more_before, more_after=len(rows) > per_page, **found)
