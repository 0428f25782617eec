"""The customers area: a distributor's customers (the people and shops orders are delivered to)."""

from flask import Blueprint

bp = Blueprint("customers", __name__)


def init_app(app):
    """Register the blueprint; the area's modules add their routes on import."""
    # models; demo customers and visits for seed-demo; the CRM pages, import and export; visits, follow-ups
    # and their daily reminders
    from dms.customers import demo, import_export_views, interaction_views, models, views  # noqa: F401

    app.register_blueprint(bp)
