"""GET /api/commission/{distributor_id} (seed 001): balances, entries and settlements, a worked example,
the period filter, pages of entries, scope (a foreign or unknown id is 404) and authentication."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from dms.commissions import ledger, settlement
from dms.commissions.models import CommissionEntry, Statement
from dms.extensions import db
from tests.api.conftest import bearer
from tests.api.test_openapi import _check
from tests.commissions.conftest import chain, completed_order, publish_rules  # noqa: F401 - fixtures

PATH = "/api/commission/{distributor_id}"


@pytest.fixture
def document(client):
    return client.get("/api/openapi.json").json


@pytest.fixture
def example(chain, completed_order, publish_rules):  # noqa: F811 - the imported fixtures
    """The worked example: a county seller (县代) under a city (市代), rates 10 % and 5 %.

    October: order A 300.00 -> seller 30.00, settled, confirmed and paid. November: order B 200.00 -> seller
    20.00 (payable); order C 50.00 -> seller 5.00, held by HQ; the city's own order D 100.00, refunded -> its
    10.00 clawed back.
    """
    seller, city = chain(2)
    publish_rules(rates=("10", "5"), hold_days=7)
    orders = {}
    for name, who, amount, when in (("A", seller, "300.00", datetime(2026, 10, 10)),
                                    ("B", seller, "200.00", datetime(2026, 11, 5)),
                                    ("C", seller, "50.00", datetime(2026, 11, 8)),
                                    ("D", city, "100.00", datetime(2026, 11, 9))):
        orders[name] = completed_order(who, amount=amount, completed_at=when)
        ledger.accrue_order(orders[name].id)
        db.session.commit()
    settlement.run_now("2026-10")
    october = db.session.scalar(select(Statement).where(Statement.distributor_id == seller.id))
    settlement.confirm(None, october)
    settlement.pay(None, october, date(2026, 11, 3), "BANK-1")
    held = db.session.scalar(select(CommissionEntry).where(CommissionEntry.order_id == orders["C"].id,
                                                           CommissionEntry.beneficiary_id == seller.id))
    ledger.hold(None, held.id, "客户投诉核查中")
    orders["D"].status, orders["D"].refunded_at = "refunded", datetime(2026, 11, 20)
    db.session.commit()
    ledger.clawback_order(orders["D"].id)
    db.session.commit()
    return {"seller": seller, "city": city, "orders": orders, "october": october}


@pytest.fixture
def token(make_user, get_token):
    """token(role, distributor=None) -> the headers of that person's token."""

    def make(role, distributor=None):
        return bearer(get_token(make_user(role, distributor_id=distributor.id if distributor else None)))

    return make


def entry_of(order, beneficiary, kind="accrual") -> CommissionEntry:
    return db.session.scalar(select(CommissionEntry).where(CommissionEntry.order_id == order.id,
                                                           CommissionEntry.beneficiary_id == beneficiary.id,
                                                           CommissionEntry.kind == kind))


def as_json(entry: CommissionEntry) -> dict:
    return {"entry_id": entry.id, "order_id": entry.order_id, "level": entry.level, "kind": entry.kind,
            "amount": str(entry.amount), "status": entry.status,
            "created_at": entry.created_at.replace(tzinfo=UTC).isoformat()}


def test_the_worked_example_exactly(client, document, example, token):
    seller, orders = example["seller"], example["orders"]
    response = client.get(f"/api/commission/{seller.id}", headers=token("distributor", seller))
    assert response.status_code == 200, response.json
    a, b, c = (entry_of(orders[name], seller) for name in "ABC")
    assert response.json == {
        "distributor_id": seller.id, "currency": "CNY",
        "accrued": "0.00", "held": "5.00", "payable": "20.00", "paid": "30.00",
        "entries": [
            {**as_json(c), "amount": "5.00", "status": "held", "level": 1, "kind": "accrual"},
            {**as_json(b), "amount": "20.00", "status": "payable"},
            {**as_json(a), "amount": "30.00", "status": "paid", "order_id": orders["A"].id},
        ],
        "settlements": [{"settlement_id": example["october"].id, "period": "2026-10", "amount": "30.00",
                         "status": "paid"}],
        "period": None, "page": 1, "per_page": 50, "entries_total": 3,
    }
    assert response.json["entries"][0]["created_at"].endswith("+00:00")
    _check(document, PATH, "get", response)


def test_negative_amounts_are_strings_too(client, document, example, token):
    city, orders = example["city"], example["orders"]
    response = client.get(f"/api/commission/{city.id}", headers=token("admin"))
    assert response.status_code == 200
    clawback = entry_of(orders["D"], city, "clawback")
    assert response.json["entries"][0] == as_json(clawback) and as_json(clawback)["amount"] == "-10.00"
    # the city: 15.00 on its October (draft) statement; 10.00 + 2.50 + its own 10.00 in November, clawed back
    assert response.json["payable"] == "27.50" and response.json["paid"] == "0.00"
    assert response.json["settlements"] == [{"settlement_id": db.session.scalar(
        select(Statement.id).where(Statement.distributor_id == city.id)), "period": "2026-10", "amount": "15.00",
        "status": "draft"}]
    _check(document, PATH, "get", response)


def test_the_period_narrows_balances_entries_and_settlements(client, example, token):
    seller, orders = example["seller"], example["orders"]
    headers = token("admin")
    november = client.get(f"/api/commission/{seller.id}?period=2026-11", headers=headers).json
    assert (november["accrued"], november["held"], november["payable"], november["paid"]) == (
        "0.00", "5.00", "20.00", "0.00")
    assert [e["order_id"] for e in november["entries"]] == [orders["C"].id, orders["B"].id]
    assert november["settlements"] == [] and november["period"] == "2026-11" and november["entries_total"] == 2
    october = client.get(f"/api/commission/{seller.id}?period=2026-10", headers=headers).json
    assert october["paid"] == "30.00" and october["payable"] == "0.00"
    assert [e["order_id"] for e in october["entries"]] == [orders["A"].id]
    assert [s["period"] for s in october["settlements"]] == ["2026-10"]
    empty = client.get(f"/api/commission/{seller.id}?period=2025-01", headers=headers).json
    assert empty["entries"] == [] and empty["settlements"] == [] and empty["paid"] == "0.00"


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "november", "2026-11-01", "1999-12"])
def test_a_malformed_period_is_400(client, document, example, token, period):
    response = client.get(f"/api/commission/{example['seller'].id}?period={period}", headers=token("admin"))
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request" and response.json["error"]["fields"]["period"]
    _check(document, PATH, "get", response)


def test_entries_come_a_page_at_a_time(client, example, token):
    seller = example["seller"]
    headers = token("admin")
    first = client.get(f"/api/commission/{seller.id}?per_page=2", headers=headers).json
    second = client.get(f"/api/commission/{seller.id}?per_page=2&page=2", headers=headers).json
    assert len(first["entries"]) == 2 and len(second["entries"]) == 1
    assert first["entries_total"] == second["entries_total"] == 3
    assert {e["entry_id"] for e in first["entries"]}.isdisjoint(e["entry_id"] for e in second["entries"])
    assert first["held"] == second["held"] == "5.00"  # balances cover every entry, whatever the page
    assert client.get(f"/api/commission/{seller.id}?per_page=201", headers=headers).status_code == 400


def test_a_distributor_sees_only_itself(client, document, example, token, make_distributor):
    seller, city = example["seller"], example["city"]
    headers = token("distributor", seller)
    for distributor_id in (city.id, make_distributor("440106").id, 999999):
        response = client.get(f"/api/commission/{distributor_id}", headers=headers)
        assert response.status_code == 404, distributor_id
        assert response.json["error"]["code"] == "not_found"
    _check(document, PATH, "get", response)


def test_hq_sees_any_and_unknown_is_404(client, example, token):
    for role in ("admin", "reviewer"):
        headers = token(role)
        assert client.get(f"/api/commission/{example['city'].id}", headers=headers).status_code == 200
        assert client.get("/api/commission/999999", headers=headers).status_code == 404


def test_a_token_is_required_and_must_grant_commissions_view(client, document, example, make_client):
    seller = example["seller"]
    response = client.get(f"/api/commission/{seller.id}")
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    _check(document, PATH, "get", response)
    assert client.get(f"/api/commission/{seller.id}", headers=bearer("not-a-token")).status_code == 401
    api_client, secret = make_client("integration", distributor_id=seller.id)  # no commissions.view
    got = client.post("/api/auth/token", {"grant_type": "client_credentials", "client_id": api_client.client_id,
                                          "client_secret": secret}, csrf=False).json["access_token"]
    response = client.get(f"/api/commission/{seller.id}", headers=bearer(got))
    assert response.status_code == 403
    _check(document, PATH, "get", response)


def test_the_route_is_documented(document):
    operation = document["paths"][PATH]["get"]
    assert {p.get("name") for p in operation["parameters"]} >= {"distributor_id", "period"}
    settlement_amount = document["components"]["schemas"]["Settlement"]["properties"]["amount"]
    assert "total" in settlement_amount["description"]
