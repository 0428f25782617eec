"""The core area: shell pages, notifications, jobs, audit log, health and operations."""

from flask import Blueprint

bp = Blueprint("core", __name__)


def init_app(app):
    """Register the core blueprint, its CLI and the htmx-aware login redirect."""
    from dms.core import cli, views  # noqa: F401  (views attach routes to bp)

    app.register_blueprint(bp)
    cli.register(app)
