"""Distributor applications (代理申请): submission with automatic checks, the private status link, review.

Anyone may apply (the public page, the mini-program through the API). The submission is validated
field by field, refused when the same person or company already has an open application or is a
distributor, and checked automatically (the checks are stored with the application). Reviewers
then approve — which creates the distributor, its warehouse, its territory grant and its first
user in the caller's one transaction — or reject with a reason; the applicant may withdraw while
the application is open. The clear national ID number never leaves the encrypted column: not into
the audit log, the checks, notifications or logs.
"""

import hashlib
import secrets
from datetime import date

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from dms.accounts.models import RolePermission, User, user_roles
from dms.core import audit
from dms.core.crypto import blind_index, blind_indexes
from dms.core.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationError
from dms.core.locks import lock_subject
from dms.core.services import notify
from dms.core.time import business_today, utcnow
from dms.distributors.grants import conflict_message, conflicting_grants, grant_territory
from dms.distributors.models import OPEN_STATES, Application, ApplicationCheck, Distributor
from dms.distributors.services import (
    active_distributor_with,
    clean_identity,
    clean_region,
    create_distributor,
    level_label,
)
from dms.extensions import db
from dms.territories.services import find_region

REVIEW = "applications.review"
APPLICANT_TYPES = ("person", "company")
SOURCES = ("web", "api")
TEXT_FIELDS = ("applicant_type", "name", "id_number", "company_name", "credit_code", "phone", "email",
               "region_code", "level", "message")
MESSAGE_MAX = 2000
REASON_MAX = 500
PASSWORD_LINK_HOURS = 72


class Duplicate(Conflict):
    """The same ID number or credit code already has an open application or is a distributor."""

    code = "duplicate"


def state_label(state: str) -> str:
    """The translated name of an application state."""
    return {"submitted": _("submitted"), "needs_review": _("needs review"), "under_review": _("under review"),
            "approved": _("approved"), "rejected": _("rejected"), "withdrawn": _("withdrawn")}.get(state, state)


def check_label(code: str) -> str:
    """The translated name of an automatic check."""
    return {"completeness": _("Completeness"), "id_number": _("ID number"), "credit_code": _("Credit code"),
            "phone": _("Mobile number"), "email": _("Email"), "region": _("Region"),
            "territory": _("Territory"), "duplicates": _("Duplicates")}.get(code, code)


def hash_token(token: str) -> str:
    """The SHA-256 (hex) under which a private link's token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def _require(actor, permission: str = REVIEW):
    if actor is not None and not actor.can(permission):
        raise Forbidden()


class _Applicant:
    """The audit log's actor for what the applicant does through the public page or the API."""

    id = None

    def __init__(self, source: str):
        self.label = f"applicant ({source})"


class _OnBehalf:
    """The reviewer approving an application: the approval itself may create the distributor, grant
    its territory and open its user, without the reviewer holding those rights in general."""

    GRANTED = frozenset({"distributors.manage", "territories.manage", "users.manage"})

    def __init__(self, actor):
        self.actor = actor

    @property
    def id(self):
        return getattr(self.actor, "id", None)

    @property
    def label(self):
        return getattr(self.actor, "label", None) or str(self.actor)

    def can(self, permission: str) -> bool:
        return permission in self.GRANTED or self.actor.can(permission)


def _text_fields(data: dict) -> tuple[dict, dict]:
    """The submitted values as stripped strings (numbers accepted for region code and phone), and type errors."""
    values, errors = {}, {}
    for name in TEXT_FIELDS:
        value = data.get(name)
        if value is None:
            values[name] = ""
        elif isinstance(value, str):
            values[name] = value.strip()
        elif name in ("region_code", "phone") and isinstance(value, int) and not isinstance(value, bool):
            values[name] = str(value)
        else:
            errors[name] = [_("Must be text.")]
            values[name] = ""
    return values, errors


def clean_application(data: dict) -> dict:
    """Validate and normalise an application's fields; raises ValidationError naming every bad field."""
    values, errors = _text_fields(data)
    applicant_type = values["applicant_type"]
    if applicant_type not in APPLICANT_TYPES and "applicant_type" not in errors:
        errors["applicant_type"] = [_("Choose person or company.")]
    identity = {}
    try:
        identity = clean_identity({**values, "kind": applicant_type if applicant_type in APPLICANT_TYPES else "person"},
                                  id_required=applicant_type != "company")
    except ValidationError as exc:
        for name, messages in exc.fields.items():
            errors.setdefault("applicant_type" if name == "kind" else name, list(messages))
    region = {}
    try:
        region = clean_region(values["region_code"], values["level"] or None)
    except ValidationError as exc:
        for name, messages in exc.fields.items():
            errors.setdefault(name, list(messages))
    if len(values["message"]) > MESSAGE_MAX:
        errors["message"] = [_("At most %(n)d characters.", n=MESSAGE_MAX)]
    if errors:
        raise ValidationError(_("Some fields are not valid: %(fields)s.", fields=", ".join(sorted(errors))),
                              fields=errors)
    return {**identity, **region, "applicant_type": applicant_type, "message": values["message"]}


def _lock_numbers(id_number: str | None, credit_code: str | None):
    """Serialise submissions of the same ID number or credit code (so two at once cannot both pass)."""
    keys = sorted({int(blind_index(v)[:7], 16) for v in (id_number, credit_code) if v})
    for key in keys:
        lock_subject("distributor_applications", key)


def find_duplicate(id_number: str | None, credit_code: str | None) -> Duplicate | None:
    """The Duplicate error for an open application or an active (or suspended) distributor with these numbers."""
    match = []
    if id_number:
        match.append(Application.id_number_index.in_(blind_indexes(id_number)))
    if credit_code:
        match.append(Application.credit_code == credit_code)
    if not match:
        return None
    open_one = db.session.scalars(select(Application).where(or_(*match), Application.state.in_(OPEN_STATES))
                                  .order_by(Application.id).limit(1)).first()
    if open_one is not None:
        by_id = bool(id_number) and open_one.id_number_index in blind_indexes(id_number)
        message = (_("An application with this ID number is still open: follow it with its status link.") if by_id
                   else _("An application with this credit code is still open: follow it with its status link."))
        return Duplicate(message, fields={"id_number" if by_id else "credit_code": [message]})
    distributor = active_distributor_with(id_number, credit_code)
    if distributor is not None:
        by_id = bool(id_number) and distributor.id_number_index in blind_indexes(id_number)
        message = (_("This ID number already belongs to a distributor.") if by_id
                   else _("This credit code already belongs to a distributor."))
        return Duplicate(message, fields={"id_number" if by_id else "credit_code": [message]})
    return None


def _checks(cleaned: dict) -> list[ApplicationCheck]:
    """The automatic checks of a valid application (their details never hold the clear ID number)."""
    region = find_region(cleaned["region_code"])
    checks = [ApplicationCheck(code="completeness", passed=True, detail=_("Every required field is given."))]
    if cleaned.get("id_number"):
        checks.append(ApplicationCheck(code="id_number", passed=True, detail=_(
            "The national ID number is well-formed and its check character is right (GB 11643).")))
    if cleaned["applicant_type"] == "company":
        checks.append(ApplicationCheck(code="credit_code", passed=True, detail=_(
            "The unified social credit code is well-formed and its check character is right (GB 32100).")))
    checks.append(ApplicationCheck(code="phone", passed=True, detail=_("A mainland mobile number.")))
    if cleaned.get("email"):
        checks.append(ApplicationCheck(code="email", passed=True, detail=_("The email address is well-formed.")))
    checks.append(ApplicationCheck(code="region", passed=True, detail=_(
        "%(region)s exists and is a %(level)s.", region=region.name, level=level_label(region.level))))
    taken = conflicting_grants(region.code, business_today(), None)
    if taken:
        checks.append(ApplicationCheck(code="territory", passed=False, detail=conflict_message(taken[0])[:255]))
    else:
        checks.append(ApplicationCheck(code="territory", passed=True, detail=_(
            "No exclusive grant in force or to come overlaps %(region)s.", region=region.name)))
    checks.append(ApplicationCheck(code="duplicates", passed=True, detail=_(
        "No open application and no distributor has this ID number or credit code.")))
    return checks


def review_path(application_id: int) -> str:
    """The address of an application's review page (also outside a request: jobs, commands)."""
    if has_request_context():
        return url_for("distributors.show_application", application_id=application_id)
    adapter = current_app.url_map.bind("localhost")
    return adapter.build("distributors.show_application", {"application_id": application_id})


def reviewers() -> list[User]:
    """Every active user whose roles grant applications.review."""
    holders = (select(user_roles.c.user_id)
               .join(RolePermission, RolePermission.role_id == user_roles.c.role_id)
               .where(RolePermission.permission == REVIEW))
    return list(db.session.scalars(select(User).where(User.active.is_(True), User.id.in_(holders))
                                   .order_by(User.id)))


def _notify_reviewers(application: Application):
    link = review_path(application.id)
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    for user in reviewers():
        with force_locale(user.locale or default):
            title = (_("Application %(ref)s needs review: an automatic check failed", ref=application.reference)
                     if application.state == "needs_review"
                     else _("New distributor application %(ref)s", ref=application.reference))
            body = _("%(name)s applies for %(region)s (%(level)s).", name=application.display_name,
                     region=application.region.name, level=level_label(application.level))
        notify(user.id, title, body, link)


def submit_application(data: dict, source: str = "web") -> tuple[Application, str]:
    """File an application; return it and its private status token (only its hash is stored).

    Raises ValidationError (every bad field at once) or Duplicate (409) when the ID number or credit
    code has an open application or is an active or suspended distributor.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    cleaned = clean_application(data)
    _lock_numbers(cleaned["id_number"], cleaned["credit_code"])
    duplicate = find_duplicate(cleaned["id_number"], cleaned["credit_code"])
    if duplicate is not None:
        raise duplicate
    token = secrets.token_urlsafe(32)
    application = Application(
        applicant_type=cleaned["applicant_type"], name=cleaned["name"], company_name=cleaned["company_name"],
        credit_code=cleaned["credit_code"], id_number=cleaned["id_number"],
        id_number_index=blind_index(cleaned["id_number"]) if cleaned["id_number"] else None,
        phone=cleaned["phone"], email=cleaned["email"], region_code=cleaned["region_code"], level=cleaned["level"],
        message=cleaned["message"], source=source, status_token_hash=hash_token(token))
    application.checks = _checks(cleaned)
    application.state = "submitted" if all(c.passed for c in application.checks) else "needs_review"
    db.session.add(application)
    db.session.flush()
    audit.record("application.submit", "application", application.id,
                 f"{application.reference} {application.display_name}"[:255],
                 {"state": [None, application.state], "region_code": [None, application.region_code],
                  "level": [None, application.level], "source": [None, source],
                  "failed_checks": [None, sorted(c.code for c in application.checks if not c.passed)]},
                 actor=_Applicant(source))
    _notify_reviewers(application)
    return application, token


def get_by_token(token: str) -> Application:
    """The application behind a private status link; raises NotFound."""
    application = None
    if token and len(token) <= 128:
        application = db.session.scalar(select(Application).where(Application.status_token_hash == hash_token(token)))
    if application is None:
        raise NotFound(_("There is no application behind this link."))
    return application


def _must_be_open(application: Application):
    if not application.is_open:
        raise InvalidTransition(_("This application is already %(state)s.", state=state_label(application.state)))


def _hold(application: Application):
    """Lock the application until the transaction ends and read it again: of two decisions taken at
    once, the second waits for the first and then sees it."""
    lock_subject("distributor_applications", application.id)
    db.session.refresh(application)


def withdraw(application: Application) -> Application:
    """The applicant withdraws an open application; raises InvalidTransition once it is decided."""
    _hold(application)
    _must_be_open(application)
    before = application.state
    application.state, application.withdrawn_at = "withdrawn", utcnow()
    db.session.flush()
    audit.record("application.withdraw", "application", application.id, application.reference,
                 {"state": [before, "withdrawn"]}, actor=_Applicant(application.source))
    return application


def get_application(actor, application_id: int) -> Application:
    """One application for a reviewer; raises Forbidden or NotFound."""
    _require(actor)
    application = db.session.get(Application, application_id)
    if application is None:
        raise NotFound()
    return application


def start_review(actor, application: Application) -> Application:
    """A reviewer takes a submitted (or flagged) application; raises InvalidTransition otherwise."""
    _require(actor)
    _hold(application)
    if application.state not in ("submitted", "needs_review"):
        raise InvalidTransition(_("Only a submitted application can be taken for review; this one is %(state)s.",
                                  state=state_label(application.state)))
    before = application.state
    application.state, application.review_started_at = "under_review", utcnow()
    application.reviewer_id = getattr(actor, "id", None)
    db.session.flush()
    audit.record("application.start_review", "application", application.id, application.reference,
                 {"state": [before, "under_review"]}, actor=actor)
    return application


def reject(actor, application: Application, reason: str) -> Application:
    """Reject an open application with a reason (required); raises ValidationError or InvalidTransition."""
    _require(actor)
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationError(fields={"reason": [_("Give the reason for the rejection.")]})
    if len(reason) > REASON_MAX:
        raise ValidationError(fields={"reason": [_("At most %(n)d characters.", n=REASON_MAX)]})
    _hold(application)
    _must_be_open(application)
    before = application.state
    application.state, application.decided_at, application.decision_reason = "rejected", utcnow(), reason
    application.reviewer_id = application.reviewer_id or getattr(actor, "id", None)
    db.session.flush()
    audit.record("application.reject", "application", application.id, f"{application.reference}: {reason}"[:255],
                 {"state": [before, "rejected"], "reason": [None, reason]}, actor=actor)
    return application


def free_username(phone: str) -> str:
    """The phone number if no user has it as username, else phone-2, phone-3, ..."""
    candidate, n = phone, 1
    while db.session.scalar(select(User.id).where(func.lower(User.username) == candidate.lower())):
        n += 1
        candidate = f"{phone}-{n}"
    return candidate


def approve(actor, application: Application, *, reason: str = "", exclusive: bool = True,
            effective_from: date | None = None, profit_share=None,
            username: str | None = None) -> tuple[Distributor, User, str]:
    """Approve an open application: create the distributor (and its warehouse), grant its region, open its
    user and a one-time password link; return (distributor, user, link token).

    Nothing is committed here: any error (TerritoryTaken when the region was granted meanwhile, Duplicate,
    ValidationError, InvalidTransition) leaves the caller's transaction to roll back whole.
    """
    from dms.accounts.services import create_user, issue_password_token

    _require(actor)
    _hold(application)
    _must_be_open(application)
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if len(reason) > REASON_MAX:
        raise ValidationError(fields={"reason": [_("At most %(n)d characters.", n=REASON_MAX)]})
    if effective_from is not None and not isinstance(effective_from, date):
        raise ValidationError(fields={"effective_from": [_("Enter a date.")]})
    if application.state != "under_review":
        start_review(actor, application)
    on_behalf = _OnBehalf(actor) if actor is not None else None
    distributor = create_distributor(on_behalf, {
        "kind": application.applicant_type, "name": application.name, "company_name": application.company_name,
        "credit_code": application.credit_code, "phone": application.phone, "email": application.email,
        "id_number": application.id_number, "region_code": application.region_code, "level": application.level,
        "exclusive": bool(exclusive), "profit_share": profit_share})
    grant = grant_territory(on_behalf, distributor, application.region_code, exclusive=bool(exclusive),
                            effective_from=effective_from or business_today(),
                            note=_("Application %(ref)s", ref=application.reference))
    username = (username or "").strip() if isinstance(username, str) else ""
    user = create_user(on_behalf, username=username or free_username(application.phone),
                       password=secrets.token_urlsafe(48),  # never told to anyone: the link sets the real one
                       roles=["distributor"], display_name=application.display_name[:120], phone=application.phone,
                       email=application.email, distributor_id=distributor.id)
    token = issue_password_token(user, hours=PASSWORD_LINK_HOURS, actor=on_behalf)
    before = application.state
    application.state, application.decided_at, application.decision_reason = "approved", utcnow(), reason
    application.distributor_id = distributor.id
    application.reviewer_id = application.reviewer_id or getattr(actor, "id", None)
    db.session.flush()
    audit.record("application.approve", "application", application.id,
                 _("%(ref)s approved: distributor %(name)s", ref=application.reference,
                   name=distributor.display_name)[:255],
                 {"state": [before, "approved"], "distributor_id": [None, distributor.id],
                  "grant_id": [None, grant.id], "exclusive": [None, bool(exclusive)],
                  "username": [None, user.username], "reason": [None, reason or None]}, actor=actor)
    _mail_password_link(user)
    return distributor, user, token


def first_user(application: Application) -> User | None:
    """The user the approval opened for the distributor (its oldest), if any."""
    if application.distributor_id is None:
        return None
    return db.session.scalars(select(User).where(User.distributor_id == application.distributor_id)
                              .order_by(User.id).limit(1)).first()


def reissue_password_link(actor, application: Application) -> tuple[User, str]:
    """A fresh one-time link for the user an approval opened, while that user has not set a password yet.

    Raises InvalidTransition when the application is not approved, Conflict once the password is set
    (then only an administrator can reset it).
    """
    from dms.accounts.services import has_set_password, issue_password_token

    _require(actor)
    user = first_user(application) if application.state == "approved" else None
    if user is None:
        raise InvalidTransition(_("Only an approved application has a distributor user."))
    if has_set_password(user) or not user.active:
        raise Conflict(_("%(user)s has already set a password (or is disabled): an administrator can reset it.",
                         user=user.username))
    token = issue_password_token(user, hours=PASSWORD_LINK_HOURS, actor=actor)
    audit.record("application.password_link", "application", application.id,
                 _("New password link for %(user)s", user=user.username), actor=actor)
    return user, token


def _mail_password_link(user: User):
    """When mail is configured and the user has an email address, mail them a link of their own (a job)."""
    from dms.core.jobs import enqueue
    from dms.core.mail import mail_configured

    if not mail_configured() or not user.email:
        return

    base_url = current_app.config.get("DMS_BASE_URL") or ""
    if not base_url and has_request_context():
        from flask import request

        base_url = request.host_url
    # The job issues its own token: job arguments are stored in clear in the jobs table.
    enqueue(send_password_link_mail, user.id, base_url.rstrip("/"), key=f"password-link-mail:{user.id}")


def send_password_link_mail(user_id: int, base_url: str):
    """Job: mail a new distributor user a one-time link to set their password."""
    from dms.accounts.services import has_set_password, issue_password_token
    from dms.core.mail import send_mail

    user = db.session.get(User, user_id)
    if user is None or not user.email or not user.active or has_set_password(user):
        return {"sent": False}
    token = issue_password_token(user, hours=PASSWORD_LINK_HOURS)
    path = current_app.url_map.bind("localhost").build("accounts.set_password", {"token": token})
    with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _("Your distributor account is ready")
        body = _("Welcome! Your application was approved. Your username is %(user)s.\n\n"
                 "Set your password within %(hours)d hours with this one-time link:\n%(link)s\n",
                 user=user.username, hours=PASSWORD_LINK_HOURS, link=f"{base_url}{path}")
    send_mail(user.email, subject, body)
    return {"sent": True}
