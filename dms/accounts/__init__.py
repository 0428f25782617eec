"""The accounts area: login sessions, users, roles and permissions."""

from flask import Blueprint, make_response, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l

bp = Blueprint("accounts", __name__)
SESSION_TOKEN = "sid"  # noqa: S105 (the session key's name, not a secret)


def init_app(app):
    """Register the blueprint and wire Flask-Login to server-side sessions."""
    from dms.accounts import cli, views  # noqa: F401
    from dms.extensions import login_manager

    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to open this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # the server-side session row does this job

    @login_manager.user_loader
    def load_user(user_id: str):
        from flask import g

        from dms.accounts.services import load_session
        from dms.core.jobs import commit
        from dms.extensions import db

        if not user_id.isdigit():
            return None
        fresh = not db.session().in_transaction()  # nothing of this request's own work is in the session yet
        found = load_session(int(user_id), session.get(SESSION_TOKEN))
        if fresh and db.session.dirty:
            # The session row's touch (or an idle session's revocation) gets a commit of its own: a page
            # that only reads commits nothing, and an active reader must not go idle.
            commit()
        if found is None:
            session.clear()
            return None
        g.user_session_id = found[1].id
        return found[0]

    @login_manager.unauthorized_handler
    def unauthorized():
        from flask import flash

        from dms.core.errors import error_response, wants_json

        if wants_json():
            return error_response(401, "unauthorized", str(_l("Authentication is required.")))
        target = url_for("accounts.login", next=request.full_path if request.method == "GET" else None)
        if request.headers.get("HX-Request"):
            response = make_response("", 204)
            response.headers["HX-Redirect"] = target
            return response
        flash(login_manager.login_message, "info")
        return redirect(target)

    app.register_blueprint(bp)
    cli.register(app)
