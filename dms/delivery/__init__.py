"""The delivery area: the dispatch board, the couriers' phone page, satisfaction ratings."""

from flask import Blueprint

bp = Blueprint("delivery", __name__)


def init_app(app):
    """Register the blueprint; the area's modules add their routes on import."""
    from dms.delivery import views  # noqa: F401

    app.register_blueprint(bp)
