"""The commissions area: versioned N-level rules, the commission ledger, rewards, settlement, statements."""

from flask import Blueprint

bp = Blueprint("commissions", __name__)


def init_app(app):
    """Register the blueprint; subscribe to order events; the modules add routes, jobs and commands."""
    from dms.commissions import cli, demo, jobs, models, views  # noqa: F401
    from dms.core.events import subscribe

    subscribe("order.completed", "dms.commissions.jobs.on_order_completed")
    subscribe("order.refunded", "dms.commissions.jobs.on_order_refunded")
    app.register_blueprint(bp)
