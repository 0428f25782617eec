"""The orders area: orders priced on the server, routed by territory, reserved without oversell, and
moved through their state machine."""

from flask import Blueprint

bp = Blueprint("orders", __name__)


def init_app(app):
    """Register the blueprint; the area's modules add their routes, jobs and commands on import."""
    from dms.orders import campaign_views, cli, customer_jobs, customer_views, demo, jobs, models, views  # noqa: F401
    # isort: split
    from dms.orders import crm_demo  # noqa: F401 - seeded after demo: the campaign and its orders

    app.register_blueprint(bp)
