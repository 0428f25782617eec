"""A PDF report in a real browser: a distributor opens its monthly performance report, presses "PDF", watches
the job's progress (the status fragment polls itself), then downloads the file and finds it under My reports."""

import threading
import time

import pytest

from tests.browser.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def slow_jobs(app, monkeypatch):
    """Jobs run in-process 1.5 s after their commit (in a thread), so the page has a job in progress to show."""
    from dms.core import jobs

    def dispatch_later(ids):
        def run():
            time.sleep(1.5)
            with app.app_context():
                for job_id in ids:
                    jobs.run_in_process(job_id)

        threading.Thread(target=run, daemon=True).start()

    monkeypatch.setattr(jobs, "dispatch", dispatch_later)


@pytest.fixture
def setting(app, tmp_path, monkeypatch, make_user, make_distributor, make_product):
    """番禺水站 with one completed order in October 2026, and its staff user."""
    from datetime import datetime
    from decimal import Decimal

    from dms.extensions import db
    from dms.orders.models import Order, OrderLine

    monkeypatch.setitem(app.config, "REPORT_FOLDER", str(tmp_path / "reports"))
    shop = make_distributor("440113", name="番禺水站")
    water = make_product(name="桶装水 19L")
    order = Order(distributor_id=shop.id, status="completed", created_at=datetime(2026, 10, 9, 3),
                  delivered_at=datetime(2026, 10, 9, 4), completed_at=datetime(2026, 10, 9, 4), ship_name="王阿姨",
                  ship_phone="13912345678", subtotal=Decimal("36.00"), total=Decimal("36.00"))
    order.lines.append(OrderLine(product_id=water.id, quantity=2, unit_price=Decimal("18.00"), amount=Decimal("36.00")))
    db.session.add(order)
    db.session.commit()
    return {"shop": shop, "agent": make_user("distributor", username="panyu_agent", distributor_id=shop.id)}


def test_request_a_pdf_watch_its_progress_and_download_it(new_page, setting, slow_jobs, login, screenshot_dir):
    """Performance page -> PDF -> progress (polling) -> Download -> a real PDF -> listed under My reports."""
    from dms.extensions import db
    from dms.reports.models import ReportFile

    page = new_page(accept_downloads=True)
    login(page, setting["agent"], PASSWORD)
    page.goto("/reports/performance?month=2026-10")
    assert page.get_by_test_id("sales").inner_text().endswith("36.00")
    page.get_by_test_id("request-pdf").click()

    status = page.get_by_test_id("report-status")
    page.get_by_test_id("report-progress").wait_for()  # the job is queued: the fragment shows its progress
    assert status.get_attribute("data-state") == "working"
    page.screenshot(path=str(screenshot_dir / "pdf-report-progress.png"), full_page=True)

    link = page.get_by_test_id("download-report")
    link.wait_for(timeout=20_000)  # polled every second until the job finished
    assert status.get_attribute("data-state") == "ready"
    with page.expect_download() as info:
        link.click()
    download = info.value
    with open(download.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"
    db.session.expire_all()
    report_file = db.session.query(ReportFile).one()
    assert download.suggested_filename == f"performance-{report_file.id}.pdf"
    assert report_file.pages == 1 and report_file.distributor_id == setting["shop"].id

    page.goto("/reports/mine")
    row = page.locator(f"[data-testid=report-row][data-report-file='{report_file.id}']")
    assert row.get_attribute("data-state") == "ready"
    assert "番禺水站" in row.inner_text()
    page.screenshot(path=str(screenshot_dir / "pdf-report-my-reports.png"), full_page=True)
