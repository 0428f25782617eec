"""The reports area: dashboards, reports with exports and charts, queued PDF reports, the dealer
scorecard and sales forecasts."""

from flask import Blueprint

bp = Blueprint("reports", __name__)


def init_app(app):
    """Register the blueprint; the area's modules add their routes, reports, jobs and seeders on import."""
    from dms.reports import demo, jobs, models, scale_data, views  # noqa: F401

    app.register_blueprint(bp)
