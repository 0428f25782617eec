"""The territories area: China's administrative divisions (regions) and the region picker."""

from flask import Blueprint

bp = Blueprint("territories", __name__)


def init_app(app):
    """Register the blueprint and give templates the region picker's state."""
    from dms.territories import models, views  # noqa: F401
    from dms.territories.picker import picker_state

    app.jinja_env.globals["region_picker_state"] = picker_state
    app.register_blueprint(bp)
