"""Commission pages of settlement: the runs (with live progress), the statements and their lines, the
payouts and the bank file.

Statements are scoped: a distributor sees only its own, another's answers 404. Runs and payouts are HQ's
pages; running a month, confirming and paying need commissions.manage. Forms come back with their errors
in place (422; 409 for a conflict such as a month already being settled); each request commits once.
"""

import csv
import io

from flask import Response, flash, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import false, select

from dms.commissions import bp, queries, settlement
from dms.commissions.ledger_forms import STATEMENT_STATUS_LABELS, ButtonForm, PayForm, RunForm
from dms.commissions.ledger_views import (
    MANAGE,
    VIEW,
    hq,
    id_arg,
    keep,
    labels,
    linkable_orders,
    manages,
    period_arg,
    require_hq,
    require_manage,
)
from dms.commissions.models import STATEMENT_STATES, CommissionEntry, SettlementRun, Statement
from dms.core.auth import require_permission
from dms.core.crypto import mask
from dms.core.errors import BadRequest, NotFound
from dms.core.forms import form_status, submit
from dms.core.listing import paginate_list
from dms.core.periods import current_month, month_name, previous_month
from dms.core.render import htmx_redirect, is_htmx, render
from dms.core.scope import get_scoped
from dms.core.spreadsheets import FORMULA_START, stamp
from dms.core.time import business_today
from dms.distributors.models import Distributor
from dms.extensions import db

ACTIVE = ("pending", "queued", "running", "retrying")
STATEMENT_FILTERS = ("period", "status", "distributor")
LINES_PER_PAGE = 50


def last_month() -> str:
    """The month a settlement would normally run for: the one before this."""
    return month_name(previous_month(current_month()))


# --- settlement runs ------------------------------------------------------------------------------------------

def run_state(run: SettlementRun, job) -> str:
    """The run's state as its job tells it (a job that failed leaves the run looking `running`)."""
    if job is None:
        return run.status
    if job.status == "failed":
        return "failed"
    if job.status in ("pending", "queued", "retrying"):
        return "running" if run.status == "running" else job.status
    return "running" if job.status == "running" else run.status


def _run_rows(runs) -> list[tuple]:
    jobs = queries.jobs_of(runs)
    rows = []
    for run in runs:
        job = jobs.get(run.job_id)
        rows.append((run, job, run_state(run, job)))
    return rows


def _runs_page(form: RunForm | None = None, status: int | None = None):
    page = paginate_list(queries.runs_query(), sorts={"period": SettlementRun.period}, default_sort="period",
                         default_dir="desc", per_page=24)
    page.endpoint, page.view_args = "commissions.list_runs", {}
    form = form or RunForm(formdata=None, period=last_month())
    if request.method == "POST" and is_htmx():  # a refused run: its form again, errors in place
        template, fragment = "commissions/_run_form.html", None
    else:
        template, fragment = "commissions/runs.html", "commissions/_runs_table.html"
    response = render(template, fragment, status=status or form_status(form, invalid=422),
                      page=page, rows=_run_rows(page.items), form=form, active=ACTIVE, **labels())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/commissions/settlements")
@require_permission(VIEW)
def list_runs():
    """Settlement runs by month (state, attempts, progress, statements) and the form to settle a month (HQ)."""
    require_hq()
    return _runs_page()


@bp.post("/commissions/settlements")
@require_permission(MANAGE)
def start_run():
    """Settle a finished month now (again, if it ran before: what is settled stays as it is)."""
    require_manage()
    form = RunForm()
    run = submit(form, lambda: settlement.start_run(current_user, (form.period.data or "").strip()))
    if run:
        flash(_("The settlement of %(period)s has started.", period=run.period), "success")
        return htmx_redirect(url_for("commissions.list_runs"))
    return _runs_page(form)


@bp.get("/commissions/settlements/<int:run_id>/status")
@require_permission(VIEW)
def run_status(run_id: int):
    """Fragment: one run's row; it polls itself while the run's job is working."""
    require_hq()
    run = db.session.get(SettlementRun, run_id)
    if run is None:
        raise NotFound()
    run_, job, state = _run_rows([run])[0]
    return render("commissions/_run_row.html", "commissions/_run_row.html", run=run_, job=job, state=state,
                  active=ACTIVE, **labels())


# --- statements -----------------------------------------------------------------------------------------------

@bp.get("/commissions/statements")
@require_permission(VIEW)
def list_statements():
    """Statements, latest month first: filters month, status and (HQ) distributor; a totals row; paginated."""
    errors: dict[str, str] = {}
    stmt = queries.statements_query(current_user)
    period = period_arg(errors)
    if period:
        stmt = stmt.where(Statement.period == period)
    if request.args.get("status") in STATEMENT_STATES:
        stmt = stmt.where(Statement.status == request.args["status"])
    distributor = None
    if hq():
        distributor_id = id_arg("distributor", errors, _("Choose a distributor from the list."))
        if distributor_id:
            stmt = stmt.where(Statement.distributor_id == distributor_id)
            distributor = db.session.get(Distributor, distributor_id)
    totals = queries.statement_totals(stmt)
    page = paginate_list(stmt, sorts={"period": Statement.period, "number": Statement.number,
                                      "payout": Statement.payout, "total": Statement.total},
                         default_sort="period", default_dir="desc", filters=dict.fromkeys(STATEMENT_FILTERS, keep))
    distributors = queries.distributor_choices(chosen=distributor.id if distributor else None)[0] if hq() else []
    return render("commissions/statements.html", "commissions/_statements_table.html",
                  status=400 if errors else 200, page=page, totals=totals, filter_errors=errors,
                  distributors=distributors, statuses=[(s, STATEMENT_STATUS_LABELS[s]) for s in STATEMENT_STATES],
                  **labels())


def _statement(statement_id: int) -> Statement:
    return get_scoped(Statement, statement_id, current_user)


def _statement_page(statement: Statement, failed: dict | None = None, status: int = 200):
    """The statement's page (or, for htmx, its lines or its detail): header, totals, actions, lines."""
    failed = failed or {}
    lines = paginate_list(select_lines(statement), sorts={"line": CommissionEntry.id,
                                                          "amount": CommissionEntry.amount},
                          default_sort="line", per_page=LINES_PER_PAGE)
    lines.endpoint, lines.view_args = "commissions.show_statement", {"statement_id": statement.id}
    forms = {}
    if manages():
        if statement.status == "draft":
            forms["confirm"] = failed.get("confirm") or ButtonForm(formdata=None)
        elif statement.status == "confirmed":
            forms["pay"] = failed.get("pay") or PayForm(formdata=None, paid_on=business_today())
    if request.method == "POST" and is_htmx():
        template, fragment = "commissions/_statement.html", None
    else:
        template, fragment = "commissions/statement.html", "commissions/_statement_lines.html"
    response = render(template, fragment, status=status, statement=statement, lines=lines,
                      linkable=linkable_orders(lines.items), forms=forms, failed=list(failed.values()),
                      carried_from=queries.carried_from(statement), carried_into=queries.carried_into(statement),
                      **labels())
    response.headers["Cache-Control"] = "no-store"
    return response


def select_lines(statement: Statement):
    """The statement's entries (its lines), paginated by the caller: never loaded all at once."""
    return select(CommissionEntry).where(CommissionEntry.statement_id == statement.id)


@bp.get("/commissions/statements/<int:statement_id>")
@require_permission(VIEW)
def show_statement(statement_id: int):
    """A statement: number, distributor, month, state and dates, its totals, its lines (paginated), HQ's actions."""
    return _statement_page(_statement(statement_id))


@bp.post("/commissions/statements/<int:statement_id>/confirm")
@require_permission(VIEW)
def confirm_statement(statement_id: int):
    """Confirm a draft statement: its figures become final (HQ)."""
    statement = _statement(statement_id)
    require_manage()
    form = ButtonForm()
    if submit(form, lambda: settlement.confirm(current_user, statement)):
        flash(_("Statement %(number)s is confirmed.", number=statement.number), "success")
        return htmx_redirect(url_for("commissions.show_statement", statement_id=statement_id))
    return _statement_page(_statement(statement_id), {"confirm": form}, form_status(form, invalid=422))


@bp.post("/commissions/statements/<int:statement_id>/pay")
@require_permission(VIEW)
def pay_statement(statement_id: int):
    """Record a confirmed statement as paid, with the payment date and the bank's reference (HQ)."""
    statement = _statement(statement_id)
    require_manage()
    form = PayForm()
    if submit(form, lambda: settlement.pay(current_user, statement, form.paid_on.data, form.reference.data or "")):
        flash(_("Statement %(number)s is recorded as paid.", number=statement.number), "success")
        return htmx_redirect(url_for("commissions.show_statement", statement_id=statement_id))
    return _statement_page(_statement(statement_id), {"pay": form}, form_status(form, invalid=422))


# --- payouts and the bank file ----------------------------------------------------------------------------------

def _payout_period(errors: dict) -> str:
    return period_arg(errors) or (last_month() if "period" not in errors else "")


@bp.get("/commissions/payouts")
@require_permission(MANAGE)
def list_payouts():
    """The month's confirmed and paid payouts with the payees' bank details (flagging missing accounts), totals."""
    require_manage()
    errors: dict[str, str] = {}
    period = _payout_period(errors)
    if period:
        stmt = queries.payouts_query(period)
        totals, bank_file = queries.payout_totals(period), queries.bank_file_summary(period)
    else:
        stmt = queries.payouts_query("").where(false())
        totals, bank_file = queries.payout_totals(""), (0, queries.ZERO, 0)
    page = paginate_list(stmt, sorts={"number": Statement.number, "payout": Statement.payout,
                                      "status": Statement.status}, default_sort="number",
                         filters={"period": keep}, per_page=50)
    if period:
        page.filters["period"] = period
    response = render("commissions/payouts.html", "commissions/_payouts_table.html", status=400 if errors else 200,
                      page=page, period=period, filter_errors=errors, totals=totals, bank_file=bank_file,
                      mask=mask, **labels())
    response.headers["Cache-Control"] = "no-store"
    return response


BANK_HEADER = ("statement_number", "distributor_id", "payee_name", "bank", "account", "amount", "currency",
               "reference")


def _cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


@bp.get("/commissions/payouts.csv")
@require_permission(MANAGE)
def export_payouts():
    """The bank file (CSV, UTF-8 with BOM) of the month's confirmed, unpaid payouts, streamed row by row."""
    require_manage()
    errors: dict[str, str] = {}
    period = period_arg(errors) or last_month()
    if errors:
        raise BadRequest(errors["period"])
    rows = queries.bank_file_rows(period)

    def generate():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(BANK_HEADER)
        yield "\ufeff" + out.getvalue()
        for row in rows:
            out.seek(0)
            out.truncate()
            payee = queries.payee_name(row.kind, row.name, row.company_name, row.bank_account_name)
            writer.writerow([_cell(row.number), row.distributor_id, _cell(payee), _cell(row.bank_name),
                             _cell(row.bank_account.strip()), f"{row.payout:.2f}", "CNY",
                             _cell(f"DMS {row.number}")])
            yield out.getvalue()

    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.charset = "utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="payouts-{period}-{stamp()}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
