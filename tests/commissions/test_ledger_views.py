"""Ledger pages with CSRF on: my commissions, HQ's overview, the entries with holds, manual adjustments."""

from datetime import datetime
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from dms.commissions import ledger
from dms.commissions.models import CommissionEntry
from dms.core.models import AuditLog
from dms.extensions import db


@pytest.fixture
def network(chain, completed_order, publish_rules):
    """A county seller under a city; one 1,000.00 order in October 2026: 100.00 to the seller, 50.00 to the city."""
    seller, city = chain(2)
    publish_rules(rates=("10", "5"))
    order = completed_order(seller, amount="1000.00", completed_at=datetime(2026, 10, 10, 4))
    ledger.accrue_order(order.id)
    db.session.commit()
    return seller, city, order


def entry_of(distributor):
    return db.session.scalars(select(CommissionEntry).where(CommissionEntry.beneficiary_id == distributor.id)).one()


def test_a_distributor_sees_its_own_balances_and_entries(client, english, login_distributor, network):
    seller, city, order = network
    login_distributor(seller)
    page = client.get("/commissions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "My commissions" in html
    assert 'data-testid="balance-payable"' in html and "100.00" in html
    assert "50.00" not in html  # the city's share is not the seller's
    assert f'href="/orders/{order.id}"' in html and f"DD{order.id:06d}" in html
    october = client.get("/commissions?period=2026-10").get_data(as_text=True)
    assert "100.00" in october
    september = client.get("/commissions?period=2026-09").get_data(as_text=True)
    assert "No commission in this month." in september and "100.00" not in september
    entries = client.get("/commissions/entries").get_data(as_text=True)
    assert entries.count('data-testid="entry-row"') == 1 and "hold-form" not in entries


def test_an_upline_sees_its_share_without_a_link_to_the_downlines_order(client, english, login_distributor,
                                                                        network):
    seller, city, order = network
    login_distributor(city)
    html = client.get("/commissions/entries").get_data(as_text=True)
    assert "50.00" in html and f"DD{order.id:06d}" in html
    assert f'href="/orders/{order.id}"' not in html  # the order is the seller's: its page would be 404
    # the distributor filter is HQ's; a distributor stays within its own rows whatever it asks
    other = client.get(f"/commissions/entries?distributor={seller.id}").get_data(as_text=True)
    assert "100.00" not in other and "50.00" in other


def test_hq_overview_sums_the_network(client, english, login_as, network):
    login_as("admin")
    html = client.get("/commissions").get_data(as_text=True)
    assert 'data-testid="sum-payable"' in html and "150.00" in html
    assert "No month has been settled yet." in html
    assert 'data-testid="new-adjustment"' in html
    assert 'data-testid="rules-link"' in html and 'href="/commissions/simulator"' in html


def test_the_reviewer_sees_everything_but_changes_nothing(client, english, login_as, network):
    seller, city, _ = network
    login_as("reviewer")
    html = client.get("/commissions/entries").get_data(as_text=True)
    assert html.count('data-testid="entry-row"') == 2 and "hold-form" not in html
    assert "new-adjustment" not in html
    entry = entry_of(seller)
    assert client.post(f"/commissions/entries/{entry.id}/hold", {"reason": "x"}).status_code == 403
    assert client.get("/commissions/adjustments/new").status_code == 403


def test_entries_filter_paginate_and_answer_their_fragment(client, english, login_as, network, completed_order):
    seller, city, order = network
    second = completed_order(seller, amount="200.00", completed_at=datetime(2026, 11, 3, 4))
    ledger.accrue_order(second.id)
    db.session.commit()
    login_as("admin")
    mine = client.get(f"/commissions/entries?distributor={city.id}").get_data(as_text=True)
    assert mine.count('data-testid="entry-row"') == 2 and "100.00" not in mine
    by_order = client.get(f"/commissions/entries?order=DD{second.id:06d}").get_data(as_text=True)
    assert by_order.count('data-testid="entry-row"') == 2 and "20.00" in by_order and "10.00" in by_order
    november = client.get("/commissions/entries?period=2026-11&kind=accrual&status=payable").get_data(as_text=True)
    assert november.count('data-testid="entry-row"') == 2
    paged = client.get("/commissions/entries?per_page=3").get_data(as_text=True)
    assert "page 1 of 2" in paged and 'rel="next"' in paged and paged.count('data-testid="entry-row"') == 3
    second_page = client.get("/commissions/entries?per_page=3&page=2").get_data(as_text=True)
    assert second_page.count('data-testid="entry-row"') == 1
    fragment = client.get("/commissions/entries?status=payable", htmx=True)
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="entries-table"')
    assert "HX-Request" in fragment.headers["Vary"]


@pytest.mark.parametrize("query", ["period=abc", "page=x", "per_page=-3", "order=abc", "distributor=x",
                                   "status=bogus&kind=bogus", "period=2026-13", "sort=nope&dir=up"])
def test_bad_query_arguments_never_fail(client, english, login_as, network, query):
    login_as("admin")
    for url in ("/commissions", "/commissions/entries"):
        response = client.get(f"{url}?{query}")
        assert response.status_code in (200, 400), (url, query)
    if query.startswith("period="):
        html = client.get(f"/commissions/entries?{query}").get_data(as_text=True)
        assert "Enter a month as YYYY-MM" in html


def test_a_bad_period_on_my_commissions_is_said_not_failed(client, english, login_distributor, network):
    seller, _, _ = network
    login_distributor(seller)
    response = client.get("/commissions?period=abc&page=x")
    assert response.status_code == 400
    assert "Enter a month as YYYY-MM" in response.get_data(as_text=True)


def test_hold_needs_a_reason_then_release(client, english, login_as, network):
    seller, _, _ = network
    entry = entry_of(seller)
    login_as("admin")
    client.get("/commissions/entries")
    refused = client.post(f"/commissions/entries/{entry.id}/hold", {"reason": " "}, htmx=True)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert html.lstrip().startswith(f'<tr id="entry-{entry.id}"') and "Say why the entry is held." in html
    assert entry_of(seller).status == "payable"
    held = client.post(f"/commissions/entries/{entry.id}/hold?status=payable", {"reason": "客户投诉核查"}, htmx=True)
    assert held.status_code == 200
    html = held.get_data(as_text=True)
    assert 'data-status="held"' in html and "客户投诉核查" in html and "release-form" in html
    assert "status=payable" in html  # the row's forms keep the list's filters
    assert (entry_of(seller).status, entry_of(seller).hold_reason) == ("held", "客户投诉核查")
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "commission.hold")) == 1
    again = client.post(f"/commissions/entries/{entry.id}/hold", {"reason": "again"}, htmx=True)
    assert again.status_code == 409  # a held entry is not held twice
    assert "Only an entry not yet on a statement can be held." in again.get_data(as_text=True)
    released = client.post(f"/commissions/entries/{entry.id}/release", {})
    assert released.status_code == 302 and released.headers["Location"].endswith("/commissions/entries")
    assert entry_of(seller).status == "payable"
    assert "The entry is released." in client.get("/commissions/entries").get_data(as_text=True)
    not_held = client.post(f"/commissions/entries/{entry.id}/release", {})
    assert not_held.status_code == 409 and "This entry is not held." in not_held.get_data(as_text=True)


def test_without_javascript_a_refused_hold_shows_the_list_with_the_error_in_its_row(client, english, login_as,
                                                                                   network):
    seller, _, _ = network
    entry = entry_of(seller)
    login_as("admin")
    client.get("/commissions/entries")
    refused = client.post(f"/commissions/entries/{entry.id}/hold?kind=accrual", {"reason": ""})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "<h1>Commission entries" in html and f'id="hold-reason-{entry.id}-errors"' in html
    assert html.count('data-testid="entry-row"') == 2  # the list it was sent from (kind=accrual)
    done = client.post(f"/commissions/entries/{entry.id}/hold?kind=accrual", {"reason": "核查"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/commissions/entries?kind=accrual")
    assert "The entry is held" in client.get(done.headers["Location"]).get_data(as_text=True)


def test_a_distributor_may_not_hold_and_gets_404_for_anothers_entry(client, english, login_distributor, network):
    seller, city, _ = network
    login_distributor(seller)
    client.get("/commissions/entries")
    assert client.post(f"/commissions/entries/{entry_of(seller).id}/hold", {"reason": "x"}).status_code == 403
    assert client.post(f"/commissions/entries/{entry_of(city).id}/hold", {"reason": "x"}).status_code == 404
    assert client.post(f"/commissions/entries/{entry_of(city).id}/release", {}).status_code == 404
    assert client.get("/commissions/adjustments/new").status_code == 403


def test_csrf_is_required(client, english, login_as, network):
    seller, _, _ = network
    login_as("admin")
    response = client.post(f"/commissions/entries/{entry_of(seller).id}/hold", {"reason": "x"}, csrf=False)
    assert response.status_code == 400
    assert entry_of(seller).status == "payable"


def test_an_adjustment_needs_a_reason_and_is_audited(client, english, login_as, network):
    seller, _, _ = network
    login_as("admin")
    form = client.get(f"/commissions/adjustments/new?distributor={seller.id}")
    assert form.status_code == 200
    assert f'<option selected value="{seller.id}">' in form.get_data(as_text=True)
    refused = client.post("/commissions/adjustments/new", {"distributor_id": str(seller.id), "amount": "-30",
                                                            "reason": ""})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Say why the adjustment is made." in html and 'id="reason-errors"' in html
    assert 'value="-30"' in html  # what was typed stays
    bad = client.post("/commissions/adjustments/new", {"distributor_id": "", "amount": "abc", "reason": "x"})
    assert bad.status_code == 422
    assert "Choose an existing distributor." in bad.get_data(as_text=True)
    assert "Enter a non-zero amount such as 50.00 or -50.00." in bad.get_data(as_text=True)
    assert db.session.scalar(select(func.count(CommissionEntry.id)).where(CommissionEntry.kind == "adjustment")) == 0
    saved = client.post("/commissions/adjustments/new", {"distributor_id": str(seller.id), "amount": "-30",
                                                          "reason": "退货运费分摊"})
    assert saved.status_code == 302
    assert saved.headers["Location"].endswith(f"/commissions/entries?distributor={seller.id}")
    entry = db.session.scalars(select(CommissionEntry).where(CommissionEntry.kind == "adjustment")).one()
    assert (entry.beneficiary_id, entry.amount, entry.reason, entry.status) == (seller.id, D("-30.00"), "退货运费分摊",
                                                                                "payable")
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "commission.adjust")).one()
    assert audit.record_id == str(entry.id) and audit.changes == {"amount": "-30.00", "reason": "退货运费分摊"}
    listed = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "Adjustment of -30.00 recorded" in listed and "退货运费分摊" in listed


def test_the_adjustment_form_finds_distributors(client, english, login_as, make_distributor):
    wanted = make_distributor(name="张三丰")
    make_distributor(name="李四")
    login_as("admin")
    fragment = client.get("/commissions/adjustments/distributors?q=三丰", htmx=True)
    assert fragment.status_code == 200
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="adjustment-distributor"') and "张三丰" in html and "李四" not in html
    by_number = client.get(f"/commissions/adjustments/distributors?q={wanted.id}", htmx=True).get_data(as_text=True)
    assert "张三丰" in by_number
    # without JavaScript the Find button narrows the list and saves nothing
    found = client.post("/commissions/adjustments/new", {"q": "李四", "find": "1", "distributor_id": "", "amount": "",
                                                          "reason": ""})
    assert found.status_code == 200
    assert "李四" in found.get_data(as_text=True) and "张三丰" not in found.get_data(as_text=True)


def test_chinese_is_the_default_language(client, login_distributor, network):
    seller, _, _ = network
    login_distributor(seller)
    html = client.get("/commissions").get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
