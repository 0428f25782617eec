"""The JSON API under /api (API.md)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")


def init_app(app):
    """Register the API blueprint (CSRF-exempt: it authenticates by bearer token)."""
    from dms.extensions import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp)
