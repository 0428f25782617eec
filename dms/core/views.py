"""Core pages: home, language switch, notifications, job status, audit log, health."""

from datetime import date

from flask import abort, current_app, jsonify, make_response, redirect, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select

from dms.core import bp
from dms.core.auth import require_permission
from dms.core.i18n import LOCALE_COOKIE
from dms.core.jobs import commit
from dms.core.listing import paginate_list
from dms.core.models import AuditLog, Job, Notification
from dms.core.nav import nav_for, nav_url
from dms.core.render import render
from dms.extensions import db


@bp.app_context_processor
def shell_context():
    """Navigation and the unread count for the layout."""
    if current_user and current_user.is_authenticated:
        return {"nav_sections": nav_for(current_user), "nav_url": nav_url}
    return {"nav_sections": [], "nav_url": nav_url}


@bp.get("/")
@login_required
def home():
    """The home page: a welcome, the panels areas contribute (a dashboard) and the areas this user can open."""
    from dms.core.home import panels

    return render("core/home.html", panels=panels(current_user))


@bp.post("/language")
def set_language():
    """Switch the interface language: saved on the user, and in a cookie before login."""
    from dms.core import services

    locale = request.form.get("locale", "")
    if locale not in current_app.config["LANGUAGES"]:
        abort(400)
    if current_user.is_authenticated:
        services.set_user_locale(current_user, locale)
        commit()
    target = request.form.get("next") or request.referrer or url_for("core.home")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("core.home")
    response = make_response(redirect(target))
    if request.headers.get("HX-Request"):
        response = make_response("", 204)
        response.headers["HX-Refresh"] = "true"
    response.set_cookie(LOCALE_COOKIE, locale, max_age=365 * 24 * 3600, httponly=True, samesite="Lax",
                        secure=current_app.config.get("SESSION_COOKIE_SECURE", False))
    return response


@bp.get("/notifications")
@login_required
def list_notifications():
    """The user's notifications, newest first."""
    stmt = select(Notification).where(Notification.user_id == current_user.id)
    page = paginate_list(stmt, search=[Notification.title, Notification.body],
                         sorts={"created": Notification.created_at}, default_sort="created", default_dir="desc",
                         filters={"unread": lambda s, v: s.where(Notification.read_at.is_(None)) if v == "1" else s})
    return render("core/notifications.html", "core/_notifications_table.html", page=page)


@bp.get("/notifications/bell")
@login_required
def notification_bell():
    """The bell with the unread count; htmx polls this fragment."""
    unread = db.session.scalar(select(func.count()).where(
        Notification.user_id == current_user.id, Notification.read_at.is_(None))) or 0
    return render("core/_bell.html", "core/_bell.html", unread=unread)


@bp.post("/notifications/<int:notification_id>/read")
@login_required
def read_notification(notification_id: int):
    """Mark one notification read and follow its link."""
    from dms.core import services

    note = services.mark_read(current_user, notification_id)
    commit()
    return redirect(note.link if note.link and note.link.startswith("/") else url_for("core.list_notifications"))


@bp.post("/notifications/read-all")
@login_required
def read_all_notifications():
    """Mark every notification of the user read."""
    from dms.core import services

    services.mark_all_read(current_user)
    commit()
    return redirect(url_for("core.list_notifications"))


def _job_scope(stmt):
    return stmt if current_user.can("jobs.view_all") else stmt.where(Job.owner_id == current_user.id)


@bp.get("/jobs")
@login_required
def list_jobs():
    """Background jobs: everyone's for those allowed, else the user's own."""
    page = paginate_list(_job_scope(select(Job)), search=[Job.name, Job.key],
                         sorts={"created": Job.created_at, "status": Job.status, "queue": Job.queue},
                         default_sort="created", default_dir="desc",
                         filters={"status": lambda s, v: s.where(Job.status == v),
                                  "queue": lambda s, v: s.where(Job.queue == v)})
    return render("core/jobs.html", "core/_jobs_table.html", page=page)


@bp.get("/jobs/<int:job_id>")
@login_required
def show_job(job_id: int):
    """One job's status and progress; htmx polls the fragment until the job ends."""
    job = db.session.scalar(_job_scope(select(Job).where(Job.id == job_id)))
    if job is None:
        abort(404)
    return render("core/job.html", "core/_job_status.html", job=job)


def _date_arg(name: str):
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/audit")
@require_permission("audit.view")
def list_audit():
    """The audit log, filtered by user, record type and date range."""
    from dms.core.time import business_day_bounds_utc

    def since(stmt, value):
        day = _date_arg("since")
        return stmt.where(AuditLog.at >= business_day_bounds_utc(day)[0]) if day else stmt

    def until(stmt, value):
        day = _date_arg("until")
        return stmt.where(AuditLog.at < business_day_bounds_utc(day)[1]) if day else stmt

    def actor(stmt, value):
        by_id = AuditLog.actor_id == int(value) if value.isdigit() else False
        return stmt.where(AuditLog.actor_label.ilike(f"%{value}%") | by_id)

    page = paginate_list(
        select(AuditLog), search=[AuditLog.summary, AuditLog.action, AuditLog.record_id],
        sorts={"at": AuditLog.at, "action": AuditLog.action, "type": AuditLog.record_type},
        default_sort="at", default_dir="desc",
        filters={"actor": actor, "type": lambda s, v: s.where(AuditLog.record_type == v),
                 "record": lambda s, v: s.where(AuditLog.record_id == v),
                 "since": since, "until": until})
    types = [(t, t) for t in db.session.scalars(select(AuditLog.record_type).distinct().order_by(AuditLog.record_type))]
    return render("core/audit.html", "core/_audit_table.html", page=page, record_types=types)


@bp.get("/healthz")
def healthz():
    """Health as JSON: 200 ok, 200 degraded (Redis down: jobs wait in the outbox), 503 without the database."""
    from dms.core.observability import health

    body, code = health()
    return jsonify(body), code

