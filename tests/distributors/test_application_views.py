"""Application pages with CSRF on: the public form and status link, the review queue, detail and decisions."""

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from dms.core.jobs import commit
from dms.distributors.models import Application
from dms.extensions import db
from tests.distributors.applying import application_data, counts, every_stored_text, submit
from tests.distributors.conftest import id_number


@pytest.fixture(autouse=True)
def english(client):
    """The pages in English, so that the messages these tests read do not change as catalogs are filled."""
    client.set_cookie("dms_locale", "en")


def form_of(data: dict) -> dict:
    """The public form's fields for application data (the picker's selects carry the region)."""
    region = data.get("region_code") or ""
    fields = {k: v or "" for k, v in data.items() if k not in ("region_code",)}
    fields["region_code__province"] = region[:2] + "0000" if region else ""
    fields["region_code__city"] = region[:4] + "00" if region and not region.endswith("0000") else ""
    fields["region_code__county"] = region if region and not region.endswith("00") else ""
    fields["region_code"] = region
    return fields


def errors_near(html: str, field: str) -> str:
    match = re.search(rf'id="{field}-errors">(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


def test_apply_page_is_public_and_its_picker_works_without_login(client):
    response = client.get("/apply")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="csrf_token"' in html and 'name="region_code__province"' in html
    assert "/regions/options" in html and 'name="refresh_region"' in html
    assert "<script>" not in html and not re.search(r"\son[a-z]+=", html)
    assert 'value="110105" selected' in client.get("/apply?region_code=110105").get_data(as_text=True)
    options = client.get("/regions/options?name=region_code&level=city&region_code__province=440000", htmx=True)
    assert options.status_code == 200 and '<option value="440100">' in options.get_data(as_text=True)
    search = client.get("/regions/search?name=region_code&region_code__q=天河", htmx=True)
    assert search.status_code == 200 and "440106" in search.get_data(as_text=True)


def test_apply_goes_to_the_private_status_page(client):
    data = application_data()
    response = client.post("/apply", form_of({**data, "level": ""}))  # the level follows the chosen region
    assert response.status_code == 303
    location = response.headers["Location"]
    token = re.search(r"/apply/status/([^?]+)\?new=1$", location).group(1)
    application = db.session.scalar(select(Application))
    assert application.level == "county" and application.source == "web"
    page = client.get(location)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert application.reference in html and f"http://localhost/apply/status/{token}" in html
    assert 'data-testid="withdraw"' in html
    assert data["id_number"] not in html


def test_every_bad_field_comes_back_in_place_with_422(client):
    data = application_data(id_number="110105194912310021", phone="12345", email="nope", region_code="",
                            name="")
    response = client.post("/apply", form_of(data))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("id_number", "phone", "email", "name"):
        assert errors_near(html, field), field
    assert errors_near(html, "region-picker-region_code")
    assert 'value="12345"' in html  # what was typed stays
    mismatch = client.post("/apply", form_of(application_data(region_code="110000", level="county")))
    assert mismatch.status_code == 422 and errors_near(mismatch.get_data(as_text=True), "region-picker-region_code")
    assert db.session.scalars(select(Application)).all() == []


def test_duplicate_is_a_clear_form_error_with_409(client, make_distributor):
    number = id_number()
    make_distributor(id_number=number)
    response = client.post("/apply", form_of(application_data(id_number=number)))
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "This ID number already belongs to a distributor." in html
    assert 'class="flash flash-error"' in html and errors_near(html, "id_number")


def test_refreshing_the_picker_without_javascript_submits_nothing(client):
    fields = form_of(application_data())
    fields.update({"region_code__city": "", "region_code__county": "", "refresh_region": "1"})
    response = client.post("/apply", fields)
    assert response.status_code == 200 and db.session.scalars(select(Application)).all() == []
    assert '<option value="110100">' in response.get_data(as_text=True)  # the cities of the chosen province


def test_withdraw_through_the_status_link(client):
    application, token = submit()
    url = f"/apply/status/{token}"
    client.get(url)
    unticked = client.post(f"{url}/withdraw", {})
    assert unticked.status_code == 422 and "Tick the box" in unticked.get_data(as_text=True)
    done = client.post(f"{url}/withdraw", {"confirm": "y"})
    assert done.status_code == 303
    db.session.refresh(application)
    assert application.state == "withdrawn"
    page = client.get(url).get_data(as_text=True)
    assert 'data-testid="withdraw"' not in page and "withdrawn" in page
    assert client.post(f"{url}/withdraw", {"confirm": "y"}).status_code == 409


def test_unknown_status_link_is_a_404_page(client):
    response = client.get("/apply/status/not-a-real-token")
    assert response.status_code == 404 and "There is no application behind this link." in response.get_data(
        as_text=True)
    assert client.post("/apply/status/not-a-real-token/withdraw", {"confirm": "y"}).status_code == 404


def test_apply_is_rate_limited(client):
    statuses = [client.post("/apply", form_of(application_data(phone="1"))).status_code for _ in range(11)]
    assert statuses[:10] == [422] * 10 and statuses[10] == 429
    assert client.get("/apply").status_code == 200  # only submissions are limited


def test_decision_shows_on_the_status_page(client, login_as):
    application, token = submit()
    login_as("reviewer")
    response = client.post(f"/applications/{application.id}/reject", {"reason": "区域已满"})
    assert response.status_code == 303
    page = client.get(f"/apply/status/{token}").get_data(as_text=True)
    assert "区域已满" in page and 'data-testid="decision"' in page


# ---------------------------------------------------------------- reviewers

def tab_count(html: str, state: str) -> int:
    """The count on the state tab (the current tab's name is in bold)."""
    match = re.search(rf'data-state="{state}">(?:<strong>)?[^<]*(?:</strong>)? <span class="tag[^"]*">(\d+)</span>',
                      html)
    return int(match.group(1))


def test_queue_counts_filters_and_fragment(client, login_as, make_distributor, grant):
    grant(make_distributor("440100"), "440100")  # makes the Tianhe application need review
    submit(application_data(name="甲", region_code="110105"))
    tianhe, _t = submit(application_data(name="乙", region_code="440106"))
    city, _t = submit(application_data(name="丙", region_code="440300", level="city"))
    withdrawn, _t = submit(application_data(name="丁", region_code="110108"))
    from dms.distributors.applications import withdraw

    withdraw(withdrawn)
    commit()
    login_as("reviewer")

    def names(query="", htmx=False):
        response = client.get(f"/applications{query}", htmx=htmx)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        return html, sorted(re.findall(r'data-label="Applicant">([^<]+)<', html.replace(" ", "")))

    html, found = names()
    assert found == ["丁", "丙", "乙", "甲"]
    assert tianhe.state == "needs_review"
    assert tab_count(html, "needs_review") == 1 and tab_count(html, "") == 4
    assert names("?state=needs_review")[1] == ["乙"]
    assert names("?level=city")[1] == ["丙"]
    assert names("?region__province=440000")[1] == ["丙", "乙"]  # within Guangdong
    assert names("?region__province=440000&region__city=440100")[1] == ["乙"]
    assert names("?region__province=110000&region__city=440100")[1] == ["丁", "甲"]  # stale city ignored
    assert names("?region=440100")[1] == ["乙"]
    assert names("?q=丙")[1] == ["丙"]
    today = date.today()
    assert names(f"?since={(today - timedelta(days=2)).isoformat()}")[1] == ["丁", "丙", "乙", "甲"]
    assert names(f"?until={(today - timedelta(days=2)).isoformat()}")[1] == []
    fragment, found = names("?state=withdrawn", htmx=True)
    assert found == ["丁"] and fragment.lstrip().startswith('<div id="applications-table"')
    # the counts follow the other filters, not the state filter
    html, _ = names("?region__province=440000&state=submitted")
    assert tab_count(html, "") == 2 and tab_count(html, "submitted") == 1


def test_detail_masks_the_id_number_and_shows_checks_and_history(client, login_as):
    data = application_data()
    application, _t = submit(data)
    login_as("reviewer")
    response = client.get(f"/applications/{application.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert data["id_number"] not in html and application.id_number_masked in html
    assert 'data-check="territory"' in html and "application.submit" in html
    assert client.post(f"/applications/{application.id}/review", {}).status_code == 303
    html = client.get(f"/applications/{application.id}").get_data(as_text=True)
    assert "application.start_review" in html and 'data-testid="start-review"' not in html
    assert client.get("/applications/99999").status_code == 404


def test_reject_needs_a_reason(client, login_as):
    application, _t = submit()
    login_as("reviewer")
    client.get(f"/applications/{application.id}")
    response = client.post(f"/applications/{application.id}/reject", {"reason": " "})
    assert response.status_code == 422 and errors_near(response.get_data(as_text=True), "reason")
    db.session.refresh(application)
    assert application.state == "submitted"


def test_approve_shows_the_one_time_link_and_it_works_once(app, client, login_as):
    data = application_data()
    application, _t = submit(data)
    login_as("reviewer")
    client.get(f"/applications/{application.id}")
    before = counts()
    response = client.post(f"/applications/{application.id}/approve", {
        "exclusive": "y", "effective_from": date.today().isoformat(), "profit_share": "8", "username": ""})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    link = re.search(r'data-testid="password-link">(http://localhost/account/set-password/[^<]+)<', html).group(1)
    assert data["phone"] in html
    assert {k: counts()[k] - before[k] for k in before} == {
        "Distributor": 1, "TerritoryGrant": 1, "Warehouse": 1, "User": 1, "PasswordToken": 1}
    client.post("/logout", {})

    path = link.replace("http://localhost", "")
    page = client.get(path)
    assert page.status_code == 200 and data["phone"] in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    mismatch = client.post(path, {"new_password": "a-new-passphrase", "confirm": "different-one"})
    assert mismatch.status_code == 400
    weak = client.post(path, {"new_password": data["phone"], "confirm": data["phone"]})
    assert weak.status_code == 422  # the username as password: refused by the policy (service)
    done = client.post(path, {"new_password": "a-new-passphrase", "confirm": "a-new-passphrase"})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert "Your password is set" in client.get("/login").get_data(as_text=True)
    again = client.get(path)
    assert again.status_code == 410 and "already used" in again.get_data(as_text=True)
    assert client.post(path, {"new_password": "x-other-passphrase", "confirm": "x-other-passphrase"}).status_code == 410
    login = client.post("/login", {"username": data["phone"], "password": "a-new-passphrase"})
    assert login.status_code == 302
    assert data["id_number"] not in every_stored_text(app)


def test_invalid_and_expired_password_links_are_clear_pages(client, make_user):
    from dms.accounts.services import issue_password_token

    user = make_user("distributor")
    token = issue_password_token(user, hours=-1)
    commit()
    expired = client.get(f"/account/set-password/{token}")
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    unknown = client.get("/account/set-password/nothing-here")
    assert unknown.status_code == 404 and 'data-testid="link-invalid"' in unknown.get_data(as_text=True)


def test_approval_when_the_territory_was_taken_shows_why_and_creates_nothing(client, login_as, make_distributor,
                                                                             grant):
    application, _t = submit()
    holder = make_distributor("110000", level="province", name="省代理")
    grant(holder, "110000", start=date(2026, 1, 1))
    login_as("reviewer")
    client.get(f"/applications/{application.id}")
    before = counts()
    response = client.post(f"/applications/{application.id}/approve", {
        "exclusive": "y", "effective_from": date.today().isoformat()})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "held exclusively by 省代理" in html and 'class="flash flash-error"' in html
    assert counts() == before
    db.session.refresh(application)
    assert application.state == "submitted"
    # a non-exclusive grant next to it is possible
    response = client.post(f"/applications/{application.id}/approve", {"effective_from": date.today().isoformat()})
    assert response.status_code == 200 and counts()["Distributor"] == before["Distributor"] + 1


@pytest.mark.parametrize("method,url", [
    ("get", "/applications"), ("get", "/applications/{id}"), ("post", "/applications/{id}/approve"),
    ("post", "/applications/{id}/reject"), ("post", "/applications/{id}/review"),
    ("post", "/applications/{id}/password-link")])
def test_review_pages_need_the_permission(client, login_distributor, method, url):
    application, _t = submit()
    url = url.format(id=application.id)
    anonymous = getattr(client, method)(url, **({"data": {}} if method == "post" else {}))
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    login_distributor()
    response = getattr(client, method)(url, **({"data": {"reason": "x"}} if method == "post" else {}))
    assert response.status_code == 403
    db.session.refresh(application)
    assert application.state == "submitted"
