"""Application pages: the public form and private status link, and the reviewers' queue, detail and decisions."""

from datetime import date

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from dms.accounts.models import User
from dms.core.auth import require_permission
from dms.core.forms import form_status, submit
from dms.core.listing import contains_pattern, paginate_list
from dms.core.models import AuditLog
from dms.core.render import render
from dms.core.time import business_day_bounds_utc, business_today
from dms.distributors import applications as services
from dms.distributors import bp
from dms.distributors.application_forms import (
    ApplyForm,
    ApproveForm,
    PasswordLinkForm,
    RejectForm,
    StartReviewForm,
    WithdrawForm,
)
from dms.distributors.models import APPLICATION_STATES, LEVELS, Application
from dms.distributors.services import level_label
from dms.extensions import db, limiter
from dms.territories import services as regions
from dms.territories.picker import picked_code

DEFAULT_LIMITS = "10 per hour"
REVIEW = "applications.review"
APPLY_FIELDS = ("applicant_type", "name", "id_number", "company_name", "credit_code", "phone", "email", "level",
                "message")


def application_rate_limited(view):
    """Limit submissions per client address, the web form and the API together (429 past the limit).

    APPLICATION_LIMITS (default 10 per hour) sets it. Redrawing the region picker without JavaScript
    posts the form too, but submits nothing, so it is not counted.
    """
    return limiter.shared_limit(lambda: current_app.config.get("APPLICATION_LIMITS", DEFAULT_LIMITS),
                                scope="applications", methods=["POST"],
                                exempt_when=lambda: "refresh_region" in request.form)(view)


def _private(response):
    """A page whose address or content holds a secret: never cached, never sent on as a referrer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _submit(form, action, aliases: dict | None = None):
    """dms.core.forms.submit, with the status to answer: 422 for bad fields, 409 for a conflict."""
    result = submit(form, action, aliases)
    return result, form_status(form, invalid=422)


# ---------------------------------------------------------------- the public side

@bp.route("/apply", methods=["GET", "POST"])
@application_rate_limited
def apply():
    """The public application form (no login); a valid one goes on to its private status page."""
    form = ApplyForm()
    if form.is_submitted():
        region_code = picked_code(request.form, "region_code")
    else:
        region_code = (request.args.get("region_code") or "").strip()[:6]
        if request.args.get("level") in LEVELS:
            form.level.data = request.args["level"]
    if "refresh_region" in request.form:  # the picker redrawn without JavaScript: nothing is submitted
        return render("distributors/apply.html", form=form, region_code=region_code)

    def file_it():
        data = {name: getattr(form, name).data for name in APPLY_FIELDS}
        data["region_code"] = region_code
        region = regions.find_region(region_code)
        if not data["level"] and region is not None:
            data["level"] = region.level  # "the level of the chosen region"
        return services.submit_application(data, source="web")

    result, status = _submit(form, file_it)
    if result:
        _application, token = result
        return redirect(url_for("distributors.application_status", token=token, new=1), 303)
    if not form.level.data and form.region_code.errors:
        form.level.errors = []  # "the level of the chosen region": the region's own error says it all
    form.id_number.data = ""  # a re-shown form never echoes the ID number: the applicant types it again
    return render("distributors/apply.html", form=form, region_code=region_code, status=status)


def _status_page(application, token: str, form=None, status: int = 200):
    return _private(render(
        "distributors/apply_status.html", application=application, token=token, status=status,
        form=form or WithdrawForm(formdata=None), new=request.args.get("new") == "1",
        status_url=url_for("distributors.application_status", token=token, _external=True),
        state_label=services.state_label, level_label=level_label))


@bp.get("/apply/status/<token>")
def application_status(token: str):
    """The applicant's private status page: state, dates, the decision and its reason; withdraw while open."""
    return _status_page(services.get_by_token(token), token)


@bp.post("/apply/status/<token>/withdraw")
def withdraw_application(token: str):
    """The applicant withdraws their open application (a tick box confirms)."""
    application = services.get_by_token(token)
    form = WithdrawForm()
    result, status = _submit(form, lambda: services.withdraw(application))
    if result:
        flash(_("Your application %(ref)s is withdrawn.", ref=application.reference), "success")
        return redirect(url_for("distributors.application_status", token=token), 303)
    return _status_page(application, token, form=form, status=status)


# ---------------------------------------------------------------- the reviewers' side

def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _since(stmt, value):
    day = _day(value)
    return stmt.where(Application.submitted_at >= business_day_bounds_utc(day)[0]) if day else stmt


def _until(stmt, value):
    day = _day(value)
    return stmt.where(Application.submitted_at < business_day_bounds_utc(day)[1]) if day else stmt


FILTERS = {
    "state": lambda s, v: s.where(Application.state == v) if v in APPLICATION_STATES else s,
    "level": lambda s, v: s.where(Application.level == v) if v in LEVELS else s,
    "since": _since,
    "until": _until,
}
SEARCH = (Application.name, Application.company_name, Application.phone)


def _state_counts(stmt) -> dict[str, int]:
    """How many applications in each state match the search and every filter but the state one."""
    q = (request.args.get("q") or "").strip()[:100]
    if q:
        pattern = contains_pattern(q)
        stmt = stmt.where(db.or_(*[col.ilike(pattern, escape="\\") for col in SEARCH]))
    for name, apply_filter in FILTERS.items():
        value = (request.args.get(name) or "").strip()
        if value and name != "state":
            stmt = apply_filter(stmt, value)
    sub = stmt.subquery()
    return dict(db.session.execute(select(sub.c.state, func.count()).group_by(sub.c.state)).all())


@bp.get("/applications")
@require_permission(REVIEW)
def list_applications():
    """The review queue: counts per state, filters by state, level, region and dates, search, pages."""
    region = regions.find_region(picked_code(request.args, "region"))
    base = select(Application)
    if region is not None:
        base = base.where(Application.region_code.in_(regions.subtree_codes(region.code)))
    page = paginate_list(base, search=SEARCH, filters=FILTERS, default_sort="submitted", default_dir="desc",
                         sorts={"submitted": Application.submitted_at, "name": Application.name,
                                "state": Application.state, "region": Application.region_code})
    if region is not None:
        page.filters["region"] = region.code
    counts = _state_counts(base)
    return render("distributors/applications.html", "distributors/_applications_table.html", page=page,
                  counts=counts, total=sum(counts.values()), states=APPLICATION_STATES, region=region,
                  state_label=services.state_label, level_label=level_label,
                  levels=[(level, level_label(level)) for level in LEVELS])


def _history(application: Application) -> list[AuditLog]:
    return list(db.session.scalars(select(AuditLog).where(
        AuditLog.record_type == "application", AuditLog.record_id == str(application.id))
        .order_by(AuditLog.at, AuditLog.id)))


def _detail(application: Application, status: int = 200, approve_form=None, reject_form=None):
    """The application's review page, with the decision forms as given (failed) or fresh."""
    if approve_form is None:
        approve_form = ApproveForm(formdata=None, effective_from=business_today(),
                                   username=services.free_username(application.phone) if application.is_open else "")
    reviewer = db.session.get(User, application.reviewer_id) if application.reviewer_id else None
    return render("distributors/applications_detail.html", application=application, status=status,
                  approve_form=approve_form, reject_form=reject_form or RejectForm(formdata=None),
                  review_form=StartReviewForm(formdata=None), link_form=PasswordLinkForm(formdata=None),
                  history=_history(application), reviewer=reviewer, path=regions.with_paths([application.region])[0][1],
                  distributor_url=_distributor_url(application.distributor_id),
                  state_label=services.state_label, check_label=services.check_label, level_label=level_label)


def _distributor_url(distributor_id: int | None) -> str | None:
    """The distributor's page, when that page exists (another part of the area draws it)."""
    if distributor_id is None:
        return None
    try:
        return url_for("distributors.show_distributor", distributor_id=distributor_id)
    except BuildError:
        return None


@bp.get("/applications/<int:application_id>")
@require_permission(REVIEW)
def show_application(application_id: int):
    """One application: its fields (ID number masked), checks, history and the decision forms."""
    return _detail(services.get_application(current_user, application_id))


@bp.post("/applications/<int:application_id>/review")
@require_permission(REVIEW)
def start_application_review(application_id: int):
    """Take a submitted application for review."""
    application = services.get_application(current_user, application_id)
    form = StartReviewForm()
    result, status = _submit(form, lambda: services.start_review(current_user, application))
    if result:
        flash(_("You are reviewing %(ref)s.", ref=application.reference), "success")
        return redirect(url_for("distributors.show_application", application_id=application.id), 303)
    flash(" ".join(form.form_errors) or _("The request could not be processed."), "error")
    return _detail(application, status=status)


def _link_page(application, user, token: str, distributor=None):
    """The one page that shows a one-time password link; never cached."""
    return _private(render("distributors/applications_approved.html", application=application, user=user,
                           distributor=distributor, hours=services.PASSWORD_LINK_HOURS,
                           link=url_for("accounts.set_password", token=token, _external=True),
                           distributor_url=_distributor_url(application.distributor_id)))


@bp.post("/applications/<int:application_id>/approve")
@require_permission(REVIEW)
def approve_application(application_id: int):
    """Approve: distributor, warehouse, territory grant, user and one-time link in one transaction."""
    application = services.get_application(current_user, application_id)
    form = ApproveForm()
    result, status = _submit(form, lambda: services.approve(
        current_user, application, reason=form.reason.data or "", exclusive=form.exclusive.data,
        effective_from=form.effective_from.data, profit_share=form.profit_share.data or None,
        username=form.username.data or None))
    if result:
        distributor, user, token = result
        return _link_page(application, user, token, distributor)
    return _detail(application, status=status, approve_form=form)


@bp.post("/applications/<int:application_id>/reject")
@require_permission(REVIEW)
def reject_application(application_id: int):
    """Reject with a reason (required)."""
    application = services.get_application(current_user, application_id)
    form = RejectForm()
    result, status = _submit(form, lambda: services.reject(current_user, application, form.reason.data or ""))
    if result:
        flash(_("%(ref)s is rejected.", ref=application.reference), "success")
        return redirect(url_for("distributors.show_application", application_id=application.id), 303)
    return _detail(application, status=status, reject_form=form)


@bp.post("/applications/<int:application_id>/password-link")
@require_permission(REVIEW)
def reissue_password_link(application_id: int):
    """A new one-time password link for the approved distributor's user, while they have not set one."""
    application = services.get_application(current_user, application_id)
    form = PasswordLinkForm()
    result, status = _submit(form, lambda: services.reissue_password_link(current_user, application))
    if result:
        user, token = result
        return _link_page(application, user, token)
    flash(" ".join(form.form_errors) or _("The request could not be processed."), "error")
    return _detail(application, status=status)
