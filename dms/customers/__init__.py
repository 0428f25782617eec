"""The customers area: a distributor's customers (the people and shops orders are delivered to)."""

from flask import Blueprint

bp = Blueprint("customers", __name__)


def init_app(app):
    """Register the blueprint; the area's modules add their routes on import."""
    from dms.customers import models  # noqa: F401

    app.register_blueprint(bp)
