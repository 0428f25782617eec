"""The SQL a piece of code runs, for the tests that count queries (no N+1) or look for OFFSET."""

from contextlib import contextmanager

from sqlalchemy import event

from dms.extensions import db


@contextmanager
def recorded_statements():
    """with recorded_statements() as seen: ... -> seen is [(statement, parameters)] of every execution."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def request_statements(client, url: str) -> list[str]:
    """The SQL statements one GET of `url` runs (the page must answer 200)."""
    with recorded_statements() as seen:
        response = client.get(url)
    assert response.status_code == 200
    return [statement for statement, _parameters in seen]


def assert_flat_queries(client, url: str, add_27, row_marker: str) -> str:
    """The list at `url` (showing 3 rows now) runs as many statements once add_27() has added 27 more rows,
    and few (<= 20): no N+1. Returns the page with the 30 rows."""
    few = request_statements(client, url)
    add_27()
    many = request_statements(client, url)
    html = client.get(url).get_data(as_text=True)
    assert html.count(row_marker) == 30
    assert len(many) == len(few) <= 20, "\n".join(many)
    return html
