"""The API's own endpoints: the token endpoint (RFC 6749), the caller, and the OpenAPI document."""

from flask import g, jsonify, make_response, request
from flask_babel import gettext as _

from dms.accounts.ratelimit import login_rate_limited
from dms.accounts.services import authenticate
from dms.api import bp, openapi, services, tokens
from dms.api.auth import api_view, www_authenticate

GRANTS = ("password", "client_credentials")
_FORM = "application/x-www-form-urlencoded"


@bp.after_request
def _api_headers(response):
    """Bearer challenge on 401s of protected endpoints; API answers are never cached by default."""
    if request.endpoint != "api.issue_token":
        www_authenticate(response)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _oauth_error(error: str, description: str, status: int = 400):
    """An RFC 6749 §5.2 error answer."""
    response = make_response(jsonify({"error": error, "error_description": description}), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _one(name: str) -> str | None:
    """A form parameter sent at most once (RFC 6749 §3.2: repeated parameters are invalid)."""
    values = request.form.getlist(name)
    if len(values) > 1:
        raise ValueError(name)
    return values[0] if values else None


def _client_credentials() -> tuple[str | None, str | None]:
    """Client id and secret from HTTP Basic (RFC 6749 §2.3.1, form-urlencoded inside) or the form body."""
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        from urllib.parse import unquote_plus

        return unquote_plus(auth.username or ""), unquote_plus(auth.password or "")
    return _one("client_id"), _one("client_secret")


@bp.post("/auth/token")
@login_rate_limited
@api_view(public=True)
def issue_token():
    """OAuth 2.0 token endpoint: grant_type=password or client_credentials, form-encoded."""
    if request.mimetype != _FORM:
        return _oauth_error("invalid_request", _("Send the parameters form-encoded (%(type)s).", type=_FORM))
    try:
        grant_type, scope = _one("grant_type"), _one("scope")
        if grant_type == "password":
            username, password = _one("username"), _one("password")
        else:
            client_id, client_secret = _client_credentials()
    except ValueError as exc:
        return _oauth_error("invalid_request", _("The parameter %(name)s was sent more than once.", name=str(exc)))
    if not grant_type:
        return _oauth_error("invalid_request", _("The grant_type parameter is missing."))
    if grant_type not in GRANTS:
        return _oauth_error("unsupported_grant_type", _("Use grant_type=password or client_credentials."))
    try:
        if grant_type == "password":
            if not username or not password:
                return _oauth_error("invalid_request", _("Give username and password."))
            user = authenticate(username, password)
            if user is None:
                return _oauth_error("invalid_grant", _("Wrong username or password, or the account is disabled."))
            token, granted = services.issue_user_token(user, scope)
        else:
            client = services.authenticate_client(client_id or "", client_secret or "")
            if client is None:
                return _oauth_error("invalid_client", _("Unknown client, wrong secret, or the client is disabled."),
                                    401)
            token, granted = services.issue_client_token(client, scope)
    except ValueError:
        return _oauth_error("invalid_scope", _("The scope asks for permissions this account does not have."))
    response = jsonify({"access_token": token, "token_type": "Bearer", "expires_in": tokens.ttl(),
                        "scope": " ".join(sorted(granted))})
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.get("/me")
@api_view()
def me():
    """The caller behind the token: subject, kind, name, roles, permissions and distributor."""
    p = g.principal
    return jsonify({"subject": p.subject, "kind": p.kind, "name": p.name, "roles": sorted(p.roles),
                    "permissions": sorted(p.permissions), "distributor_id": p.distributor_id})


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document of this API."""
    response = jsonify(openapi.document())
    response.headers["Cache-Control"] = "no-cache"
    return response


openapi.add_path("/api/auth/token", "post", {
    "operationId": "issueToken", "tags": ["auth"], "summary": "Obtain an access token (OAuth 2.0, RFC 6749)",
    "description": "grant_type=password (username, password) for a person, grant_type=client_credentials "
                   "(client_id, client_secret) for an integration client. Rate-limited like the web login.",
    "security": [],
    "requestBody": {"required": True, "content": {_FORM: {"schema": openapi.ref("TokenRequest")}}},
    "responses": {
        "200": openapi.json_response("TokenResponse", "The token."),
        "400": openapi.json_response("OAuthError", "invalid_request, invalid_grant, unsupported_grant_type "
                                                   "or invalid_scope."),
        "401": openapi.json_response("OAuthError", "invalid_client."),
        **openapi.errors(429),
    },
})
openapi.add_path("/api/me", "get", {
    "operationId": "getMe", "tags": ["auth"], "summary": "The caller behind the token",
    "responses": {"200": openapi.json_response("Me"), **openapi.errors(401)},
})
openapi.add_path("/api/openapi.json", "get", {
    "operationId": "getOpenApi", "tags": ["auth"], "summary": "This document", "security": [],
    "responses": {"200": {"description": "The OpenAPI 3.1 document.",
                          "content": {"application/json": {"schema": {"type": "object"}}}}},
})
