"""The statement PDF: a real PDF with Chinese text and an embedded CJK font, one file per statement state,
a fetcher that reads nothing outside static/, and downloads scoped to the statement's distributor."""

import re
import subprocess
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from dms.commissions import ledger, settlement, statement_pdf
from dms.commissions.models import CommissionEntry, Statement
from dms.core import pdf
from dms.core.models import Job
from dms.extensions import db


@pytest.fixture
def reports(app, tmp_path, monkeypatch):
    """Reports go to a temporary folder."""
    folder = tmp_path / "reports"
    monkeypatch.setitem(app.config, "REPORT_FOLDER", str(folder))
    return folder


@pytest.fixture
def settled(chain, completed_order, publish_rules):
    """October 2026 settled for a county seller (县代) under a city (市代): two orders; returns (seller, statement)."""
    seller, city = chain(2)
    publish_rules(rates=("10", "5"))
    for amount, day in (("300.00", 10), ("120.00", 12)):
        ledger.accrue_order(completed_order(seller, amount=amount, completed_at=datetime(2026, 10, day)).id)
    db.session.commit()
    settlement.run_now("2026-10")
    statement = db.session.scalar(select(Statement).where(Statement.distributor_id == seller.id))
    return seller, statement


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def pdf_fonts(path) -> list[str]:
    lines = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout.splitlines()
    return lines[2:]  # after the header and its rule


def files(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_the_job_writes_a_real_pdf_with_chinese_text(app, reports, settled):
    seller, statement = settled
    result = statement_pdf.render_statement_pdf(statement.id)
    path = reports / "statements" / f"{statement.number}-draft.pdf"
    assert result == {"statement_id": statement.id, "status": "draft", "file": path.name,
                      "download_url": f"/commissions/statements/{statement.id}/statement.pdf"}
    assert path.read_bytes().startswith(b"%PDF-")
    text = pdf_text(path)
    assert "县代" in text and statement.number in text
    first_order = db.session.scalar(select(func.min(CommissionEntry.order_id)))
    assert f"DD{first_order:06d}" in text  # the lines name their orders
    assert "¥42.00" in text  # 30.00 + 12.00: the total
    assert re.search(r"(?<!\d)1\D{1,12}1(?!\d)", text.rstrip().splitlines()[-1])  # the footer: page 1 of 1
    cjk = [line for line in pdf_fonts(path) if "CJK" in line or "SC" in line.split()[0]]
    assert cjk, pdf_fonts(path)
    assert all(line.split()[-5] == "yes" for line in cjk), cjk  # the `emb` column: embedded


def test_a_retried_job_overwrites_its_one_file(app, reports, settled):
    _seller, statement = settled
    statement_pdf.render_statement_pdf(statement.id)
    first = (reports / "statements" / f"{statement.number}-draft.pdf").stat().st_mtime_ns
    statement_pdf.render_statement_pdf(statement.id)
    assert files(reports) == [f"{statement.number}-draft.pdf"]  # no second file, no temporary left behind
    assert (reports / "statements" / f"{statement.number}-draft.pdf").stat().st_mtime_ns >= first


def test_each_state_of_a_statement_has_its_own_file(app, reports, settled):
    _seller, statement = settled
    statement_pdf.render_statement_pdf(statement.id)
    settlement.confirm(None, statement)
    db.session.commit()
    statement_pdf.render_statement_pdf(statement.id)
    assert files(reports) == [f"{statement.number}-confirmed.pdf", f"{statement.number}-draft.pdf"]
    assert statement_pdf.pdf_key(statement) == f"statement-pdf:{statement.id}:confirmed"


def test_a_long_statement_shows_the_first_lines_and_counts_the_rest(app, reports, settled, monkeypatch):
    _seller, statement = settled
    monkeypatch.setattr(statement_pdf, "MAX_LINES", 1)
    with force_locale("en"):
        html = statement_pdf.statement_html(statement)
    assert html.count('<td class="num">1</td>') == 1  # one line shown (level 1)
    assert "… and 1 more entries, see the entries list." in html
    assert "2 entries" in html  # the group still counts both


def test_page_numbers_come_from_css_counters(app):
    with force_locale("en"):
        assert str(statement_pdf.page_counter_css()) == '"Page " counter(page) " of " counter(pages)'
    from dms.core import pdf

    assert pdf._css_string('a"b\\c</style>') == '"a\\22 b\\5c c\\3c /style\\3e "'


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - the handler's API
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { color: red }")

    def log_message(self, *args):
        pass


@pytest.fixture
def web_server():
    """An HTTP server on 127.0.0.1 that records what it is asked for (it must be asked for nothing)."""
    _Recorder.hits = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_the_fetcher_refuses_everything_outside_static(app, web_server):
    html = f"""<html><head>
      <link rel="stylesheet" href="css/pdf.css">
      <link rel="stylesheet" href="{web_server}/steal.css">
      <style>@import url("file:///etc/passwd"); @import url("{web_server}/import.css");</style>
    </head><body><p>报表</p>
      <img src="file:///etc/passwd"><img src="../dms/config.py"><img src="https://example.invalid/x.png">
      <img src="data:image/png;base64,iVBORw0KGgo="><img src="file://otherhost/static/x.png">
    </body></html>"""
    fetcher = pdf.static_fetcher()
    data = pdf.render_pdf(html, fetcher)
    assert data.startswith(b"%PDF-")
    assert _Recorder.hits == []
    refused = set(fetcher.refused)
    assert {"file:///etc/passwd", f"{web_server}/steal.css", f"{web_server}/import.css",
            "https://example.invalid/x.png", "file://otherhost/static/x.png"} <= refused
    assert any(url.endswith("/dms/config.py") for url in refused)
    assert any(url.startswith("data:") for url in refused)
    assert not any(url.endswith("css/pdf.css") for url in refused)  # the static stylesheet was served


def test_a_symlink_in_static_cannot_lead_outside(app, tmp_path, monkeypatch):
    static = tmp_path / "static"
    static.mkdir()
    (static / "ok.css").write_text("p { color: blue }")
    (static / "leak.css").symlink_to("/etc/passwd")
    monkeypatch.setattr(app, "static_folder", str(static))
    fetcher = pdf.static_fetcher()
    pdf.render_pdf('<link rel="stylesheet" href="ok.css"><link rel="stylesheet" href="leak.css"><p>x</p>', fetcher)
    assert [url.rsplit("/", 1)[1] for url in fetcher.refused] == ["leak.css"]


def test_report_paths_are_fixed_and_plain(app, reports):
    assert pdf.report_path("statements", "ST202610-000001-draft") == reports / "statements" / \
        "ST202610-000001-draft.pdf"
    for kind, name in (("statements", "../x"), ("../etc", "x"), ("statements", "a/b"), ("statements", ".hidden"),
                       ("statements", "")):
        with pytest.raises(ValueError):
            pdf.report_path(kind, name)


def test_write_atomically_replaces_the_file(tmp_path):
    target = tmp_path / "a" / "b.pdf"
    pdf.write_atomically(target, b"one")
    pdf.write_atomically(target, b"two")
    assert target.read_bytes() == b"two" and files(tmp_path) == ["b.pdf"]


# --- the pages --------------------------------------------------------------------------------------------

def test_a_distributor_generates_and_downloads_its_own_statement(client, english, login_distributor, reports,
                                                                  settled):
    seller, statement = settled
    login_distributor(seller)
    download = f"/commissions/statements/{statement.id}/statement.pdf"
    assert client.get(download).status_code == 404  # not generated yet
    page = client.get(f"/commissions/statements/{statement.id}/pdf")
    assert page.status_code == 200 and 'data-testid="generate-pdf"' in page.get_data(as_text=True)
    response = client.post(f"/commissions/statements/{statement.id}/pdf", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="statement-pdf"' in html and "<html" not in html
    assert f'href="{download}"' in html and "Download PDF" in html  # the in-process job is done already
    job = db.session.scalar(select(Job).where(Job.key == f"statement-pdf:{statement.id}:draft"))
    assert job.queue == "reports" and job.status == "finished" and job.result["download_url"] == download
    got = client.get(download)
    assert got.status_code == 200 and got.mimetype == "application/pdf" and got.data.startswith(b"%PDF-")
    assert f"filename={statement.number}.pdf" in got.headers["Content-Disposition"]
    assert got.headers["Content-Disposition"].startswith("attachment")
    client.post(f"/commissions/statements/{statement.id}/pdf", htmx=True)  # asking again queues nothing
    assert db.session.scalar(select(func.count(Job.id)).where(Job.key.like("statement-pdf:%"))) == 1
    assert files(reports) == [f"{statement.number}-draft.pdf"]


def test_without_htmx_the_request_redirects_to_the_pdf_page(client, english, login_as, reports, settled):
    _seller, statement = settled
    login_as("admin")
    response = client.post(f"/commissions/statements/{statement.id}/pdf")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/commissions/statements/{statement.id}/pdf")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert statement.number in page and 'data-testid="download-pdf"' in page


def test_another_distributor_gets_404(client, login_distributor, reports, settled):
    _seller, statement = settled
    statement_pdf.render_statement_pdf(statement.id)  # the file exists: still not theirs
    login_distributor()
    for method, url in (("GET", f"/commissions/statements/{statement.id}/pdf"),
                        ("POST", f"/commissions/statements/{statement.id}/pdf"),
                        ("GET", f"/commissions/statements/{statement.id}/statement.pdf"),
                        ("GET", "/commissions/statements/999999/statement.pdf")):
        response = client.get(url) if method == "GET" else client.post(url, {})
        assert response.status_code == 404, (method, url)
    assert db.session.scalar(select(func.count(Job.id)).where(Job.key.like("statement-pdf:%"))) == 0


def test_pdf_pages_need_login(client, reports, settled):
    _seller, statement = settled
    response = client.get(f"/commissions/statements/{statement.id}/statement.pdf")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_fragment_polls_while_the_job_works(client, login_as, reports, settled):
    _seller, statement = settled
    db.session.add(Job(name="dms.commissions.statement_pdf.render_statement_pdf", args=[statement.id],
                       queue="reports", key=statement_pdf.pdf_key(statement), status="queued", progress=40))
    db.session.commit()
    login_as("admin")
    html = client.get(f"/commissions/statements/{statement.id}/pdf", htmx=True).get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in html and 'value="40"' in html and "generate-pdf" not in html


def test_a_failed_pdf_can_be_tried_again(client, english, login_as, reports, settled, monkeypatch):
    _seller, statement = settled
    login_as("admin")

    def broken(html, fetcher=None):
        raise RuntimeError("renderer down")

    with monkeypatch.context() as patch:
        patch.setattr(statement_pdf, "render_pdf", broken)
        html = client.post(f"/commissions/statements/{statement.id}/pdf", htmx=True).get_data(as_text=True)
    assert 'data-state="failed"' in html and "Try again" in html and "hx-trigger" not in html
    html = client.post(f"/commissions/statements/{statement.id}/pdf", htmx=True).get_data(as_text=True)
    assert 'data-state="ready"' in html
    job = db.session.scalar(select(Job).where(Job.key == statement_pdf.pdf_key(statement)))
    assert job.status == "finished" and job.error is None
    assert files(reports) == [f"{statement.number}-draft.pdf"]


def test_the_statement_page_block_renders_with_only_the_statement(app, reports, settled):
    from flask import render_template

    _seller, statement = settled
    with app.test_request_context():
        html = render_template("commissions/pdf/_statement_pdf.html", statement=statement)
    assert 'id="statement-pdf"' in html and "generate-pdf" in html
