"""The distributor applications API: public submission, review, decision; answers match the OpenAPI document."""

import json
from datetime import date

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from dms.distributors.models import Application
from dms.extensions import db
from tests.api.conftest import bearer
from tests.distributors.applying import application_data, company_data, counts, submit
from tests.distributors.conftest import id_number

URL = "/api/distributor-applications"
# The distributors' factories, as fixtures here too.


@pytest.fixture
def document(client):
    return client.get("/api/openapi.json").json


def matches(document, path: str, method: str, response) -> None:
    """The response's body is valid against the documented schema of its status."""
    answer = document["paths"][path][method]["responses"][str(response.status_code)]
    if "$ref" in answer:
        answer = document["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema = answer["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": document["components"]}).validate(response.json)


def post(client, data, url=URL, **kw):
    return client._send("post", url, data=json.dumps(data), content_type="application/json", **kw)


@pytest.fixture
def reviewer_headers(make_user, get_token):
    return bearer(get_token(make_user("reviewer")))


def test_public_submission(client, document):
    data = application_data()
    response = post(client, data)
    assert response.status_code == 201, response.json
    matches(document, URL, "post", response)
    body = response.json
    assert body["status"] == "submitted" and body["reference"] == f"SQ{body['application_id']:06d}"
    assert {c["check"] for c in body["checks"]} >= {"id_number", "phone", "region", "territory", "duplicates"}
    assert all(c["passed"] for c in body["checks"])
    assert body["status_url"].startswith("http://localhost/apply/status/")
    assert client.get(body["status_url"].replace("http://localhost", "")).status_code == 200
    application = db.session.get(Application, body["application_id"])
    assert application.source == "api" and application.id_number == data["id_number"]
    assert data["id_number"] not in response.get_data(as_text=True)


def test_needs_review_when_the_territory_is_taken(client, document, make_distributor, grant):
    grant(make_distributor("110100", level="city"), "110100", start=date(2026, 1, 1))
    response = post(client, application_data())
    assert response.status_code == 201 and response.json["status"] == "needs_review"
    matches(document, URL, "post", response)
    territory = next(c for c in response.json["checks"] if c["check"] == "territory")
    assert territory["passed"] is False and territory["detail"]


def test_per_field_errors_like_the_form(client, document):
    response = post(client, {"applicant_type": "company", "name": "", "id_number": "110105194912310021",
                             "company_name": None, "credit_code": "91110105MA0000000X", "phone": "123",
                             "email": "x", "region_code": "999999", "level": "county"})
    assert response.status_code == 422
    matches(document, URL, "post", response)
    assert response.json["error"]["code"] == "validation_error"
    assert set(response.json["error"]["fields"]) == {"name", "id_number", "company_name", "credit_code", "phone",
                                                     "email", "region_code"}
    wrong_types = post(client, application_data(name=42, level=["county"]))
    assert wrong_types.status_code == 422 and set(wrong_types.json["error"]["fields"]) == {"name", "level"}
    assert db.session.scalar(select(func.count()).select_from(Application)) == 0


@pytest.mark.parametrize("body", ["{bad", "", "[1, 2]", '"text"'])
def test_malformed_json_is_400(client, document, body):
    response = client._send("post", URL, data=body, content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"
    matches(document, URL, "post", response)


def test_duplicates_are_409(client, document, make_distributor):
    number = id_number()
    assert post(client, application_data(id_number=number)).status_code == 201
    again = post(client, application_data(id_number=number.lower()))
    assert again.status_code == 409 and again.json["error"]["code"] == "duplicate"
    assert list(again.json["error"]["fields"]) == ["id_number"]
    matches(document, URL, "post", again)
    other = id_number()
    make_distributor(id_number=other)
    assert post(client, application_data(id_number=other)).json["error"]["code"] == "duplicate"
    company = company_data()
    assert post(client, company).status_code == 201
    assert post(client, company_data(credit_code=company["credit_code"])).status_code == 409


def test_idempotency_key_replays_the_first_answer(client):
    data = application_data()
    headers = {"Idempotency-Key": "a3c1f2d4-0000-4000-8000-000000000001"}
    first = post(client, data, headers=headers)
    second = post(client, data, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json == first.json and second.headers["Idempotent-Replayed"] == "true"
    assert db.session.scalar(select(func.count()).select_from(Application)) == 1
    changed = post(client, application_data(), headers=headers)
    assert changed.status_code == 422 and changed.json["error"]["code"] == "idempotency_key_reused"


def test_submission_is_rate_limited(client):
    statuses = [post(client, {"applicant_type": "person"}).status_code for _ in range(11)]
    assert statuses[:10] == [422] * 10 and statuses[10] == 429
    assert post(client, application_data()).json["error"]["code"] == "rate_limited"


def test_get_needs_the_permission_and_masks_the_id_number(client, document, reviewer_headers, make_user, get_token):
    data = application_data(id_number="11010519491231002X")
    application, _t = submit(data)
    url = f"{URL}/{application.id}"
    assert client.get(url).status_code == 401
    distributor = bearer(get_token(make_user("distributor")))
    forbidden = client.get(url, headers=distributor)
    assert forbidden.status_code == 403
    matches(document, URL + "/{application_id}", "get", forbidden)
    response = client.get(url, headers=reviewer_headers)
    assert response.status_code == 200
    matches(document, URL + "/{application_id}", "get", response)
    body = response.json
    assert body["id_number"] == "110105********002X" and "11010519491231002X" not in response.get_data(as_text=True)
    assert (body["status"], body["region_code"], body["level"], body["distributor_id"]) == (
        "submitted", "110105", "county", None)
    assert body["checks"] and body["submitted_at"].endswith("+00:00")
    assert client.get(f"{URL}/99999", headers=reviewer_headers).status_code == 404


def test_approve_by_api(client, document, reviewer_headers):
    application, _t = submit()
    path = URL + "/{application_id}/decision"
    url = f"{URL}/{application.id}/decision"
    before = counts()
    response = post(client, {"decision": "approved", "reason": "ok", "profit_share": 5,
                             "effective_from": "2026-07-01"}, url=url, headers=reviewer_headers)
    assert response.status_code == 200, response.json
    matches(document, path, "post", response)
    assert response.json["status"] == "approved" and response.json["distributor_id"]
    assert "password_link" not in response.json
    assert {k: counts()[k] - before[k] for k in before} == {
        "Distributor": 1, "TerritoryGrant": 1, "Warehouse": 1, "User": 1, "PasswordToken": 1}
    shown = client.get(f"{URL}/{application.id}", headers=reviewer_headers).json
    assert shown["status"] == "approved" and shown["distributor_id"] == response.json["distributor_id"]
    again = post(client, {"decision": "rejected", "reason": "late"}, url=url, headers=reviewer_headers)
    assert again.status_code == 409 and again.json["error"]["code"] == "invalid_transition"
    matches(document, path, "post", again)


def test_approve_when_the_territory_was_taken_is_409_and_creates_nothing(client, document, reviewer_headers,
                                                                        make_distributor, grant):
    application, _t = submit()
    grant(make_distributor("110105"), "110105", start=date(2026, 1, 1))
    before = counts()
    url = f"{URL}/{application.id}/decision"
    response = post(client, {"decision": "approved"}, url=url, headers=reviewer_headers)
    assert response.status_code == 409 and response.json["error"]["code"] == "territory_taken"
    matches(document, URL + "/{application_id}/decision", "post", response)
    assert counts() == before
    db.session.refresh(application)
    assert application.state == "submitted"


def test_bad_decisions_are_422_and_reject_works(client, document, reviewer_headers, make_user, get_token):
    application, token = submit()
    url = f"{URL}/{application.id}/decision"
    path = URL + "/{application_id}/decision"
    for body, field in (({"decision": "maybe"}, "decision"), ({}, "decision"), ({"decision": "rejected"}, "reason"),
                        ({"decision": "rejected", "reason": "  "}, "reason"),
                        ({"decision": "approved", "exclusive": "yes"}, "exclusive"),
                        ({"decision": "approved", "effective_from": "July"}, "effective_from")):
        response = post(client, body, url=url, headers=reviewer_headers)
        assert response.status_code == 422 and field in response.json["error"]["fields"], body
        matches(document, path, "post", response)
    distributor = bearer(get_token(make_user("distributor")))
    assert post(client, {"decision": "rejected", "reason": "x"}, url=url, headers=distributor).status_code == 403
    assert post(client, {"decision": "rejected", "reason": "x"}, url=url).status_code == 401
    response = post(client, {"decision": "rejected", "reason": "区域已满"}, url=url, headers=reviewer_headers)
    assert response.status_code == 200 and response.json == {"application_id": application.id, "status": "rejected",
                                                             "distributor_id": None}
    db.session.refresh(application)
    assert application.decision_reason == "区域已满"
