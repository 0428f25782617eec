"""Distributor applications over the API (API.md "Distributor applications"): public submission, review, decision.

The one-time password link an approval makes is not in the API's answer: it is a credential, and
answers are stored for Idempotency-Key replays and logged by integrations. Reviewers get a new link
on the application's web page (and by mail when mail is configured).
"""

from datetime import UTC, date, datetime

from flask import current_app, g, url_for
from flask_babel import gettext as _

from dms.api import bp, openapi
from dms.api.auth import api_view
from dms.api.helpers import json_body
from dms.core.errors import ValidationError
from dms.distributors import applications as services
from dms.distributors.application_views import application_rate_limited
from dms.distributors.models import APPLICATION_STATES, Application
from dms.extensions import limiter

DECISIONS = ("approved", "rejected")


def _public_limit(view):
    """The general limit of public API endpoints (PUBLIC_API_LIMIT) per client address."""
    return limiter.limit(lambda: current_app.config["PUBLIC_API_LIMIT"], scope="public-api", methods=["POST"])(view)


def _timestamp(value: datetime | None) -> str | None:
    return value.replace(tzinfo=UTC).isoformat() if value else None


def _checks(application: Application) -> list[dict]:
    return [{"check": c.code, "passed": c.passed, "detail": c.detail} for c in application.checks]


def serialize(application: Application) -> dict:
    """An application as the API shows it to reviewers; the ID number masked."""
    return {
        "application_id": application.id, "reference": application.reference, "status": application.state,
        "applicant_type": application.applicant_type, "name": application.name,
        "company_name": application.company_name, "credit_code": application.credit_code,
        "id_number": application.id_number_masked or None, "phone": application.phone, "email": application.email,
        "region_code": application.region_code, "region_name": application.region.name, "level": application.level,
        "message": application.message, "source": application.source, "checks": _checks(application),
        "submitted_at": _timestamp(application.submitted_at),
        "review_started_at": _timestamp(application.review_started_at),
        "reviewer_id": application.reviewer_id, "decided_at": _timestamp(application.decided_at),
        "decision_reason": application.decision_reason or None, "withdrawn_at": _timestamp(application.withdrawn_at),
        "distributor_id": application.distributor_id,
    }


@bp.post("/distributor-applications")
@_public_limit
@application_rate_limited
@api_view(public=True, idempotent=True)
def submit_distributor_application():
    """File an application (public, rate-limited); 201 with the checks and the private status link."""
    application, token = services.submit_application(json_body(), source="api")
    return {"application_id": application.id, "status": application.state, "checks": _checks(application),
            "reference": application.reference,
            "status_url": url_for("distributors.application_status", token=token, _external=True)}, 201


@bp.get("/distributor-applications/<int:application_id>")
@api_view(permission="applications.review")
def get_distributor_application(application_id: int):
    """One application for a reviewer, the ID number masked."""
    return serialize(services.get_application(g.principal, application_id))


def _decision_options(body: dict) -> dict:
    """The optional approval settings of a decision body; ValidationError naming each bad one."""
    errors, options = {}, {}
    if "exclusive" in body:
        if not isinstance(body["exclusive"], bool):
            errors["exclusive"] = [_("true or false.")]
        options["exclusive"] = body["exclusive"]
    if body.get("effective_from") is not None:
        try:
            options["effective_from"] = date.fromisoformat(str(body["effective_from"]))
        except ValueError:
            errors["effective_from"] = [_("A date such as 2026-05-01.")]
    if body.get("profit_share") is not None:
        if isinstance(body["profit_share"], bool) or not isinstance(body["profit_share"], (int, float, str)):
            errors["profit_share"] = [_("Enter a percentage such as 12.5.")]
        options["profit_share"] = str(body["profit_share"])
    if body.get("username") is not None:
        if not isinstance(body["username"], str):
            errors["username"] = [_("Must be text.")]
        options["username"] = body["username"]
    if errors:
        raise ValidationError(fields=errors)
    return options


@bp.post("/distributor-applications/<int:application_id>/decision")
@api_view(permission="applications.review", idempotent=True)
def decide_distributor_application(application_id: int):
    """Approve (distributor, warehouse, grant and user in one transaction) or reject with a reason."""
    body = json_body()
    application = services.get_application(g.principal, application_id)
    decision, reason = body.get("decision"), body.get("reason")
    errors = {}
    if decision not in DECISIONS:
        errors["decision"] = [_("Either approved or rejected.")]
    if reason is not None and not isinstance(reason, str):
        errors["reason"] = [_("Must be text.")]
    if errors:
        raise ValidationError(fields=errors)
    if decision == "rejected":
        services.reject(g.principal, application, reason or "")
    else:
        services.approve(g.principal, application, reason=reason or "", **_decision_options(body))
    return {"application_id": application.id, "status": application.state,
            "distributor_id": application.distributor_id}


CHECK = {"type": "object", "required": ["check", "passed", "detail"], "additionalProperties": False,
         "properties": {"check": {"type": "string", "enum": ["completeness", "id_number", "credit_code", "phone",
                                                              "email", "region", "territory", "duplicates"]},
                        "passed": {"type": "boolean"}, "detail": {"type": "string"}}}
NULLABLE_STRING = {"type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

openapi.add_schema("ApplicationCheck", CHECK)
openapi.add_schema("ApplicationRequest", {
    "type": "object", "required": ["applicant_type", "name", "phone", "region_code", "level"],
    "properties": {
        "applicant_type": {"type": "string", "enum": ["person", "company"]},
        "name": {"type": "string", "maxLength": 120, "description": "The person, or a company's contact person."},
        "id_number": {**NULLABLE_STRING, "description": "18-character national ID number (GB 11643); required "
                                                        "for a person.", "examples": ["11010519491231002X"]},
        "company_name": {**NULLABLE_STRING, "description": "Required for a company."},
        "credit_code": {**NULLABLE_STRING, "description": "18-character unified social credit code (GB 32100); "
                                                          "required for a company."},
        "phone": {"type": "string", "description": "Mainland mobile number.", "examples": ["13800138000"]},
        "email": {**NULLABLE_STRING, "format": "email"},
        "region_code": {"type": "string", "description": "GB/T 2260 region code.", "examples": ["110105"]},
        "level": {"type": "string", "enum": ["province", "city", "county"],
                  "description": "Must be the level of region_code."},
        "message": NULLABLE_STRING,
    },
})
openapi.add_schema("ApplicationReceipt", {
    "type": "object", "required": ["application_id", "status", "checks", "reference", "status_url"],
    "additionalProperties": False,
    "properties": {
        "application_id": {"type": "integer"},
        "status": {"type": "string", "enum": ["submitted", "needs_review"],
                   "description": "needs_review when an automatic check failed (e.g. the territory is taken)."},
        "checks": {"type": "array", "items": openapi.ref("ApplicationCheck")},
        "reference": {"type": "string", "examples": ["SQ000001"]},
        "status_url": {"type": "string", "format": "uri",
                       "description": "The applicant's private status page (keep it secret; it is not shown again)."},
    },
})
openapi.add_schema("Application", {
    "type": "object", "additionalProperties": False,
    "required": ["application_id", "reference", "status", "applicant_type", "name", "id_number", "phone",
                 "region_code", "level", "checks", "submitted_at", "decided_at", "decision_reason", "distributor_id"],
    "properties": {
        "application_id": {"type": "integer"}, "reference": {"type": "string"},
        "status": {"type": "string", "enum": list(APPLICATION_STATES)},
        "applicant_type": {"type": "string", "enum": ["person", "company"]}, "name": {"type": "string"},
        "company_name": NULLABLE_STRING, "credit_code": NULLABLE_STRING,
        "id_number": {**NULLABLE_STRING, "description": "Masked.", "examples": ["110105********002X"]},
        "phone": {"type": "string"}, "email": NULLABLE_STRING, "region_code": {"type": "string"},
        "region_name": {"type": "string"}, "level": {"type": "string", "enum": ["province", "city", "county"]},
        "message": {"type": "string"}, "source": {"type": "string", "enum": ["web", "api"]},
        "checks": {"type": "array", "items": openapi.ref("ApplicationCheck")},
        "submitted_at": {"type": "string", "format": "date-time"}, "review_started_at": NULLABLE_TIME,
        "reviewer_id": {"type": ["integer", "null"]}, "decided_at": NULLABLE_TIME,
        "decision_reason": NULLABLE_STRING, "withdrawn_at": NULLABLE_TIME,
        "distributor_id": {"type": ["integer", "null"]},
    },
})
openapi.add_schema("ApplicationDecision", {
    "type": "object", "required": ["decision"],
    "properties": {
        "decision": {"type": "string", "enum": list(DECISIONS)},
        "reason": {"type": "string", "maxLength": 500, "description": "Required to reject."},
        "exclusive": {"type": "boolean", "default": True, "description": "Approval: an exclusive grant."},
        "effective_from": {"type": "string", "format": "date", "description": "Approval: the grant's first day "
                                                                              "(default today)."},
        "profit_share": {"type": ["number", "string"], "description": "Approval: percent, 0 to 100."},
        "username": {"type": "string", "description": "Approval: the new user's name (default: the mobile number)."},
    },
})
openapi.add_schema("ApplicationDecisionResult", {
    "type": "object", "required": ["application_id", "status", "distributor_id"], "additionalProperties": False,
    "properties": {"application_id": {"type": "integer"}, "status": {"type": "string", "enum": list(DECISIONS)},
                   "distributor_id": {"type": ["integer", "null"]}},
})
openapi.add_path("/api/distributor-applications", "post", {
    "operationId": "submitDistributorApplication", "tags": ["distributors"],
    "summary": "Apply to become a distributor (public, rate-limited)",
    "description": "No token needed. 409 `duplicate` when the ID number or credit code has an open application "
                   "or is an active distributor.",
    "security": [], "parameters": [openapi.IDEMPOTENCY_KEY], "requestBody": openapi.json_body("ApplicationRequest"),
    "responses": {"201": openapi.json_response("ApplicationReceipt", "Received.", idempotent=True),
                  **openapi.errors(400, 409, 413, 422, 429)},
})
APPLICATION_ID = {"name": "application_id", "in": "path", "required": True, "schema": {"type": "integer"}}
openapi.add_path("/api/distributor-applications/{application_id}", "get", {
    "operationId": "getDistributorApplication", "tags": ["distributors"],
    "summary": "One application (applications.review); the ID number masked", "parameters": [APPLICATION_ID],
    "responses": {"200": openapi.json_response("Application"), **openapi.errors(401, 403, 404)},
})
openapi.add_path("/api/distributor-applications/{application_id}/decision", "post", {
    "operationId": "decideDistributorApplication", "tags": ["distributors"],
    "summary": "Approve or reject an open application (applications.review)",
    "description": "Approval creates the distributor, its warehouse, its territory grant and its user in one "
                   "transaction: 409 `territory_taken` (and nothing created) when an exclusive grant overlaps the "
                   "region meanwhile; 409 `invalid_transition` when the application is no longer open; 422 for a bad "
                   "decision or a rejection without a reason.",
    "parameters": [APPLICATION_ID, openapi.IDEMPOTENCY_KEY], "requestBody": openapi.json_body("ApplicationDecision"),
    "responses": {"200": openapi.json_response("ApplicationDecisionResult", idempotent=True),
                  **openapi.errors(400, 401, 403, 404, 409, 422)},
})
