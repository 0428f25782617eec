"""The JSON API under /api (API.md), and the admin pages for its integration clients."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")
# The web pages where admins manage integration clients: session login and CSRF like every page.
clients_bp = Blueprint("clients", __name__, url_prefix="/admin/api-clients")


def init_app(app):
    """Register the API blueprint (CSRF-exempt: it authenticates by bearer token) and the client pages."""
    # models for migrations; views and the areas' API modules attach routes
    from dms.api import (  # noqa: F401
        catalog,
        commissions,
        customers,
        distributor_applications,
        inventory,
        models,
        orders,
        views,
        web,
    )
    from dms.core.schedule import register
    from dms.extensions import csrf

    # Finished Idempotency-Key records are kept a day, then deleted.
    register("dms.api.idempotency.purge", cron="17 * * * *")

    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(clients_bp)
