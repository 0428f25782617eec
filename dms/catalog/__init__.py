"""The catalog area: categories, tags, products, images and prices."""

from flask import Blueprint

bp = Blueprint("catalog", __name__)


def init_app(app):
    """Register the blueprint; the area's modules add their routes and commands on import."""
    import dms.catalog.import_export_views  # noqa: F401  (product import and export pages)
    from dms.catalog import models, views  # noqa: F401

    app.register_blueprint(bp)
