"""The scoping matrix: a distributor user walks every distributor route with another's id and gets 404."""

import pytest


def _distributor_routes(app):
    for rule in app.url_map.iter_rules():
        # The JSON API authenticates by token, not by the session: its scoping is tested in tests/api/.
        if "distributor_id" in rule.arguments and not rule.endpoint.startswith("api."):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule, method


def test_every_route_with_a_distributor_id_is_covered(app):
    assert list(_distributor_routes(app)), "no distributor routes found"


@pytest.fixture
def foreign_urls(app, make_distributor, grant):
    """Every distributor route filled in with a foreign distributor's id (and its other ids)."""
    other = make_distributor("440106")
    other_grant = grant(other, "440106")
    values = {"distributor_id": other.id, "grant_id": other_grant.id, "target_id": 1, "user_id": 1}
    urls = []
    with app.test_request_context():
        from flask import url_for

        for rule, method in _distributor_routes(app):
            args = {name: values.get(name, 1) for name in rule.arguments}
            urls.append((method, url_for(rule.endpoint, **args)))
    return urls


def test_a_distributor_user_gets_404_for_another_distributor(client, login_distributor, foreign_urls):
    login_distributor()
    for method, url in foreign_urls:
        response = client.get(url) if method == "GET" else client.post(url, {})
        assert response.status_code == 404, (method, url, response.status_code)
        assert method in ("GET", "POST"), f"add {method} to the matrix"


def test_own_distributor_pages_answer(client, login_distributor):
    user, own = login_distributor()
    assert client.get(f"/distributors/{own.id}").status_code == 200
    assert client.get("/distributors").status_code == 200
