"""The OpenAPI 3.1 document of /api, served at /api/openapi.json.

Every area adds what it serves when its API module is imported:

    from dms.api import openapi
    openapi.add_schema("Category", {"type": "object", "properties": {...}, "required": [...]})
    openapi.add_path("/api/categories", "post", {"summary": "Create a category", "tags": ["catalog"],
        "parameters": [openapi.IDEMPOTENCY_KEY], "requestBody": openapi.json_body("Category"),
        "responses": {"201": openapi.json_response("Category", "Created"), **openapi.errors(400, 401, 403, 422)}})
"""

import copy

BEARER = [{"bearerAuth": []}]
IDEMPOTENCY_KEY = {"$ref": "#/components/parameters/IdempotencyKey"}
PAGE_PARAMETERS = [{"$ref": "#/components/parameters/Page"}, {"$ref": "#/components/parameters/PerPage"}]

_ERROR_RESPONSES = {
    400: ("BadRequest", "The request is malformed (bad JSON, bad query parameters)."),
    401: ("Unauthorized", "No token, or the token is invalid, expired or revoked."),
    403: ("Forbidden", "The token does not grant the permission."),
    404: ("NotFound", "Unknown, or owned by another distributor."),
    409: ("Conflict", "Conflict: stock, state, duplicate, or an Idempotency-Key still in flight."),
    413: ("PayloadTooLarge", "The body is too large."),
    422: ("UnprocessableEntity", "Well-formed but invalid, or an Idempotency-Key reused with another body."),
    429: ("TooManyRequests", "Rate limit reached."),
}

_BASE = {
    "openapi": "3.1.0",
    "info": {
        "title": "DMS API",
        "version": "1.0.0",
        "description": "The distributor management system's JSON API. Obtain a token at /api/auth/token "
                       "and send it as `Authorization: Bearer ...`.",
    },
    "servers": [{"url": "/"}],
    "security": BEARER,
    "tags": [{"name": "auth", "description": "Tokens and the caller"}],
    "paths": {},
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "A token from POST /api/auth/token."},
        },
        "parameters": {
            "IdempotencyKey": {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "description": "Any unique string (a UUID): the same key with the same body replays the first "
                               "response; with another body answers 422; while the first runs answers 409.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            },
            "Page": {"name": "page", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "default": 1}},
            "PerPage": {"name": "per_page", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
        },
        "headers": {
            "IdempotentReplayed": {"description": "`true` when this is the stored answer of an earlier request.",
                                   "schema": {"type": "string", "enum": ["true"]}},
        },
        "schemas": {
            "Error": {
                "type": "object", "required": ["error"], "additionalProperties": False,
                "properties": {"error": {
                    "type": "object", "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "examples": ["insufficient_stock"]},
                        "message": {"type": "string"},
                        "fields": {"type": "object",
                                   "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                    },
                }},
            },
            "Page": {
                "type": "object", "required": ["items", "page", "per_page", "total"],
                "properties": {
                    "items": {"type": "array"},
                    "page": {"type": "integer", "minimum": 1},
                    "per_page": {"type": "integer", "minimum": 1, "maximum": 200},
                    "total": {"type": "integer", "minimum": 0},
                },
            },
            "TokenRequest": {
                "type": "object", "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["password", "client_credentials"]},
                    "username": {"type": "string", "description": "grant_type=password"},
                    "password": {"type": "string", "format": "password", "description": "grant_type=password"},
                    "client_id": {"type": "string", "description": "grant_type=client_credentials"},
                    "client_secret": {"type": "string", "format": "password",
                                      "description": "grant_type=client_credentials"},
                    "scope": {"type": "string", "description": "Optional: space-separated permission codes, "
                                                               "to narrow the token."},
                },
            },
            "TokenResponse": {
                "type": "object", "required": ["access_token", "token_type", "expires_in"],
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"type": "string", "const": "Bearer"},
                    "expires_in": {"type": "integer", "minimum": 1},
                    "scope": {"type": "string"},
                },
            },
            "OAuthError": {
                "type": "object", "required": ["error"],
                "properties": {
                    "error": {"type": "string", "enum": ["invalid_request", "invalid_client", "invalid_grant",
                                                         "unsupported_grant_type", "invalid_scope"]},
                    "error_description": {"type": "string"},
                },
            },
            "Me": {
                "type": "object", "required": ["subject", "kind", "name", "roles", "permissions", "distributor_id"],
                "additionalProperties": False,
                "properties": {
                    "subject": {"type": "string", "examples": ["user:3", "client:dms_0123456789abcdef01234567"]},
                    "kind": {"type": "string", "enum": ["user", "client"]},
                    "name": {"type": "string", "description": "The username, or the client's name."},
                    "roles": {"type": "array", "items": {"type": "string"}},
                    "permissions": {"type": "array", "items": {"type": "string"}},
                    "distributor_id": {"type": ["integer", "null"]},
                },
            },
        },
        "responses": {
            name: {"description": text,
                   "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for name, text in _ERROR_RESPONSES.values()
        },
    },
}

_paths: dict[str, dict] = {}
_schemas: dict[str, dict] = {}


def ref(name: str) -> dict:
    """A reference to a schema under components/schemas."""
    return {"$ref": f"#/components/schemas/{name}"}


def errors(*statuses: int) -> dict:
    """Response entries for the standard error answers, e.g. errors(401, 403, 404)."""
    return {str(s): {"$ref": f"#/components/responses/{_ERROR_RESPONSES[s][0]}"} for s in statuses}


def json_body(schema: str | dict, required: bool = True) -> dict:
    """A requestBody of JSON with that schema (a name under components/schemas, or a schema)."""
    return {"required": required,
            "content": {"application/json": {"schema": ref(schema) if isinstance(schema, str) else schema}}}


def json_response(schema: str | dict, description: str = "OK", idempotent: bool = False) -> dict:
    """A JSON response with that schema; `idempotent` documents the Idempotent-Replayed header."""
    response = {"description": description,
                "content": {"application/json": {"schema": ref(schema) if isinstance(schema, str) else schema}}}
    if idempotent:
        response["headers"] = {"Idempotent-Replayed": {"$ref": "#/components/headers/IdempotentReplayed"}}
    return response


def page_of(schema: str) -> dict:
    """The schema of a page of a list whose items have the named schema."""
    return {"allOf": [ref("Page"), {"type": "object",
                                    "properties": {"items": {"type": "array", "items": ref(schema)}}}]}


def add_schema(name: str, schema: dict) -> None:
    """Register a schema under components/schemas (the same name twice must be the same schema)."""
    known = _BASE["components"]["schemas"].get(name) or _schemas.get(name)
    if known is not None and known != schema:
        raise ValueError(f"OpenAPI schema {name!r} is already registered differently")
    _schemas[name] = copy.deepcopy(schema)


def add_path(path: str, method: str, operation: dict) -> None:
    """Register one operation, e.g. add_path("/api/orders/{order_id}", "get", {...})."""
    method = method.lower()
    known = _paths.get(path, {}).get(method)
    if known is not None and known != operation:
        raise ValueError(f"OpenAPI operation {method.upper()} {path} is already registered differently")
    _paths.setdefault(path, {})[method] = copy.deepcopy(operation)


def document() -> dict:
    """The whole document as it stands now."""
    doc = copy.deepcopy(_BASE)
    doc["components"]["schemas"].update(copy.deepcopy(_schemas))
    doc["paths"] = {path: copy.deepcopy(_paths[path]) for path in sorted(_paths)}
    return doc
