"""The campaigns area: marketing campaigns (市场活动) — plans, approval, the prices they give orders."""

from flask import Blueprint

bp = Blueprint("campaigns", __name__)


def init_app(app):
    """Register the blueprint; the area's modules add their routes and jobs on import."""
    from dms.campaigns import jobs, models, views  # noqa: F401

    app.register_blueprint(bp)
