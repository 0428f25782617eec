"""Customer pages with CSRF on: list filters and masking, scope (foreign ids 404), forms with errors in place."""

import re
from datetime import datetime

import pytest
from sqlalchemy import select

from dms.core.jobs import commit
from dms.customers import services
from dms.customers.models import Customer, CustomerTierRule
from dms.extensions import db


@pytest.fixture
def listed(crm, new_customer):
    """Customers of the first distributor with tiers, tags, regions and last orders; one of the second."""
    first = crm["first"]
    a = new_customer(first, name="甲客户", phone="13811110001", region_code="440113", address="市桥星河湾",
                     tags=["VIP"], phones=["13922220001"])
    b = new_customer(first, name="乙客户", phone="13811110002", region_code="440113", address="大石")
    c = new_customer(first, name="丙客户", phone="13811110003", region_code="440106", address="天河路")
    theirs = new_customer(crm["second"], name="外客户", phone="13811110004", region_code="440106")
    a.rfm_score, a.tier, a.last_order_at = 13, "A", datetime(2026, 6, 20, 4)
    b.rfm_score, b.tier, b.last_order_at = 9, "B", datetime(2026, 3, 1, 4)
    c.tier_override, c.tier_override_reason = "A", "大单"
    commit()
    return {"a": a, "b": b, "c": c, "theirs": theirs}


def names(response) -> list[str]:
    return re.findall(r'data-customer="\d+">\s*<td[^>]*><a [^>]*>([^<]+)</a>', response.get_data(as_text=True))


def test_the_list_searches_and_filters(crm, listed, client, login_as):
    login_as(crm["staff"])
    client.http.set_cookie("dms_locale", "en")
    assert sorted(names(client.get("/customers"))) == ["丙客户", "乙客户", "甲客户"]  # not the other's
    assert names(client.get("/customers?q=星河")) == ["甲客户"]  # address
    assert names(client.get("/customers?q=13922220001")) == ["甲客户"]  # another phone
    assert sorted(names(client.get("/customers?tier=A"))) == ["丙客户", "甲客户"]  # the override counts
    assert names(client.get("/customers?tag=VIP")) == ["甲客户"]
    assert sorted(names(client.get("/customers?region=440113"))) == ["乙客户", "甲客户"]
    picked = "/customers?region__province=440000&region__city=440100&region__county=440106"
    assert names(client.get(picked)) == ["丙客户"]
    assert sorted(names(client.get("/customers?activity=9"))) == ["乙客户", "甲客户"]
    assert names(client.get("/customers?activity=none")) == ["丙客户"]
    assert names(client.get("/customers?last_from=2026-06-01")) == ["甲客户"]
    assert names(client.get("/customers?last_to=2026-05-31")) == ["乙客户"]
    assert names(client.get("/customers?sort=score&dir=desc"))[:2] == ["甲客户", "乙客户"]
    bad = client.get("/customers?last_from=yesterday")
    assert bad.status_code == 400 and "A date such as" in bad.get_data(as_text=True)
    fragment = client.get("/customers?tier=B", htmx=True).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="customers-table"')


def test_phones_are_masked_without_the_permission(crm, listed, client, login_as):
    login_as(crm["reviewer"])  # HQ operations: sees customers, not their numbers
    html = client.get("/customers").get_data(as_text=True)
    assert "138****0001" in html and "13811110001" not in html
    page = client.get(f"/customers/{listed['a'].id}").get_data(as_text=True)
    assert "139****0001" in page and "13922220001" not in page
    client.post("/logout")
    login_as(crm["staff"])
    assert "13811110001" in client.get("/customers").get_data(as_text=True)


ROUTES = [("get", "/customers/{id}"), ("get", "/customers/{id}/edit"), ("post", "/customers/{id}/edit"),
          ("post", "/customers/{id}/addresses"), ("post", "/customers/{id}/addresses/{address}/default"),
          ("post", "/customers/{id}/addresses/{address}/remove"), ("post", "/customers/{id}/tier"),
          ("get", "/orders/customers/{id}/history")]


def test_another_distributors_customer_is_404_on_every_route(crm, listed, client, login_as):
    login_as(crm["staff"])
    theirs = listed["theirs"]
    for method, route in ROUTES:
        url = route.format(id=theirs.id, address=theirs.addresses[0].id)
        response = client.get(url) if method == "get" else client.post(url, {"reason": "x", "tier": "A"})
        assert response.status_code == 404, url
    mine = listed["a"]
    assert client.get(f"/customers/{mine.id}").status_code == 200
    assert client.post(f"/customers/{mine.id}/addresses/{theirs.addresses[0].id}/default").status_code == 404


def test_viewing_without_managing_is_refused_changes(crm, listed, client, login_as):
    login_as(crm["reviewer"])
    customer = listed["a"]
    assert client.get(f"/customers/{customer.id}/edit").status_code == 403
    assert client.post(f"/customers/{customer.id}/tier", {"tier": "B", "reason": "x"}).status_code == 403
    assert client.get("/customers/new").status_code == 403
    assert db.session.get(Customer, customer.id).tier_override is None


def test_the_customer_page_shows_rfm_formula_and_loads_the_fragments(crm, listed, client, login_as):
    login_as(crm["staff"])
    client.http.set_cookie("dms_locale", "en")
    html = client.get(f"/customers/{listed['a'].id}").get_data(as_text=True)
    assert f'hx-get="/orders/customers/{listed["a"].id}/history" hx-trigger="load"' in html
    url = f"/customers/{listed['a'].id}/interactions"
    assert f'<div id="customer-interactions" hx-get="{url}" hx-trigger="load">' in html
    assert 'data-testid="rfm-formula"' in html and "days since the last order" in html


def test_a_new_customer_with_errors_is_shown_again_in_place(crm, client, login_as):
    login_as(crm["staff"])
    client.http.set_cookie("dms_locale", "en")
    client.get("/customers/new")
    response = client.post("/customers/new", {"name": "", "phone": "123", "kind": "person", "source": "other",
                                              "region_code": "999999"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="name-errors"' in html and 'id="phone-errors"' in html and "region-picker-region_code-errors" in html
    assert db.session.scalar(select(Customer)) is None


def test_a_new_customer_is_created_and_a_duplicate_phone_refused(crm, client, login_as):
    login_as(crm["staff"])
    client.http.set_cookie("dms_locale", "en")
    client.get("/customers/new")
    form = {"name": "新客户", "phone": "13855556666", "kind": "business", "source": "walk_in", "tags": "VIP, 学校",
            "owner_id": str(crm["staff"].id), "region_code__province": "440000", "region_code__city": "440100",
            "region_code__county": "440113", "address": "1号"}
    response = client.post("/customers/new", form)
    assert response.status_code == 302
    customer = db.session.scalar(select(Customer))
    assert response.headers["Location"].endswith(f"/customers/{customer.id}")
    assert customer.region_code == "440113" and customer.owner_id == crm["staff"].id and len(customer.tags) == 2
    client.get("/customers/new")
    again = client.post("/customers/new", {**form, "name": "重复"})
    assert again.status_code == 409 and "is already the phone of customer 新客户" in again.get_data(as_text=True)
    assert len(list(db.session.scalars(select(Customer)))) == 1


def test_editing_addresses_and_the_tier_from_the_page(crm, listed, client, login_as):
    login_as(crm["staff"])
    client.http.set_cookie("dms_locale", "en")
    customer = listed["b"]
    client.get(f"/customers/{customer.id}")
    added = client.post(f"/customers/{customer.id}/addresses", {"label": "公司", "address_region": "440106",
                                                                "address": "写字楼", "make_default": "y"}, htmx=True)
    assert added.status_code == 200
    assert added.get_data(as_text=True).lstrip().startswith('<section class="panel" id="customer-addresses"')
    customer = db.session.get(Customer, customer.id)
    assert (customer.region_code, customer.address) == ("440106", "写字楼")
    default = next(a for a in customer.addresses if a.is_default)
    refused = client.post(f"/customers/{customer.id}/addresses/{default.id}/remove", htmx=True)
    assert refused.status_code == 409
    bad = client.post(f"/customers/{customer.id}/addresses", {"address_region": ""}, htmx=True)
    assert bad.status_code == 422 and "region-picker-address_region-errors" in bad.get_data(as_text=True)
    no_reason = client.post(f"/customers/{customer.id}/tier", {"tier": "A", "reason": ""})
    assert no_reason.status_code == 422 and 'id="reason-errors"' in no_reason.get_data(as_text=True)
    done = client.post(f"/customers/{customer.id}/tier", {"tier": "A", "reason": "年度合同"})
    assert done.status_code == 302
    customer = db.session.get(Customer, customer.id)
    assert customer.tier_override == "A" and customer.tier_overridden_by_id == crm["staff"].id
    page = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "年度合同" in page and 'data-testid="tier-override"' in page


def test_editing_the_profile(crm, listed, client, login_as):
    login_as(crm["staff"])
    customer = listed["b"]
    client.get(f"/customers/{customer.id}/edit")
    bad = client.post(f"/customers/{customer.id}/edit", {"name": "", "phone": customer.phone, "kind": "person",
                                                         "source": "other"})
    assert bad.status_code == 422 and 'id="name-errors"' in bad.get_data(as_text=True)
    taken = client.post(f"/customers/{customer.id}/edit", {"name": "乙", "phone": listed["a"].phone,
                                                           "kind": "person", "source": "other"})
    assert taken.status_code == 409
    ok = client.post(f"/customers/{customer.id}/edit", {"name": "乙客户二", "phone": customer.phone, "kind": "person",
                                                        "source": "phone", "tags": "学校", "note": "午后送"})
    assert ok.status_code == 302
    customer = db.session.get(Customer, customer.id)
    assert (customer.name, customer.source, customer.note) == ("乙客户二", "phone", "午后送")


def test_tier_rules_page_hq_edits_distributors_read(crm, client, login_as):
    login_as(crm["staff"])
    assert client.get("/customers/tiers").status_code == 200
    assert client.post("/customers/tiers", {"new-code": "VIP", "new-min_score": "14"}).status_code == 403
    client.post("/logout")
    login_as(crm["admin"])
    client.http.set_cookie("dms_locale", "en")
    client.get("/customers/tiers")
    bad = client.post("/customers/tiers", {"new-code": "A", "new-min_score": "99"})
    assert bad.status_code == 422 and "There is already a tier A." in bad.get_data(as_text=True)
    added = client.post("/customers/tiers", {"new-code": "VIP", "new-name": "贵宾", "new-min_score": "14"})
    assert added.status_code == 302
    rule = db.session.scalar(select(CustomerTierRule).where(CustomerTierRule.code == "VIP"))
    rule_id = rule.id
    assert rule.min_score == 14
    assert client.post(f"/customers/tiers/{rule_id}", {f"rule-{rule_id}-code": "VIP",
                                                       f"rule-{rule_id}-min_score": "13"}).status_code == 302
    assert db.session.get(CustomerTierRule, rule_id).min_score == 13
    assert client.post(f"/customers/tiers/{rule_id}/delete").status_code == 302
    db.session.expunge_all()
    assert db.session.get(CustomerTierRule, rule_id) is None
    assert [r.code for r in services.tier_rules()] == ["A", "B", "C"]
