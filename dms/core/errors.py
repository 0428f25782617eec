"""Domain errors, and the one place that turns them (and HTTP errors) into responses."""

from flask import jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A rule of the business refused the request; `code` is the API error code."""

    status = 422
    code = "invalid"
    default_message = _l("The request could not be processed.")

    def __init__(self, message=None, fields: dict | None = None, code: str | None = None, **extra):
        if code:  # Conflict(..., code="duplicate"): a more specific API code for this one error
            self.code = code
        self.message = str(message or self.default_message)
        self.fields = fields or {}
        self.extra = extra
        super().__init__(self.message)


class ValidationError(DomainError):
    status = 422
    code = "validation_error"
    default_message = _l("Some fields are not valid.")


class BadRequest(DomainError):
    status = 400
    code = "bad_request"
    default_message = _l("The request is malformed.")


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"
    default_message = _l("Authentication is required.")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_message = _l("You do not have permission to do this.")


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = _l("Not found.")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = _l("The request conflicts with the current state.")


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = _l("This change of state is not allowed.")


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    default_message = _l("Not enough stock.")


HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "validation_error", 429: "rate_limited", 500: "internal_error", 503: "service_unavailable",
}
# Seconds a client is told to wait (Retry-After) after the database connection failed under its request.
DATABASE_RETRY_AFTER = 5


def wants_json() -> bool:
    """API paths and clients that ask for JSON get JSON errors."""
    if request.path.startswith("/api/") or request.path == "/api":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes["text/html"]


def json_error(status: int, code: str, message: str, fields: dict | None = None, /, **extra):
    """The API.md error body."""
    body = {"error": {"code": code, "message": message}}
    if fields:
        body["error"]["fields"] = fields
    body["error"].update(extra)
    return jsonify(body), status


def _html_error(status: int, message: str):
    from dms.core.render import is_htmx

    if is_htmx():
        html = render_template("errors/_fragment.html", status=status, message=message)
        # htmx does not swap error responses by default; retarget the error to the flash area.
        return html, status, {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML", "Vary": "HX-Request"}
    return render_template("errors/error.html", status=status, message=message), status


def error_response(status: int, code: str, message: str, fields=None, /, **extra):
    """Answer an error as JSON, an htmx fragment or a page, whichever the request wants."""
    if wants_json():
        return json_error(status, code, message, fields, **extra)
    return _html_error(status, message)


def register_error_handlers(app):
    """Map domain errors and HTTP errors once, for every blueprint."""
    from dms.extensions import db

    @app.errorhandler(DomainError)
    def handle_domain_error(exc: DomainError):
        db.session.rollback()
        return error_response(exc.status, exc.code, exc.message, exc.fields, **exc.extra)

    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def handle_csrf_error(exc: CSRFError):
        from dms.core.render import is_htmx

        db.session.rollback()
        message = _("Your form expired or came from elsewhere. Please try again.")
        if request.headers.get("HX-Request") == "true" or is_htmx():
            # The page's token is stale (e.g. the session ended): reload the page for a fresh one.
            response = error_response(400, "csrf_failed", message)
            response = app.make_response(response)
            response.headers["HX-Refresh"] = "true"
            return response
        return error_response(400, "csrf_failed", message)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException):
        status = exc.code or 500
        messages = {
            400: _("The request is malformed."),
            403: _("You do not have permission to view this page."),
            404: _("The page or record you asked for does not exist."),
            405: _("This method is not allowed here."),
            413: _("The upload is too large."),
            429: _("Too many attempts. Please wait a moment and try again."),
        }
        message = messages.get(status, exc.description or "")
        response = app.make_response(error_response(status, HTTP_CODES.get(status, "http_error"), message))
        for name, value in exc.get_headers():  # keep Allow (405), Retry-After (429), ...
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

    @app.errorhandler(DBAPIError)
    def handle_database_error(exc: DBAPIError):
        # A lost connection (server restarted, backend terminated, network cut) or an operational failure
        # (PEP 249: not the programmer's doing) is transient: nothing was committed, so "retry shortly" is
        # the true answer. Other database errors (constraint violations...) are bugs: the generic 500.
        if not (exc.connection_invalidated or isinstance(exc, OperationalError)):
            return handle_unexpected(exc)
        try:
            db.session.rollback()  # after an invalidated connection this only discards it
        except SQLAlchemyError:
            app.logger.warning("rollback after a database error failed too", exc_info=True)
        app.logger.error("database unavailable during the request (%s); answered 503",
                         "connection lost" if exc.connection_invalidated else exc.__class__.__name__, exc_info=exc)
        message = _("The service is briefly unavailable. Nothing was saved; please try again in a moment.")
        try:
            response = app.make_response(error_response(503, "service_unavailable", message))
        except Exception:  # the error page itself needed the database (e.g. the signed-in user): plain text
            app.logger.warning("the error page could not be rendered; answering plain text", exc_info=True)
            response = app.make_response((message, 503, {"Content-Type": "text/plain; charset=utf-8"}))
        response.headers["Retry-After"] = str(app.config.get("DATABASE_RETRY_AFTER", DATABASE_RETRY_AFTER))
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error")
        return error_response(500, "internal_error", _("Something went wrong on our side. It has been logged."))
