"""API conventions: error shape for HTTP errors, pagination bounds, bad bodies never 500."""

import pytest

from tests.api.conftest import bearer


@pytest.fixture
def headers(make_user, get_token):
    return bearer(get_token(make_user("admin")))


def _is_error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.json["error"]["code"] == code and response.json["error"]["message"]


def test_http_errors_have_the_api_shape(client, headers):
    _is_error(client.get("/api/no-such-thing", headers=headers), 404, "not_found")
    _is_error(client.http.delete("/api/me", headers=headers), 405, "method_not_allowed")
    _is_error(client.http.get("/api/auth/token"), 405, "method_not_allowed")


def test_too_large_body_is_413(probe_app, probe, headers):
    saved = probe_app.config["MAX_CONTENT_LENGTH"]
    probe_app.config["MAX_CONTENT_LENGTH"] = 100
    try:
        response = probe.post("/api/probe/things", data='{"name": "' + "x" * 200 + '"}',
                              content_type="application/json", headers=headers)
        _is_error(response, 413, "payload_too_large")
    finally:
        probe_app.config["MAX_CONTENT_LENGTH"] = saved


@pytest.mark.parametrize("body,content_type", [
    ("{bad", "application/json"), ("", "application/json"), ('"text"', "application/json"),
    ("name=x", "application/x-www-form-urlencoded"), (b"\xff\xfe", "application/json"),
])
def test_bad_bodies_are_400(probe, headers, body, content_type):
    response = probe.post("/api/probe/things", data=body, content_type=content_type, headers=headers)
    _is_error(response, 400, "bad_request")


def test_pagination(probe, headers, db_session):
    from dms.core import audit
    from dms.core.jobs import commit

    for n in range(5):
        audit.record("probe.row", "probe", n, f"row {n}")
    commit()
    first = probe.get("/api/probe/list?per_page=2", headers=headers).json
    total = first["total"]
    assert total >= 5 and first["page"] == 1 and first["per_page"] == 2 and len(first["items"]) == 2
    second = probe.get("/api/probe/list?per_page=2&page=2", headers=headers).json
    assert {i["id"] for i in first["items"]}.isdisjoint(i["id"] for i in second["items"])
    beyond = probe.get(f"/api/probe/list?per_page=2&page={total}", headers=headers).json
    assert beyond["items"] == [] and beyond["total"] == total
    default = probe.get("/api/probe/list", headers=headers).json
    assert default["per_page"] == 50 and default["page"] == 1
    assert probe.get("/api/probe/list?per_page=200", headers=headers).status_code == 200


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "per_page=0", "per_page=201",
                                   "per_page=1.5", "page=99999999999", "per_page=%EF%BC%91"])
def test_pagination_junk_is_400(probe, headers, query):
    response = probe.get(f"/api/probe/list?{query}", headers=headers)
    _is_error(response, 400, "bad_request")
    assert response.json["error"]["fields"]
