"""The network area: the effective-dated upline tree, moves with their date, teams and their volumes."""

from flask import Blueprint

bp = Blueprint("network", __name__)


def init_app(app):
    """Register the blueprint; the area's modules add their routes and jobs on import."""
    from dms.network import demo, jobs, models, views  # noqa: F401

    app.register_blueprint(bp)
