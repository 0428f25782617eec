"""Keyset pagination of the big lists (dms/core/listing.py): cursors forward and back, filters, the capped
count, shallow ?page= and the refusal to OFFSET deep, the options of the filters' selects."""

import re

import pytest
from flask import render_template_string
from sqlalchemy import select

from dms.core import listing
from dms.core.models import AuditLog
from dms.extensions import db
from tests.sql_recorder import recorded_statements

PAGINATION = '{% from "macros/list.html" import pagination %}{{ pagination(page, "#t") }}'


@pytest.fixture
def rows(app):
    """23 audit rows (ids ascending with time); every third is a 'login'. Returns their ids, newest first."""
    for n in range(23):
        db.session.add(AuditLog(action="login" if n % 3 == 0 else "edit", record_type="user", record_id=str(n),
                                summary=f"row {n}"))
    db.session.commit()
    return list(db.session.scalars(select(AuditLog.id).order_by(AuditLog.id.desc())))


def page_of(app, query: str, stmt=None, **kw) -> listing.Page:
    """The audit list's page for `query` (a query string), sorted by id newest first, keyset on."""
    stmt = stmt if stmt is not None else select(AuditLog)
    with app.test_request_context(f"/audit?{query}", headers={"Cookie": "dms_locale=en"}):
        page = listing.paginate_list(stmt, sorts={"created": AuditLog.id, "action": AuditLog.action},
                                     default_sort="created", default_dir="desc", keyset=AuditLog.id, **kw)
        page.html = render_template_string(PAGINATION, page=page)
        page.links = {rel: href.replace("&amp;", "&") for href, rel in
                      re.findall(r'<a href="([^"]+)"[^>]*rel="(prev|next)"', page.html)}
    return page


def query_of(url: str) -> str:
    return url.split("?", 1)[1] if "?" in url else ""


def ids(page) -> list[int]:
    return [row.id for row in page.items]


def test_next_links_walk_every_row_once_and_previous_links_walk_back(app, rows):
    seen, pages, query = [], [], "per_page=5"
    while True:
        page = page_of(app, query)
        pages.append(ids(page))
        seen += ids(page)
        assert page.keyset and page.page == len(pages)
        if "next" not in page.links:
            break
        assert "after=" in page.links["next"] and "offset" not in page.links["next"]
        query = query_of(page.links["next"])
    assert seen == rows and len(pages) == 5 and pages[-1] == rows[20:]
    back = []
    while "prev" in page.links:
        page = page_of(app, query_of(page.links["prev"]))
        back.append(ids(page))
    assert back == pages[-2::-1] and page.page == 1 and not page.has_prev


def test_a_cursor_page_never_offsets(app, rows):
    with recorded_statements() as statements:
        page = page_of(app, f"per_page=5&after={rows[9]}&page=3")
    assert ids(page) == rows[10:15] and page.page == 3 and page.has_prev and page.has_next
    # SQLite always writes "LIMIT ? OFFSET ?" (with 0); PostgreSQL writes OFFSET only when there is one.
    offsets = [params[-1] for sql, params in statements if sql.rstrip().endswith("OFFSET ?")]
    offsets += [sql for sql, _params in statements if "OFFSET %(" in sql]
    assert len(statements) == 2 and all(offset == 0 for offset in offsets)


def test_filters_apply_on_cursor_pages(app, rows):
    logins = [i for i in rows if db.session.get(AuditLog, i).action == "login"]
    with app.test_request_context("/audit?per_page=3&action=login"):
        stmt = select(AuditLog)
        first = listing.paginate_list(stmt, sorts={"created": AuditLog.id}, default_sort="created",
                                      default_dir="desc", keyset=AuditLog.id,
                                      filters={"action": lambda s, v: s.where(AuditLog.action == v)})
        next_url = first.next_url
    assert ids(first) == logins[:3] and first.total == len(logins) and "action=login" in next_url
    with app.test_request_context(next_url):
        second = listing.paginate_list(select(AuditLog), sorts={"created": AuditLog.id}, default_sort="created",
                                       default_dir="desc", keyset=AuditLog.id,
                                       filters={"action": lambda s, v: s.where(AuditLog.action == v)})
    assert ids(second) == logins[3:6]


def test_shallow_page_numbers_still_work(app, rows):
    page = page_of(app, "per_page=5&page=3")
    assert ids(page) == rows[10:15] and page.total == 23 and not page.capped
    assert "23 in all · page 3 of 5" in page.html


def test_the_count_stops_at_the_cap_and_deep_page_numbers_are_refused(app, rows, monkeypatch):
    monkeypatch.setattr(listing, "COUNT_CAP", 10)
    page = page_of(app, "per_page=5")
    assert page.total == 10 and page.capped and page.has_next
    assert "More than 10 · page 1<" in page.html
    deep = page_of(app, "per_page=5&page=3")  # rows 11-15: past the cap, so only a cursor reaches them
    assert deep.too_deep and deep.items == [] and 'data-testid="too-deep"' in deep.html
    assert 'data-testid="page-first"' in deep.html and not deep.has_prev
    by_cursor = page_of(app, f"per_page=5&after={rows[9]}&page=3")
    assert ids(by_cursor) == rows[10:15] and not by_cursor.too_deep


def test_another_sort_pages_by_offset_without_repeating_rows(app, rows):
    seen = []
    for n in (1, 2, 3, 4, 5):
        page = page_of(app, f"per_page=5&sort=action&dir=asc&page={n}")
        assert not page.keyset
        seen += ids(page)
    assert sorted(seen) == sorted(rows) and len(set(seen)) == 23


def test_capped_counts_count_each_value_in_one_statement(app, rows):
    with recorded_statements() as statements:
        counts, capped = listing.capped_counts(select(AuditLog), AuditLog.action, ["login", "edit", "none"], cap=10)
    assert counts == {"login": 8, "edit": 10, "none": 0} and capped == {"edit"} and len(statements) == 1
    assert listing.capped_count(select(AuditLog).where(AuditLog.action == "login"), cap=10) == (8, False)


def test_filter_options_are_escaped_and_the_applied_one_selected(app):
    with app.test_request_context("/audit?who=2"):
        page = listing.Page(items=[], total=0, page=1, per_page=25, filters={"who": "2"}, endpoint="core.list_audit")
        html = str(page.options("who", [("1", "<b>A&B</b>"), (2, "二")]))
    assert html == '<option value="1">&lt;b&gt;A&amp;B&lt;/b&gt;</option><option value="2" selected>二</option>'
