"""Queued PDF reports: ask for any report as a PDF, follow its job, download it, and list "my reports"."""

from urllib.parse import parse_qsl

from flask import redirect, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError

from dms.core import jobs
from dms.core.auth import require_permission
from dms.core.errors import NotFound
from dms.core.listing import paginate_list
from dms.core.render import is_htmx, render
from dms.core.scope import HQ_SCOPE, scoped
from dms.extensions import db
from dms.reports import (
    bp,
    pdf_jobs,
    performance_report,  # noqa: F401 - registers its report, page and monthly job
    registry,
)
from dms.reports.models import ReportFile


def _status_fragment(report_file: ReportFile, status: int = 200):
    response = render("reports/_report_status.html", "reports/_report_status.html", status=status,
                      report_file=report_file, state=pdf_jobs.state_of(report_file))
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_params() -> dict:
    """The report's parameters: the `params` field (a query string), as the PDF button sends them."""
    return dict(parse_qsl(request.form.get("params", ""), keep_blank_values=False)[:50])


@bp.post("/reports/pdf")
@require_permission("reports.view")
def request_pdf():
    """Ask for a report as a PDF (queued once per report; refresh=1 makes it again over the same file).

    Answers the report's status fragment to htmx, else redirects to my reports.
    """
    report_file = pdf_jobs.request_report(current_user, request.form.get("kind", ""), _form_params(),
                                          refresh=request.form.get("refresh") == "1")
    report_file_id = report_file.id
    jobs.commit()  # dispatches the job: to RQ, or run right here when no Redis is configured
    db.session.expire_all()
    report_file = db.session.get(ReportFile, report_file_id)
    if is_htmx():
        return _status_fragment(report_file)
    return redirect(url_for("reports.my_reports"), 303)


@bp.get("/reports/files/<int:report_file_id>/status")
@require_permission("reports.view")
def report_status(report_file_id: int):
    """A report file's status fragment: polls itself while the job works, then offers the download."""
    report_file = pdf_jobs.get_report_file(current_user, report_file_id)
    if not is_htmx():
        return redirect(url_for("reports.my_reports"), 303)
    return _status_fragment(report_file)


@bp.get("/reports/files/<int:report_file_id>.pdf")
@require_permission("reports.view")
def download_report(report_file_id: int):
    """Download a report's PDF (its distributor's users or HQ); 404 for another's or before it is made."""
    report_file = pdf_jobs.get_report_file(current_user, report_file_id)
    if not pdf_jobs.is_ready(report_file):
        raise NotFound(_("This report has not been generated yet."))
    response = send_file(pdf_jobs.file_path(report_file), mimetype="application/pdf", as_attachment=True,
                         download_name=f"{report_file.kind}-{report_file.id}.pdf", max_age=0)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _my_files_query():
    """A distributor's users see their distributor's files; HQ sees the files built with HQ's scope."""
    stmt = select(ReportFile)
    if current_user.can(HQ_SCOPE):
        return stmt.where(ReportFile.distributor_id.is_(None))
    return scoped(stmt, ReportFile.distributor_id, current_user)


def _report_page_url(report_file: ReportFile) -> str | None:
    """The report's own page with its parameters, when that page exists."""
    definition = registry.get(report_file.kind)
    if definition is None:
        return None
    try:
        return url_for(definition.endpoint, **(report_file.params or {}))
    except BuildError:
        return None


@bp.get("/reports/mine")
@require_permission("reports.view")
def my_reports():
    """My reports: the PDF reports asked for (and the monthly ones), newest first, with status and download."""
    kinds = sorted(((kind, str(d.title)) for kind, d in registry.REPORTS.items()), key=lambda pair: pair[1])
    page = paginate_list(_my_files_query(), sorts={"created": ReportFile.created_at}, default_sort="created",
                         default_dir="desc",
                         filters={"kind": lambda stmt, value: stmt.where(ReportFile.kind == value)}, per_page=20)
    working = any(pdf_jobs.state_of(f) == "working" for f in page.items)
    try:
        statements_url = url_for("commissions.list_statements")
    except BuildError:
        statements_url = None
    if statements_url and not current_user.can("commissions.view"):
        statements_url = None
    return render("reports/my_reports.html", "reports/_my_reports_table.html", page=page, kinds=kinds,
                  working=working, state_of=pdf_jobs.state_of, page_url=_report_page_url,
                  statements_url=statements_url, statement_pdfs=_statement_pdfs() if statements_url else [])


def _statement_pdfs(limit: int = 12) -> list:
    """The latest statements in the user's scope with their PDF's state (statements print on their own page)."""
    from sqlalchemy import select

    from dms.commissions.models import Statement
    from dms.commissions.statement_pdf import statement_pdf_state
    from dms.core.scope import scoped
    from dms.extensions import db

    stmt = scoped(select(Statement), Statement.distributor_id, current_user)
    rows = db.session.scalars(stmt.order_by(Statement.period.desc(), Statement.id.desc()).limit(limit))
    return [(statement, statement_pdf_state(statement)) for statement in rows]
