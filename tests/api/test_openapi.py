"""The OpenAPI 3.1 document is valid, covers every API route, and real answers match it."""

import re

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from tests.api.conftest import PASSWORD, bearer


@pytest.fixture
def document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.json


def _schema_validator(document, schema: dict) -> Draft202012Validator:
    """A validator for one schema of the document, resolving its #/components/... references."""
    return Draft202012Validator({**schema, "components": document["components"]})


def _response_schema(document, path, method, status):
    response = document["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    media = "application/json"
    return response["content"][media]["schema"]


def _check(document, path, method, response):
    schema = _response_schema(document, path, method, response.status_code)
    _schema_validator(document, schema).validate(response.json)


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)
    components = document["components"]
    assert {"Error", "Page", "TokenResponse", "Me"} <= set(components["schemas"])
    assert components["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert components["parameters"]["IdempotencyKey"]["in"] == "header"
    token_body = document["paths"]["/api/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in token_body


def test_every_api_route_is_documented(app, document):
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        assert path in document["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"][path], f"{method} {path}"


def test_real_answers_match_the_document(client, document, make_user, make_client):
    user = make_user("admin")
    response = client.post("/api/auth/token", {"grant_type": "password", "username": user.username,
                                               "password": PASSWORD}, csrf=False)
    _check(document, "/api/auth/token", "post", response)
    token = response.json["access_token"]
    _check(document, "/api/me", "get", client.get("/api/me", headers=bearer(token)))
    api_client, secret = make_client()
    response = client.post("/api/auth/token", {"grant_type": "client_credentials", "client_id": api_client.client_id,
                                               "client_secret": secret}, csrf=False)
    _check(document, "/api/me", "get", client.get("/api/me", headers=bearer(response.json["access_token"])))
    for form in ({"grant_type": "password", "username": user.username, "password": "wrong"},
                 {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
                 {"grant_type": "magic"}):
        _check(document, "/api/auth/token", "post", client.post("/api/auth/token", form, csrf=False))
    response = client.get("/api/me")
    assert response.status_code == 401
    _check(document, "/api/me", "get", response)


def test_error_and_page_schemas_reject_wrong_shapes(document):
    error = _schema_validator(document, {"$ref": "#/components/schemas/Error"})
    assert error.is_valid({"error": {"code": "not_found", "message": "Not found."}})
    assert error.is_valid({"error": {"code": "validation_error", "message": "x", "fields": {"a": ["b"]}}})
    assert not error.is_valid({"error": "not_found"})
    page = _schema_validator(document, {"$ref": "#/components/schemas/Page"})
    assert page.is_valid({"items": [], "page": 1, "per_page": 50, "total": 0})
    assert not page.is_valid({"items": [], "page": 1, "per_page": 500, "total": 0})


def test_registry_rejects_conflicting_registrations():
    from dms.api import openapi

    openapi.add_schema("Me", openapi.document()["components"]["schemas"]["Me"])  # the same again is fine
    with pytest.raises(ValueError):
        openapi.add_schema("Me", {"type": "string"})
    with pytest.raises(ValueError):
        openapi.add_path("/api/me", "GET", {"responses": {}})
