"""Settlement pages with CSRF on: runs from the page, statements (scoped, confirm, pay), payouts and the bank file."""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from dms.commissions import ledger, settlement
from dms.commissions.models import CommissionEntry, SettlementRun, Statement
from dms.core.models import AuditLog, Job
from dms.core.periods import current_month, month_name, previous_month
from dms.extensions import db


@pytest.fixture
def settled(chain, completed_order, publish_rules):
    """October 2026 settled: the seller's statement of 100.00, the city's of 50.00 (one 1,000.00 order)."""
    seller, city = chain(2)
    publish_rules(rates=("10", "5"))
    order = completed_order(seller, amount="1000.00", completed_at=datetime(2026, 10, 10, 4))
    ledger.accrue_order(order.id)
    db.session.commit()
    settlement.run_now("2026-10")
    return seller, city, order


def statement_of(distributor) -> Statement:
    return db.session.scalars(select(Statement).where(Statement.distributor_id == distributor.id)).one()


def set_bank(distributor, bank="中国银行北京分行", holder="", account="6217000010001234567"):
    distributor.bank_name, distributor.bank_account_name, distributor.bank_account = bank, holder, account
    db.session.commit()


def test_a_distributor_sees_its_statements_and_404_for_anothers(client, english, login_distributor, settled):
    seller, city, order = settled
    mine, theirs = statement_of(seller), statement_of(city)
    login_distributor(seller)
    listed = client.get("/commissions/statements").get_data(as_text=True)
    assert mine.number in listed and theirs.number not in listed
    assert listed.count('data-testid="statement-row"') == 1
    page = client.get(f"/commissions/statements/{mine.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert mine.number in html and "100.00" in html and 'data-testid="line-row"' in html
    assert f'href="/orders/{order.id}"' in html
    assert "confirm-form" not in html and "pay-form" not in html
    assert client.get(f"/commissions/statements/{theirs.id}").status_code == 404
    assert client.get("/commissions/statements/999999").status_code == 404
    overview = client.get("/commissions").get_data(as_text=True)
    assert mine.number in overview
    # a distributor may not confirm its own statement, nor touch another's
    assert client.post(f"/commissions/statements/{mine.id}/confirm", {}).status_code == 403
    assert client.post(f"/commissions/statements/{theirs.id}/confirm", {}).status_code == 404
    assert client.get("/commissions/settlements").status_code == 403
    assert client.get("/commissions/payouts").status_code == 403
    assert client.get("/commissions/payouts.csv?period=2026-10").status_code == 403


def test_hq_lists_statements_with_filters_and_a_totals_row(client, english, login_as, settled):
    seller, city, _ = settled
    login_as("admin")
    html = client.get("/commissions/statements").get_data(as_text=True)
    assert html.count('data-testid="statement-row"') == 2
    assert 'data-testid="statement-totals"' in html and "150.00" in html
    assert "Total of 2 statements" in html
    one = client.get(f"/commissions/statements?distributor={city.id}").get_data(as_text=True)
    assert one.count('data-testid="statement-row"') == 1 and statement_of(city).number in one
    assert "Total of 1 statement" in one
    none = client.get("/commissions/statements?period=2026-09").get_data(as_text=True)
    assert "No statement matches." in none and "statement-totals" not in none
    drafts = client.get("/commissions/statements?status=paid").get_data(as_text=True)
    assert "No statement matches." in drafts
    fragment = client.get("/commissions/statements?status=draft", htmx=True).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="statements-table"')


def test_confirm_then_pay_a_statement(client, english, login_as, settled):
    seller, _, _ = settled
    statement = statement_of(seller)
    login_as("admin")
    page = client.get(f"/commissions/statements/{statement.id}").get_data(as_text=True)
    assert "confirm-form" in page and "pay-form" not in page and "data-confirm=" in page
    confirmed = client.post(f"/commissions/statements/{statement.id}/confirm", {})
    assert confirmed.status_code == 302
    assert statement_of(seller).status == "confirmed"
    again = client.post(f"/commissions/statements/{statement.id}/confirm", {}, htmx=True)
    assert again.status_code == 409
    assert "Only a draft statement can be confirmed." in again.get_data(as_text=True)
    page = client.get(f"/commissions/statements/{statement.id}").get_data(as_text=True)
    assert "pay-form" in page and f"Statement {statement.number} is confirmed." in page
    refused = client.post(f"/commissions/statements/{statement.id}/pay", {"paid_on": "2026-11-05", "reference": ""},
                          htmx=True)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="statement-detail"')
    assert "Give the bank&#39;s payment reference." in html and 'id="reference-errors"' in html
    bad_day = client.post(f"/commissions/statements/{statement.id}/pay", {"paid_on": "soon", "reference": "X1"})
    assert bad_day.status_code == 422 and "A date such as 2026-05-01." in bad_day.get_data(as_text=True)
    assert statement_of(seller).status == "confirmed"
    paid = client.post(f"/commissions/statements/{statement.id}/pay", {"paid_on": "2026-11-05",
                                                                       "reference": "BOC20261105-001"})
    assert paid.status_code == 302
    statement = statement_of(seller)
    assert (statement.status, statement.paid_on.isoformat(), statement.payment_reference) == (
        "paid", "2026-11-05", "BOC20261105-001")
    statuses = set(db.session.scalars(select(CommissionEntry.status)
                                      .where(CommissionEntry.statement_id == statement.id)))
    assert statuses == {"paid"}
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "statement.pay")) == 1
    page = client.get(f"/commissions/statements/{statement.id}").get_data(as_text=True)
    assert "BOC20261105-001" in page and "pay-form" not in page and 'data-testid="line-status">Paid' in page


def test_a_statements_lines_are_paginated(client, english, login_as, chain, completed_order, publish_rules):
    (seller,) = chain(1)
    publish_rules(rates=("10",))
    for day in (3, 4, 5):
        ledger.accrue_order(completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, day, 4)).id)
    db.session.commit()
    settlement.run_now("2026-10")
    statement = statement_of(seller)
    login_as("admin")
    html = client.get(f"/commissions/statements/{statement.id}?per_page=2").get_data(as_text=True)
    assert html.count('data-testid="line-row"') == 2 and "page 1 of 2" in html
    second = client.get(f"/commissions/statements/{statement.id}?per_page=2&page=2", htmx=True).get_data(as_text=True)
    assert second.lstrip().startswith('<div id="statement-lines"') and second.count('data-testid="line-row"') == 1
    assert client.get(f"/commissions/statements/{statement.id}?page=x&sort=zzz").status_code == 200


def test_a_negative_total_is_carried_into_the_next_statement(client, english, login_as, settled):
    seller, _, _ = settled
    login_as("admin")
    client.get("/commissions/adjustments/new")
    client.post("/commissions/adjustments/new", {"distributor_id": str(seller.id), "amount": "-150",
                                                 "reason": "多付冲回"})
    db.session.execute(CommissionEntry.__table__.update().where(CommissionEntry.kind == "adjustment")
                       .values(period="2026-11", available_on=datetime(2026, 11, 2).date()))
    db.session.commit()
    settlement.run_now("2026-11")
    november = db.session.scalars(select(Statement).where(Statement.distributor_id == seller.id,
                                                          Statement.period == "2026-11")).one()
    html = client.get(f"/commissions/statements/{november.id}").get_data(as_text=True)
    assert 'data-testid="carried-out"' in html and "-150.00" in html and "into the next statement" in html


def test_settling_a_month_from_the_page(client, english, login_as, chain, completed_order, publish_rules):
    (seller,) = chain(1)
    publish_rules(rates=("10",))
    ledger.accrue_order(completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 3, 4)).id)
    db.session.commit()
    login_as("admin")
    page = client.get("/commissions/settlements")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "run-form" in html and "No month has been settled yet." in html
    assert f'value="{month_name(previous_month(current_month()))}"' in html  # last month by default
    assert "creates nothing new" in html
    now = client.post("/commissions/settlements", {"period": month_name(current_month())}, htmx=True)
    assert now.status_code == 422
    assert now.get_data(as_text=True).lstrip().startswith('<section class="panel" id="run-form"')
    assert "A month can be settled once it is over." in now.get_data(as_text=True)
    junk = client.post("/commissions/settlements", {"period": "abc"})
    assert junk.status_code == 422 and "Enter a month as YYYY-MM" in junk.get_data(as_text=True)
    assert db.session.scalar(select(func.count(SettlementRun.id))) == 0
    started = client.post("/commissions/settlements", {"period": "2026-10"})
    assert started.status_code == 302 and started.headers["Location"].endswith("/commissions/settlements")
    run = db.session.scalars(select(SettlementRun)).one()
    assert (run.period, run.status, run.attempts, run.statements_created) == ("2026-10", "finished", 1, 1)
    listed = client.get("/commissions/settlements").get_data(as_text=True)
    assert 'data-state="finished"' in listed and f'href="/jobs/{run.job_id}"' in listed
    assert "hx-trigger=\"every 2s\"" not in listed  # a finished run does not poll
    assert "The settlement of 2026-10 has started." in listed
    rerun = client.post("/commissions/settlements", {"period": "2026-10"}, htmx=True)
    assert rerun.status_code == 204 and rerun.headers["HX-Redirect"].endswith("/commissions/settlements")
    run = db.session.scalars(select(SettlementRun)).one()
    assert (run.attempts, run.statements_created) == (2, 1)
    assert db.session.scalar(select(func.count(Statement.id))) == 1  # nothing new
    earlier = client.post("/commissions/settlements", {"period": "2026-09"})
    assert earlier.status_code == 422 and "Months are settled in order" in earlier.get_data(as_text=True)


def test_a_month_being_settled_answers_409_and_its_row_polls(client, english, login_as, make_user):
    admin = login_as("admin")
    job = Job(name="dms.commissions.settlement.settle_period", args=[1], queue="default", status="queued",
              owner_id=admin.id)
    db.session.add(job)
    db.session.flush()
    run = SettlementRun(period="2026-10", status="queued", attempts=1, job_id=job.id, distributors_total=4,
                        distributors_done=1)
    db.session.add(run)
    db.session.commit()
    busy = client.post("/commissions/settlements", {"period": "2026-10"}, htmx=True)
    assert busy.status_code == 409
    assert "This month is being settled already." in busy.get_data(as_text=True)
    row = client.get(f"/commissions/settlements/{run.id}/status", htmx=True)
    html = row.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="run-{run.id}"') and 'hx-trigger="every 2s"' in html
    assert "1 of 4" in html and 'data-state="queued"' in html
    job.status, job.error = "failed", "RuntimeError: boom"
    db.session.commit()
    html = client.get(f"/commissions/settlements/{run.id}/status", htmx=True).get_data(as_text=True)
    assert 'data-state="failed"' in html and "every 2s" not in html and "boom" in html
    assert client.get("/commissions/settlements/999/status", htmx=True).status_code == 404


def test_payouts_and_the_bank_file(client, english, login_as, settled):
    seller, city, _ = settled
    set_bank(seller, holder="王五")
    login_as("admin")
    for distributor in (seller, city):
        client.post(f"/commissions/statements/{statement_of(distributor).id}/confirm", {})
    page = client.get("/commissions/payouts?period=2026-10")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count('data-testid="payout-row"') == 2 and html.count('data-testid="no-bank-account"') == 1
    assert "6217000010001234567" not in html and "6217" in html  # masked on the page
    assert 'data-testid="missing-accounts"' in html and "1 confirmed payout has no bank account" in html
    assert "150.00" in html
    csv = client.get("/commissions/payouts.csv?period=2026-10")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.headers["Content-Disposition"].startswith('attachment; filename="payouts-2026-10-')
    number = statement_of(seller).number
    assert csv.get_data() == (
        "\ufeffstatement_number,distributor_id,payee_name,bank,account,amount,currency,reference\r\n"
        f"{number},{seller.id},王五,中国银行北京分行,6217000010001234567,100.00,CNY,DMS {number}\r\n").encode()
    set_bank(city, holder="", account="6222020200112233")
    client.post(f"/commissions/statements/{statement_of(seller).id}/pay", {"paid_on": "2026-11-05",
                                                                           "reference": "B-1"})
    rows = client.get("/commissions/payouts.csv?period=2026-10").get_data().decode("utf-8-sig").splitlines()
    city_number = statement_of(city).number
    assert rows[1:] == [f"{city_number},{city.id},{city.display_name},中国银行北京分行,6222020200112233,50.00,CNY,"
                        f"DMS {city_number}"]  # the paid one is out of the bank file, still on the page
    html = client.get("/commissions/payouts?period=2026-10").get_data(as_text=True)
    assert html.count('data-testid="payout-row"') == 2 and "B-1" in html


def test_a_formula_like_payee_is_escaped_in_the_bank_file(client, english, login_as, settled):
    seller, _, _ = settled
    set_bank(seller, holder="=HYPERLINK(1)")
    login_as("admin")
    client.post(f"/commissions/statements/{statement_of(seller).id}/confirm", {})
    rows = client.get("/commissions/payouts.csv?period=2026-10").get_data().decode("utf-8-sig").splitlines()
    assert ",'=HYPERLINK(1)," in rows[1]


@pytest.mark.parametrize("url", ["/commissions/payouts?period=abc", "/commissions/payouts?page=x",
                                 "/commissions/statements?period=abc&page=x", "/commissions/statements?distributor=x",
                                 "/commissions/settlements?page=x", "/commissions/payouts.csv?period=abc",
                                 "/commissions/payouts?period=2026-10&sort=x&dir=y"])
def test_bad_query_arguments_never_fail(client, english, login_as, settled, url):
    login_as("admin")
    response = client.get(url)
    assert response.status_code in (200, 400, 422), response.status_code
    if "period=abc" in url:
        assert response.status_code in (400, 422)
        assert "Enter a month as YYYY-MM" in response.get_data(as_text=True)


def test_the_payouts_default_to_last_month(client, english, login_as):
    login_as("admin")
    html = client.get("/commissions/payouts").get_data(as_text=True)
    assert month_name(previous_month(current_month())) in html
    assert "No confirmed or paid statement pays out in this month." in html

