"""A statement as a PDF (对账单 PDF): made by a job on the `reports` queue, downloaded by HQ and its distributor.

One file per statement and state: `<reports>/statements/<number>-<status>.pdf`, and one job per
statement and state (key `statement-pdf:<id>:<status>`), so asking twice queues nothing new and a
retried job overwrites the same file. A confirmed or paid statement gets its own file, since its
status shows on the PDF. The statement's owner downloads its own statements; another's is a 404.
"""

from dataclasses import dataclass
from decimal import Decimal

from flask import current_app, redirect, render_template, send_file, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, func, select
from sqlalchemy.orm import lazyload
from werkzeug.routing import BuildError

from dms.commissions import bp
from dms.commissions.models import ENTRY_KINDS, CommissionEntry, Statement
from dms.core import jobs
from dms.core.auth import require_permission
from dms.core.crypto import mask
from dms.core.errors import NotFound
from dms.core.models import Job
from dms.core.pdf import page_counter_css, render_pdf, report_path, write_atomically
from dms.core.render import is_htmx, render
from dms.core.scope import get_scoped
from dms.core.time import utcnow
from dms.extensions import db
from dms.orders.models import Order

MAX_LINES = 500
WORKING = ("pending", "queued", "running", "retrying")
KIND_ORDER = case({kind: i for i, kind in enumerate(ENTRY_KINDS)}, value=CommissionEntry.kind, else_=len(ENTRY_KINDS))


def kind_label(kind: str) -> str:
    """The translated name of an entry kind."""
    return {"accrual": _("Commissions"), "clawback": _("Clawbacks"), "reward": _("Rewards"),
            "adjustment": _("Adjustments")}.get(kind, kind)


def status_label(status: str) -> str:
    """The translated name of a statement status."""
    return {"draft": _("Draft"), "confirmed": _("Confirmed"), "paid": _("Paid")}.get(status, status)


def pdf_key(statement: Statement) -> str:
    """The job key of the statement's PDF in its current state."""
    return f"statement-pdf:{statement.id}:{statement.status}"


def pdf_path(statement: Statement):
    """Where the PDF of the statement in its current state is kept."""
    return report_path("statements", f"{statement.number}-{statement.status}")


@dataclass
class PdfState:
    """What the statement page shows of its PDF: the file when made, the job while it works or after it failed."""

    job: Job | None
    ready: bool

    @property
    def working(self) -> bool:
        return not self.ready and self.job is not None and self.job.status in WORKING

    @property
    def failed(self) -> bool:
        return not self.ready and self.job is not None and self.job.status == "failed"


@bp.app_template_global()
def statement_pdf_state(statement: Statement) -> PdfState:
    """The PDF state of a statement, for templates/commissions/pdf/_statement_pdf.html."""
    job = db.session.scalar(select(Job).where(Job.key == pdf_key(statement)))
    return PdfState(job=job, ready=pdf_path(statement).is_file())


# --- the document ------------------------------------------------------------------------------------

def statement_lines(statement: Statement, limit: int | None = None) -> tuple[list[dict], int]:
    """The first `limit` (MAX_LINES) entries by kind then date, with their orders' references; and the count."""
    limit = limit or MAX_LINES
    total = db.session.scalar(select(func.count(CommissionEntry.id))
                              .where(CommissionEntry.statement_id == statement.id)) or 0
    entries = list(db.session.scalars(
        select(CommissionEntry).where(CommissionEntry.statement_id == statement.id)
        .order_by(KIND_ORDER, CommissionEntry.created_at, CommissionEntry.id).limit(limit)
        .options(lazyload(CommissionEntry.beneficiary))))
    order_ids = {e.order_id for e in entries if e.order_id is not None}
    references = {}
    if order_ids:
        references = {o.id: o.reference for o in db.session.scalars(
            select(Order).where(Order.id.in_(order_ids)).options(lazyload("*")))}
    lines = [{"entry": e, "order_reference": references.get(e.order_id, "")} for e in entries]
    return lines, total


def _groups(statement: Statement, lines: list[dict]) -> list[dict]:
    """Lines by kind, each kind with its subtotal and count over the whole statement (not only those shown)."""
    counts = dict(db.session.execute(select(CommissionEntry.kind, func.count(CommissionEntry.id))
                                     .where(CommissionEntry.statement_id == statement.id)
                                     .group_by(CommissionEntry.kind)).all())
    subtotals = {"accrual": statement.accruals, "clawback": statement.clawbacks, "reward": statement.rewards,
                 "adjustment": statement.adjustments}
    groups = []
    for kind in ENTRY_KINDS:
        if not counts.get(kind):
            continue
        groups.append({"kind": kind, "label": kind_label(kind), "count": counts[kind],
                       "subtotal": subtotals.get(kind, Decimal("0.00")),
                       "lines": [line for line in lines if line["entry"].kind == kind]})
    return groups


def statement_html(statement: Statement) -> str:
    """The statement's PDF as HTML (templates/commissions/pdf/statement.html)."""
    lines, total = statement_lines(statement)
    distributor = statement.distributor
    return render_template(
        "commissions/pdf/statement.html", statement=statement, distributor=distributor,
        company=current_app.config.get("DMS_COMPANY_NAME") or "DMS", groups=_groups(statement, lines),
        shown=len(lines), total_lines=total, more=max(total - len(lines), 0),
        status_label=status_label(statement.status), generated_at=utcnow(),
        bank_account=mask(distributor.bank_account, 4, 4) if distributor.bank_account else "",
        page_counter=page_counter_css())


def _download_url(statement_id: int) -> str:
    """The download address, built without a request (the job runs in a worker)."""
    return current_app.url_map.bind("localhost").build("commissions.download_statement_pdf",
                                                       {"statement_id": statement_id})


def render_statement_pdf(statement_id: int) -> dict:
    """The job (`reports` queue): render the statement's PDF and write it atomically over its fixed path."""
    statement = db.session.get(Statement, statement_id)
    if statement is None:
        return {"statement_id": statement_id, "missing": True}
    jobs.set_progress(None, 10, _("Collecting the statement's entries"))
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):  # the same document whoever asked
        html = statement_html(statement)
        jobs.set_progress(None, 40, _("Rendering the PDF"))
    path = write_atomically(pdf_path(statement), render_pdf(html))
    return {"statement_id": statement.id, "status": statement.status, "file": path.name,
            "download_url": _download_url(statement.id)}


def request_pdf(actor, statement: Statement) -> Job:
    """Queue the PDF of the statement in its current state, once; a failed (or lost) one is queued again.

    Returns the job; one still `pending` after the caller's commit must be dispatched by the caller.
    """
    job = jobs.enqueue(render_statement_pdf, statement.id, queue="reports", key=pdf_key(statement),
                       owner_id=getattr(actor, "id", None))
    lost = job.status == "finished" and not pdf_path(statement).is_file()
    if job.status == "failed" or lost:
        job.status, job.attempts, job.progress, job.message = "pending", 0, 0, ""
        job.error = job.result = job.finished_at = job.started_at = None
        db.session.flush()
    return job


# --- the pages ------------------------------------------------------------------------------------------

def _scoped_statement(statement_id: int) -> Statement:
    return get_scoped(Statement, statement_id, current_user)


def _statement_page_url(statement: Statement) -> str | None:
    """The statement's own page (another module's), when it is registered."""
    for endpoint, values in (("commissions.show_statement", {"statement_id": statement.id}),
                             ("commissions.overview", {})):
        try:
            return url_for(endpoint, **values)
        except BuildError:
            continue
    return None


def _pdf_page(statement: Statement, status: int = 200):
    response = render("commissions/pdf/status.html", "commissions/pdf/_statement_pdf.html", status=status,
                      statement=statement, statement_url=_statement_page_url(statement),
                      status_label=status_label)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/commissions/statements/<int:statement_id>/pdf")
@require_permission("commissions.view")
def show_statement_pdf(statement_id: int):
    """The statement's PDF: its job's progress while it is made, then the download (htmx polls the fragment)."""
    return _pdf_page(_scoped_statement(statement_id))


@bp.post("/commissions/statements/<int:statement_id>/pdf")
@require_permission("commissions.view")
def request_statement_pdf(statement_id: int):
    """Queue the statement's PDF (once per state); answer the progress fragment, or redirect to its page."""
    statement = _scoped_statement(statement_id)
    job = request_pdf(current_user, statement)
    jobs.commit()
    if db.session.scalar(select(Job.status).where(Job.id == job.id)) == "pending":
        jobs.dispatch([job.id])  # queued again after a failure: no new row for commit() to dispatch
    db.session.expire_all()
    if is_htmx():
        return _pdf_page(statement)
    return redirect(url_for("commissions.show_statement_pdf", statement_id=statement.id), 303)


@bp.get("/commissions/statements/<int:statement_id>/statement.pdf")
@require_permission("commissions.view")
def download_statement_pdf(statement_id: int):
    """Download the statement's PDF in its current state; 404 until it has been generated."""
    statement = _scoped_statement(statement_id)
    path = pdf_path(statement)
    if not path.is_file():
        raise NotFound(_("The PDF of this statement has not been generated yet."))
    response = send_file(path, mimetype="application/pdf", as_attachment=True,
                         download_name=f"{statement.number}.pdf", max_age=0)
    response.headers["Cache-Control"] = "private, no-cache"
    return response
