"""The inventory area: warehouses' stock by batch and serial unit, its ledger and the operations on it."""

from flask import Blueprint

bp = Blueprint("inventory", __name__)


def init_app(app):
    """Register the blueprint; the area's modules add their routes, jobs and commands on import."""
    from dms.inventory import (  # noqa: F401
        alert_views,
        alerts,
        cli,
        demo,
        models,
        stocktake_views,
        transfer_views,
        views,
    )

    app.register_blueprint(bp)
