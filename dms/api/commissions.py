"""A distributor's commission over the API (seed 001): balances, ledger entries and settlements.

HQ (scope.all_distributors) reads any distributor; a distributor's token only its own, another's id is
a 404 like an unknown one. `?period=YYYY-MM` narrows balances, entries and settlements to the month;
entries come newest first, a page at a time (`?page=`, `?per_page=`, API.md "Lists").
"""

from datetime import UTC

from flask import g, request
from sqlalchemy import func, select

from dms.api import bp, openapi
from dms.api.auth import api_view
from dms.api.helpers import page_args
from dms.commissions.ledger import balances
from dms.commissions.models import ENTRY_KINDS, ENTRY_STATES, STATEMENT_STATES, CommissionEntry, Statement
from dms.core.errors import BadRequest, ValidationError
from dms.core.periods import month_name, parse_month
from dms.core.scope import get_scoped
from dms.distributors.models import Distributor
from dms.extensions import db

CURRENCY = "CNY"


def _timestamp(value) -> str | None:
    return value.replace(tzinfo=UTC).isoformat() if value else None


def _period_arg() -> str | None:
    """?period=YYYY-MM, or None; BadRequest (400) naming `period` for anything else."""
    raw = request.args.get("period")
    if raw is None or raw == "":
        return None
    try:
        return month_name(parse_month(raw))
    except ValidationError as exc:
        raise BadRequest(exc.fields["period"][0], fields=exc.fields) from None


def serialize_entry(entry: CommissionEntry) -> dict:
    """One ledger entry as the API shows it (amounts as strings, negative for clawbacks)."""
    return {"entry_id": entry.id, "order_id": entry.order_id, "level": entry.level, "kind": entry.kind,
            "amount": str(entry.amount), "status": entry.status, "created_at": _timestamp(entry.created_at)}


def serialize_settlement(statement: Statement) -> dict:
    """A statement as a settlement: `amount` is its total (negative when carried into the next one)."""
    return {"settlement_id": statement.id, "period": statement.period, "amount": str(statement.total),
            "status": statement.status}


def commission_of(principal, distributor_id: int, period: str | None) -> dict:
    """The distributor's commission (404 outside the caller's scope), entries paged newest first."""
    distributor = get_scoped(Distributor, distributor_id, principal, column=Distributor.id)
    page, per_page = page_args()
    entries = select(CommissionEntry).where(CommissionEntry.beneficiary_id == distributor.id)
    statements = select(Statement).where(Statement.distributor_id == distributor.id)
    if period:
        entries = entries.where(CommissionEntry.period == period)
        statements = statements.where(Statement.period == period)
    total = db.session.scalar(select(func.count()).select_from(entries.subquery())) or 0
    rows = db.session.scalars(entries.order_by(CommissionEntry.created_at.desc(), CommissionEntry.id.desc())
                              .limit(per_page).offset((page - 1) * per_page))
    sums = balances(distributor.id, period)
    return {
        "distributor_id": distributor.id, "currency": CURRENCY,
        **{name: str(sums[name]) for name in ("accrued", "held", "payable", "paid")},
        "entries": [serialize_entry(entry) for entry in rows],
        "settlements": [serialize_settlement(s) for s in db.session.scalars(
            statements.order_by(Statement.period.desc(), Statement.id.desc()))],
        "period": period, "page": page, "per_page": per_page, "entries_total": total,
    }


@bp.get("/commission/<int:distributor_id>")
@api_view(permission="commissions.view")
def get_commission(distributor_id: int):
    """A distributor's balances, entries (newest first, paged) and settlements; ?period= narrows to a month."""
    return commission_of(g.principal, distributor_id, _period_arg())


# --- the OpenAPI document ------------------------------------------------------------------------------

MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["500.00"]}
openapi.add_schema("CommissionEntry", {
    "type": "object", "additionalProperties": False,
    "required": ["entry_id", "order_id", "level", "kind", "amount", "status", "created_at"],
    "properties": {
        "entry_id": {"type": "integer"},
        "order_id": {"type": ["integer", "null"], "description": "null for rewards and adjustments."},
        "level": {"type": "integer", "minimum": 0,
                  "description": "1 = the selling distributor, 2 = its upline, ...; 0 for rewards and adjustments."},
        "kind": {"type": "string", "enum": list(ENTRY_KINDS)},
        "amount": {**MONEY, "description": "Yuan; negative for a clawback or a negative adjustment."},
        "status": {"type": "string", "enum": list(ENTRY_STATES),
                   "description": "accrued (hold period running), held (by HQ), payable, paid."},
        "created_at": {"type": "string", "format": "date-time"},
    },
})
openapi.add_schema("Settlement", {
    "type": "object", "additionalProperties": False, "required": ["settlement_id", "period", "amount", "status"],
    "properties": {
        "settlement_id": {"type": "integer", "description": "The statement's id."},
        "period": {"type": "string", "pattern": r"^\d{4}-\d{2}$", "examples": ["2026-11"]},
        "amount": {**MONEY, "description": "The statement's total: commissions + clawbacks + rewards + adjustments "
                                           "+ the balance carried in. What is paid out is this when positive; a "
                                           "negative total is carried into the next statement."},
        "status": {"type": "string", "enum": list(STATEMENT_STATES)},
    },
})
openapi.add_schema("Commission", {
    "type": "object", "additionalProperties": False,
    "required": ["distributor_id", "currency", "accrued", "held", "payable", "paid", "entries", "settlements",
                 "period", "page", "per_page", "entries_total"],
    "properties": {
        "distributor_id": {"type": "integer"},
        "currency": {"type": "string", "const": CURRENCY},
        "accrued": {**MONEY, "description": "Sum of the entries still in their hold period."},
        "held": {**MONEY, "description": "Sum of the entries HQ holds back."},
        "payable": {**MONEY, "description": "Sum of the entries due (on a draft or confirmed statement, or waiting "
                                            "for the next settlement)."},
        "paid": {**MONEY, "description": "Sum of the entries on paid statements."},
        "entries": {"type": "array", "items": openapi.ref("CommissionEntry"),
                    "description": "Newest first, one page (`page`, `per_page`) of `entries_total`."},
        "settlements": {"type": "array", "items": openapi.ref("Settlement"),
                        "description": "The distributor's statements, newest month first (all of them)."},
        "period": {"type": ["string", "null"], "description": "The month asked for, or null."},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 200},
        "entries_total": {"type": "integer", "minimum": 0, "description": "How many entries there are in all."},
    },
    "examples": [{"distributor_id": 101, "currency": "CNY", "accrued": "0.00", "held": "0.00", "payable": "0.00",
                  "paid": "30.00", "entries": [{"entry_id": 7, "order_id": 202, "level": 1, "kind": "accrual",
                                                "amount": "30.00", "status": "paid",
                                                "created_at": "2026-10-10T04:00:00+00:00"}],
                  "settlements": [{"settlement_id": 3, "period": "2026-10", "amount": "30.00", "status": "paid"}],
                  "period": None, "page": 1, "per_page": 50, "entries_total": 1}],
})
openapi.add_path("/api/commission/{distributor_id}", "get", {
    "operationId": "getCommission", "tags": ["commissions"],
    "summary": "A distributor's commission: balances, entries and settlements (commissions.view)",
    "description": "HQ reads any distributor; a distributor's token only itself (another id answers 404, as an "
                   "unknown one does). `period` narrows the balances, the entries and the settlements to one "
                   "month; a malformed period answers 400. Money is a decimal string with two places.",
    "parameters": [
        {"name": "distributor_id", "in": "path", "required": True, "schema": {"type": "integer"}},
        {"name": "period", "in": "query", "required": False,
         "schema": {"type": "string", "pattern": r"^\d{4}-\d{2}$", "examples": ["2026-11"]},
         "description": "A month, YYYY-MM (the month an entry was accrued in, the month a statement settles)."},
        *openapi.PAGE_PARAMETERS,
    ],
    "responses": {"200": openapi.json_response("Commission"), **openapi.errors(400, 401, 403, 404)},
})
