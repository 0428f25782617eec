"""Queued PDF reports: Chinese text in the shipped, embedded font (even with no system font at all), one file
per report however often its job runs, a fetcher that reads nothing outside static/, downloads scoped to the
report's distributor, "my reports", and the monthly performance reports made once and announced."""

import os
import subprocess
import sys
import textwrap
import threading
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from dms.core import jobs, pdf
from dms.core.models import Job, Notification
from dms.extensions import db
from dms.reports import pdf_jobs, performance_report
from dms.reports.models import ReportFile

D = Decimal
ROOT = Path(__file__).resolve().parents[2]
SHIPPED_FONT = ROOT / "static" / "fonts" / "NotoSansSC-DMS-Regular.otf"
COMPANY = "华南水务集团"


@pytest.fixture
def reports(app, tmp_path, monkeypatch):
    """Reports go to a temporary folder; the company has a Chinese name."""
    folder = tmp_path / "reports"
    monkeypatch.setitem(app.config, "REPORT_FOLDER", str(folder))
    monkeypatch.setitem(app.config, "DMS_COMPANY_NAME", COMPANY)
    return folder


@pytest.fixture
def sale(app, make_product):
    """sale(distributor, amount, at, status="completed", quantity=1, product=None) -> Order (ORM, no state machine)."""
    from dms.orders.models import Order, OrderLine

    def make(distributor, amount="100.00", at=datetime(2026, 10, 10, 4), status="completed", quantity=1, product=None):
        product = product or make_product()
        order = Order(distributor_id=distributor.id, status=status, created_at=at, completed_at=at,
                      delivered_at=at if status in ("delivered", "completed") else None,
                      ship_name="客户", ship_phone="13800000000", subtotal=D(amount), total=D(amount))
        order.lines.append(OrderLine(product_id=product.id, quantity=quantity, unit_price=D(amount) / quantity,
                                     amount=D(amount)))
        db.session.add(order)
        db.session.commit()
        return order

    return make


@pytest.fixture
def shop(make_distributor, make_user):
    """番禺水站 and its staff user (Chinese interface)."""
    distributor = make_distributor("440113", name="番禺水站")
    return distributor, make_user("distributor", username="panyu", distributor_id=distributor.id)


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def pdf_fonts(path) -> list[list[str]]:
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True).stdout
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


def files(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def ask(user, params=None, locale="zh_CN"):
    """Request the performance report as `user` and run its job (in-process, at commit)."""
    report_file = pdf_jobs.request_report(user, "performance", params or {"month": "2026-10"}, locale=locale)
    report_file_id = report_file.id
    jobs.commit()
    db.session.expire_all()
    return db.session.get(ReportFile, report_file_id)


# --- the document ----------------------------------------------------------------------------------------

def test_the_shipped_font_is_a_subset_with_every_gb2312_character():
    from fontTools.ttLib import TTFont

    assert 1_000_000 < SHIPPED_FONT.stat().st_size < 8_000_000
    assert (SHIPPED_FONT.parent / "OFL.txt").read_text().count("SIL OPEN FONT LICENSE") == 1
    cmap = TTFont(SHIPPED_FONT).getBestCmap()
    for text in ("经销商月度经营报告番禺水站", "，。：；（）￥％", "ABCxyz0123"):
        assert all(ord(c) in cmap for c in text), text
    missing = [bytes([a, b]).decode("gb2312") for a in range(0xB0, 0xF8) for b in range(0xA1, 0xFF)
               if not (a == 0xD7 and b > 0xF9)]
    assert len(missing) == 6763
    assert not [c for c in missing if ord(c) not in cmap]


def test_the_performance_pdf_has_chinese_text_in_the_embedded_shipped_font(app, reports, shop, sale):
    distributor, user = shop
    sale(distributor, "300.00", datetime(2026, 10, 10, 4), quantity=3)
    report_file = ask(user)
    assert report_file.job.status == "finished", report_file.job.error
    path = reports / "reports" / f"report-{report_file.id}.pdf"
    assert report_file.filename == path.name and report_file.pages == 1 and report_file.size == path.stat().st_size
    assert report_file.finished_at is not None
    assert report_file.job.result["download_url"] == f"/reports/files/{report_file.id}.pdf"
    assert path.read_bytes().startswith(b"%PDF-")
    text = pdf_text(path)
    with force_locale("zh_CN"):
        title = str(performance_report.DEFINITION.title)
    assert title in text and "番禺水站" in text and COMPANY in text
    assert "2026-10" in text and "¥300.00" in text
    fonts = pdf_fonts(path)
    assert fonts, "no font in the PDF"
    # Every font is the shipped one (the chart's text too), embedded (the `emb` column).
    assert all("DMS-Sans-SC" in row[0] for row in fonts), fonts
    assert all(row[-5] == "yes" for row in fonts), fonts


def test_a_fresh_machine_without_any_font_still_prints_chinese(app, reports, shop, tmp_path):
    """A subprocess whose fontconfig knows no font directory: only the shipped font can draw the text."""
    distributor, user = shop
    report_file = pdf_jobs.request_report(user, "performance", {"month": "2026-10"}, locale="zh_CN")
    db.session.commit()  # no dispatch: the HTML is rendered here, the PDF in the subprocess
    definition = performance_report.DEFINITION
    with force_locale("zh_CN"):
        html = pdf_jobs.report_html(report_file, performance_report.build(user, {"month": "2026-10"}), definition)
    (tmp_path / "report.html").write_text(html, encoding="utf-8")
    config = tmp_path / "fonts.conf"
    config.write_text('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n'
                      f"<fontconfig><cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>\n")
    env = {**os.environ, "FONTCONFIG_FILE": str(config), "DMS_ENV": "testing", "PYTHONPATH": str(ROOT)}
    env.pop("FONTCONFIG_PATH", None)
    assert subprocess.run(["fc-list"], env=env, capture_output=True, text=True).stdout.strip() == ""
    script = textwrap.dedent(f"""
        from pathlib import Path
        from dms import create_app
        from dms.core.pdf import render_pdf
        app = create_app({{"SQLALCHEMY_DATABASE_URI": "sqlite://"}})
        with app.app_context():
            html = Path({str(tmp_path / 'report.html')!r}).read_text(encoding="utf-8")
            Path({str(tmp_path / 'fresh.pdf')!r}).write_bytes(render_pdf(html))
    """)
    run = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    text = pdf_text(tmp_path / "fresh.pdf")
    assert "番禺水站" in text and COMPANY in text
    fonts = pdf_fonts(tmp_path / "fresh.pdf")
    assert [row[0].split("+")[-1] for row in fonts] == ["DMS-Sans-SC"], fonts
    assert fonts[0][-5] == "yes"


def test_the_performance_figures(app, reports, shop, sale, make_product):
    from dms.customers.models import Customer
    from dms.distributors.models import DistributorTarget
    from dms.orders.models import OrderRating

    distributor, user = shop
    water = make_product(name="桶装水 19L")
    first = sale(distributor, "300.00", datetime(2026, 10, 10, 4), quantity=3, product=water)
    sale(distributor, "120.00", datetime(2026, 10, 31, 15), status="delivered")  # 23:00 in Shanghai: October
    sale(distributor, "999.00", datetime(2026, 10, 12), status="refunded")
    sale(distributor, "50.00", datetime(2026, 10, 31, 17))  # November 1st in Shanghai
    db.session.add_all([DistributorTarget(distributor_id=distributor.id, period="month",
                                          period_start=datetime(2026, 10, 1).date(), amount=D("840.00"), quantity=8),
                        OrderRating(order_id=first.id, score=4, at=datetime(2026, 10, 11)),
                        Customer(distributor_id=distributor.id, name="王阿姨", created_at=datetime(2026, 10, 3))])
    db.session.commit()
    figures = performance_report.build(user, {"month": "2026-10", "distributor_id": "999"})  # ignored for them
    assert figures["distributor"].id == distributor.id
    assert (figures["orders"], figures["sales"], figures["units"]) == (2, D("420.00"), 4)
    assert figures["sales_attainment"] == D("50.0") and figures["units_attainment"] == D("50.0")
    assert figures["average_rating"] == D("4.00") and figures["ratings"] == 1 and figures["new_customers"] == 1
    assert figures["top_products"][0]["name"] == "桶装水 19L" and figures["top_products"][0]["units"] == 3
    assert [day.day for day, _amount in figures["daily"]] == [10, 31]
    assert "<svg" in figures["chart"] and "<polyline" in figures["chart"]


def test_hq_names_the_distributor_and_bad_parameters_are_refused(app, reports, shop, make_user):
    from dms.core.errors import NotFound, ValidationError

    distributor, _user = shop
    admin = make_user("admin")
    with pytest.raises(ValidationError):
        performance_report.build(admin, {"month": "2026-10"})
    with pytest.raises(NotFound):
        performance_report.build(admin, {"month": "2026-10", "distributor_id": "99999"})
    assert performance_report.build(admin, {"month": "2026-10", "distributor_id": str(distributor.id)})["orders"] == 0
    for kind, params in (("nope", {}), ("performance", {"month": "2026-13"}),
                         ("performance", {"distributor_id": "x"}), ("performance", {"Bad Name": "1"})):
        with pytest.raises(ValidationError):
            pdf_jobs.request_report(admin, kind, params, locale="zh_CN")


# --- one file per report -----------------------------------------------------------------------------------

def test_a_retried_job_rewrites_its_one_file(app, reports, shop):
    _distributor, user = shop
    report_file = ask(user)
    path = reports / "reports" / f"report-{report_file.id}.pdf"
    first = path.stat().st_mtime_ns
    pdf_jobs.render_report(report_file.id)  # the job delivered a second time
    db.session.commit()
    assert files(reports) == [path.name]  # no second file, no temporary left behind
    assert path.stat().st_mtime_ns >= first

    # Asking again for the same report hands back the same row and queues nothing.
    again = pdf_jobs.request_report(user, "performance", {"month": "2026-10"}, locale="zh_CN")
    assert again.id == report_file.id
    assert db.session.scalar(select(func.count(Job.id))) == 1

    # A failed job (or a lost file) gets a new attempt, which writes the same file.
    report_file.job.status = "failed"
    db.session.commit()
    path.unlink()
    again = ask(user)
    assert again.id == report_file.id and again.job.key == f"report:{report_file.id}:2"
    assert again.job.status == "finished"
    assert files(reports) == [path.name]
    assert db.session.scalar(select(func.count(ReportFile.id))) == 1


def test_regenerating_rewrites_the_same_file(app, reports, client, login_as, shop):
    _distributor, user = shop
    report_file = ask(user)
    login_as(user)
    answer = client.post("/reports/pdf", {"kind": "performance", "params": "month=2026-10", "refresh": "1"},
                         htmx=True)
    assert 'data-state="ready"' in answer.get_data(as_text=True) and "refresh-report" in answer.get_data(as_text=True)
    again = db.session.get(ReportFile, report_file.id)
    assert again.job.key == f"report:{report_file.id}:2" and again.job.status == "finished"
    assert db.session.scalar(select(func.count(Job.id))) == 2
    assert files(reports) == [f"report-{report_file.id}.pdf"]


def test_the_key_tells_reports_apart_by_parameters_scope_and_language(app, reports, shop, make_distributor,
                                                                        make_user):
    _distributor, user = shop
    other = make_user("distributor", distributor_id=make_distributor().id)
    rows = {pdf_jobs.request_report(user, "performance", {"month": "2026-10"}, locale="zh_CN").id,
            pdf_jobs.request_report(user, "performance", {"month": "2026-10", "page": "2"}, locale="zh_CN").id,
            pdf_jobs.request_report(user, "performance", {"month": "2026-09"}, locale="zh_CN").id,
            pdf_jobs.request_report(user, "performance", {"month": "2026-10"}, locale="en").id,
            pdf_jobs.request_report(other, "performance", {"month": "2026-10"}, locale="zh_CN").id}
    assert len(rows) == 4  # `page` is not a parameter of the report


# --- the fetcher -------------------------------------------------------------------------------------------

class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - the handler's API
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_report_content_cannot_fetch_files_or_addresses(app):
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        fetcher = pdf.static_fetcher()
        data = pdf.render_pdf(f'<link rel="stylesheet" href="css/pdf.css"><img src="file:///etc/passwd">'
                              f'<img src="{url}/tracker.png"><link rel="stylesheet" href="{url}/x.css">'
                              f'<img src="../../../../etc/passwd"><p>报表</p>', fetcher)
    finally:
        server.shutdown()
    assert data.startswith(b"%PDF-")
    assert _Recorder.hits == []
    assert "file:///etc/passwd" in fetcher.refused
    assert f"{url}/tracker.png" in fetcher.refused and f"{url}/x.css" in fetcher.refused
    assert not any(u.endswith("css/pdf.css") or u.endswith(".otf") for u in fetcher.refused)  # ours load


def test_typed_names_are_text_in_the_report_not_markup(app, reports, make_distributor, make_user):
    distributor = make_distributor(name='<img src="file:///etc/passwd">水站')
    user = make_user("distributor", distributor_id=distributor.id)
    with force_locale("zh_CN"):
        html = pdf_jobs.report_html(pdf_jobs.request_report(user, "performance", {"month": "2026-10"}, "zh_CN"),
                                    performance_report.build(user, {"month": "2026-10"}),
                                    performance_report.DEFINITION)
    assert '<img src="file:///etc/passwd">' not in html and "&lt;img src=" in html


# --- the pages ----------------------------------------------------------------------------------------------

def test_request_follow_and_download_through_the_pages(app, reports, client, login_as, shop):
    distributor, user = shop
    login_as(user)
    page = client.get("/reports/performance?month=2026-10")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'data-testid="request-pdf"' in body and 'name="params" value="month=2026-10"' in body
    answer = client.post("/reports/pdf", {"kind": "performance", "params": "month=2026-10"}, htmx=True)
    assert answer.status_code == 200
    report_file = db.session.scalar(select(ReportFile))
    assert report_file.distributor_id == distributor.id and report_file.owner_id == user.id
    assert 'data-state="ready"' in answer.get_data(as_text=True)
    assert f"/reports/files/{report_file.id}.pdf" in answer.get_data(as_text=True)
    status = client.get(f"/reports/files/{report_file.id}/status", htmx=True)
    assert 'data-state="ready"' in status.get_data(as_text=True) and "hx-trigger" not in status.get_data(as_text=True)
    download = client.get(f"/reports/files/{report_file.id}.pdf")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert download.data.startswith(b"%PDF-")
    plain = client.post("/reports/pdf", {"kind": "performance", "params": "month=2026-10"})
    assert plain.status_code == 303 and plain.headers["Location"].endswith("/reports/mine")
    assert db.session.scalar(select(func.count(ReportFile.id))) == 1


def test_the_status_fragment_polls_while_the_job_works(app, reports, client, login_as, shop):
    _distributor, user = shop
    report_file = pdf_jobs.request_report(user, "performance", {"month": "2026-10"}, locale="zh_CN")
    db.session.commit()  # committed without dispatch: the job waits in the outbox
    login_as(user)
    body = client.get(f"/reports/files/{report_file.id}/status", htmx=True).get_data(as_text=True)
    assert 'data-state="working"' in body and 'hx-trigger="every 1s"' in body and "<progress" in body
    listing = client.get("/reports/mine").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in listing


def test_a_failed_job_offers_to_try_again(app, reports, client, login_as, shop, english):
    _distributor, user = shop
    report_file = pdf_jobs.request_report(user, "performance", {"month": "2026-10"}, locale="zh_CN")
    report_file.job.status = "failed"
    db.session.commit()
    login_as(user)
    body = client.get(f"/reports/files/{report_file.id}/status", htmx=True).get_data(as_text=True)
    assert 'data-state="failed"' in body and 'data-testid="retry-report"' in body
    again = client.post("/reports/pdf", {"kind": "performance", "params": "month=2026-10"}, htmx=True)
    assert 'data-state="ready"' in again.get_data(as_text=True)


def _client_of(app, user):
    """A fresh browser-like client logged in as `user`."""
    from tests.conftest import Client

    client = Client(app, app.test_client())
    client.get("/login")
    assert client.post("/login", {"username": user.username, "password": "correct-horse-battery"}).status_code == 302
    return client


def test_downloads_and_status_are_scoped_to_the_reports_distributor(app, reports, shop, make_distributor,
                                                                     make_user):
    distributor, user = shop
    report_file = ask(user)
    stranger = _client_of(app, make_user("distributor", distributor_id=make_distributor().id))
    assert stranger.get(f"/reports/files/{report_file.id}.pdf").status_code == 404
    assert stranger.get(f"/reports/files/{report_file.id}/status", htmx=True).status_code == 404
    assert "report-row" not in stranger.get("/reports/mine").get_data(as_text=True)
    colleague = _client_of(app, make_user("distributor", distributor_id=distributor.id))
    assert colleague.get(f"/reports/files/{report_file.id}.pdf").status_code == 200
    admin = _client_of(app, make_user("admin"))
    assert admin.get(f"/reports/files/{report_file.id}.pdf").status_code == 200
    assert admin.get("/reports/files/99999.pdf").status_code == 404


def test_a_report_not_yet_made_cannot_be_downloaded(app, reports, client, login_as, shop):
    _distributor, user = shop
    report_file = pdf_jobs.request_report(user, "performance", {"month": "2026-10"}, locale="zh_CN")
    db.session.commit()
    login_as(user)
    assert client.get(f"/reports/files/{report_file.id}.pdf").status_code == 404


def test_my_reports_lists_newest_first_with_an_empty_state(app, reports, client, login_as, shop, english):
    _distributor, user = shop
    login_as(user)
    empty = client.get("/reports/mine")
    assert empty.status_code == 200 and 'data-testid="no-reports"' in empty.get_data(as_text=True)
    older, newer = ask(user, {"month": "2026-09"}), ask(user, {"month": "2026-10"})
    body = client.get("/reports/mine").get_data(as_text=True)
    assert body.index(f'data-report-file="{newer.id}"') < body.index(f'data-report-file="{older.id}"')
    assert body.count('data-testid="download-report"') == 2
    assert "/reports/performance?month=2026-10" in body  # the report's own page
    fragment = client.get("/reports/mine?kind=performance&per_page=1", htmx=True).get_data(as_text=True)
    assert fragment.startswith('\n<div id="my-reports"') or fragment.lstrip().startswith("<div id=\"my-reports\"")
    assert fragment.count('data-testid="report-row"') == 1 and "rel=\"next\"" in fragment


def test_hq_sees_the_files_built_with_hqs_scope(app, reports, client, login_as, shop):
    distributor, user = shop
    ask(user)
    admin = login_as("admin")
    assert "report-row" not in client.get("/reports/mine").get_data(as_text=True)
    ask(admin, {"month": "2026-10", "distributor_id": str(distributor.id)})
    body = client.get("/reports/mine").get_data(as_text=True)
    assert body.count('data-testid="report-row"') == 1
    page = client.get(f"/reports/performance?distributor_id={distributor.id}&month=2026-10")
    assert page.status_code == 200 and "番禺水站" in page.get_data(as_text=True)
    assert client.get("/reports/performance?distributor_id=&month=2026-10").status_code == 200
    assert client.get("/reports/performance?distributor_id=1&month=2026-13").status_code == 422


def test_an_unknown_kind_is_refused(app, reports, client, login_as, shop):
    _distributor, user = shop
    login_as(user)
    assert client.post("/reports/pdf", {"kind": "nope", "params": ""}, htmx=True).status_code == 422
    assert db.session.scalar(select(func.count(ReportFile.id))) == 0


# --- the monthly job -----------------------------------------------------------------------------------------

def test_the_monthly_job_makes_one_report_per_active_distributor_once_and_notifies(
        app, reports, shop, make_distributor, make_user, monkeypatch):
    from dms.core.schedule import PERIODIC

    monkeypatch.setattr(performance_report, "default_month", lambda: "2026-10")
    distributor, user = shop
    colleague = make_user("distributor", distributor_id=distributor.id, locale="en")
    nobody = make_distributor(name="无人水站")  # no user: its report is made all the same
    make_distributor(name="暂停水站").status = "suspended"
    db.session.commit()
    result = performance_report.monthly_performance_reports()
    jobs.commit()
    assert result["distributors"] == 2
    rows = list(db.session.scalars(select(ReportFile).order_by(ReportFile.distributor_id)))
    assert [r.distributor_id for r in rows] == [distributor.id, nobody.id]
    assert all(r.job.status == "finished" for r in rows), [r.job.error for r in rows]
    assert rows[0].owner_id == user.id and rows[1].owner_id is None
    assert len(files(reports)) == 2
    notes = list(db.session.scalars(select(Notification).order_by(Notification.user_id)))
    assert [n.user_id for n in notes] == [user.id, colleague.id]
    assert {n.link for n in notes} == {f"/reports/files/{rows[0].id}.pdf"}
    assert "2026-10" in notes[0].title and "2026-10" in notes[1].title  # each in its reader's language

    performance_report.monthly_performance_reports()  # a second run (scheduler restart) changes nothing
    jobs.commit()
    assert db.session.scalar(select(func.count(ReportFile.id))) == 2
    assert db.session.scalar(select(func.count(Job.id))) == 2
    assert db.session.scalar(select(func.count(Notification.id))) == 2
    assert len(files(reports)) == 2

    periodic = next(p for p in PERIODIC if p.func == "dms.reports.performance_report.monthly_performance_reports")
    assert (periodic.cron, periodic.queue) == ("0 6 2 * *", "reports")


def test_the_monthly_job_announces_a_report_already_asked_for(app, reports, shop, monkeypatch):
    monkeypatch.setattr(performance_report, "default_month", lambda: "2026-10")
    _distributor, user = shop
    report_file = ask(user)  # the distributor printed October by hand before the 2nd
    performance_report.monthly_performance_reports()
    jobs.commit()
    assert db.session.scalar(select(func.count(ReportFile.id))) == 1
    assert [n.link for n in db.session.scalars(select(Notification))] == [f"/reports/files/{report_file.id}.pdf"]
