"""The distributors area: distributor profiles, territory grants, applications and their review."""

from flask import Blueprint

bp = Blueprint("distributors", __name__)


def init_app(app):
    """Register the blueprint (views are added as the area grows)."""
    import dms.distributors.application_views  # noqa: F401
    import dms.distributors.cli  # noqa: F401
    import dms.distributors.coverage_views  # noqa: F401
    import dms.distributors.views  # noqa: F401
    from dms.distributors import models  # noqa: F401

    app.register_blueprint(bp)
