"""Login rate limits, shared by the web login and the API token endpoint."""

from flask import current_app, request

from dms.extensions import limiter


def _account_key() -> str:
    basic = request.authorization.username if request.authorization and request.authorization.type == "basic" else ""
    name = request.form.get("username") or request.form.get("client_id") or basic or ""
    return "account:" + name.strip().lower()[:64]


def login_rate_limited(view):
    """Limit POSTs per account name and per client address (HTTP 429 past the limit)."""
    view = limiter.shared_limit(lambda: current_app.config["LOGIN_LIMITS_PER_ACCOUNT"], scope="login-account",
                                key_func=_account_key, methods=["POST"])(view)
    view = limiter.shared_limit(lambda: current_app.config["LOGIN_LIMITS_PER_ADDRESS"], scope="login-address",
                                methods=["POST"])(view)
    return view
