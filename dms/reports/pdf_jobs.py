"""Any registered report as a queued PDF: the request finds or makes its ReportFile, a `reports` job prints it.

A report file's identity is its key: sha256 of the kind, the sorted parameters, the scope the figures are
built in (a distributor's id, or HQ) and the language. Asking again for the same report returns the same
row; a finished one whose file exists is simply handed back, a failed (or lost) one gets a new job,
`report:<id>:<attempt>`. The file name comes from the row's id (`<reports>/reports/report-<id>.pdf`),
written atomically, so a retried job rewrites its one file and never makes a second.

`ReportFile.distributor_id` is the scope of the figures: the distributor whose own figures they are, or
None for a report built with HQ's scope. Distributor users therefore see and download only their
distributor's files (scoped like every distributor-owned row); HQ sees every file.
"""

import hashlib
import json
import re
from dataclasses import dataclass

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from dms.accounts.models import User
from dms.core import jobs
from dms.core.errors import Forbidden, NotFound, ValidationError
from dms.core.i18n import current_locale
from dms.core.models import Job
from dms.core.pdf import page_counter_css, render_pdf_document, report_path, static_url, write_atomically
from dms.core.periods import parse_month
from dms.core.rows import get_or_insert
from dms.core.scope import HQ_SCOPE
from dms.core.time import utcnow
from dms.extensions import db
from dms.reports import registry
from dms.reports.models import ReportFile

WORKING = ("pending", "queued", "running", "retrying")
PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_PARAMS, MAX_VALUE = 20, 200
IGNORED_PARAMS = {"page", "per_page", "csrf_token", "format", "sort", "dir"}
LOGO_FILES = ("img/logo.svg", "img/logo.png")


@dataclass(frozen=True)
class ScopeActor:
    """Who a report is built as when its owner is gone: a distributor's scope (or HQ's), reports only."""

    distributor_id: int | None
    id: int | None = None

    def can(self, permission: str) -> bool:
        if permission == HQ_SCOPE:
            return self.distributor_id is None
        return permission == "reports.view"


def scope_of(actor) -> int | None:
    """The distributor whose figures the actor sees (None: HQ sees every distributor)."""
    if actor.can(HQ_SCOPE):
        return None
    if getattr(actor, "distributor_id", None) is None:
        raise Forbidden()
    return actor.distributor_id


def clean_params(params) -> dict[str, str]:
    """The report's parameters as a plain dict of strings; malformed ones raise ValidationError."""
    items = params.items(multi=True) if hasattr(params, "getlist") else dict(params or {}).items()
    cleaned: dict[str, str] = {}
    for name, value in items:
        name, value = str(name).strip(), str(value if value is not None else "").strip()
        if name in IGNORED_PARAMS or not value:
            continue
        if not PARAM_NAME.match(name) or len(value) > MAX_VALUE:
            raise ValidationError(fields={"params": [_("The report's parameters are not valid.")]})
        cleaned[name] = value
    if len(cleaned) > MAX_PARAMS:
        raise ValidationError(fields={"params": [_("The report's parameters are not valid.")]})
    # Cheap checks of the parameters most reports share; the job's build() checks the rest.
    for name in ("month", "period"):
        if name in cleaned:
            parse_month(cleaned[name], name)
    for name in ("distributor_id", "product_id", "warehouse_id"):
        if name in cleaned and not cleaned[name].isdigit():
            raise ValidationError(fields={name: [_("Choose one from the list.")]})
    return dict(sorted(cleaned.items()))


def report_key(kind: str, params: dict, distributor_id: int | None, locale: str) -> str:
    """The identity of a report: sha256 of kind, sorted parameters, scope and language."""
    scope = "hq" if distributor_id is None else f"distributor:{distributor_id}"
    text = json.dumps([kind, sorted(params.items()), scope, locale], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def file_path(report_file: ReportFile):
    """Where the report's PDF is kept (fixed by its id)."""
    return report_path("reports", f"report-{report_file.id}")


def is_ready(report_file: ReportFile) -> bool:
    """Whether the report's PDF has been written and is still there."""
    return report_file.finished_at is not None and file_path(report_file).is_file()


def state_of(report_file: ReportFile) -> str:
    """ready | working | failed | none: what the status fragment shows."""
    job = report_file.job
    if job is not None and job.status in WORKING:
        return "working"
    if is_ready(report_file):
        return "ready"
    if job is not None and job.status == "failed":
        return "failed"
    return "none"


def download_url(report_file_id: int) -> str:
    """The download address of a report file, built without a request (jobs run in workers)."""
    return current_app.url_map.bind("localhost").build("reports.download_report", {"report_file_id": report_file_id})


def _attempt(job: Job | None) -> int:
    if job is None or not job.key:
        return 0
    try:
        return int(job.key.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        return 0


def ensure_job(report_file: ReportFile, func=None, refresh: bool = False) -> Job | None:
    """Queue the report's job unless it works or its file is there; a failed or lost one gets a new attempt.

    `refresh` asks for a new attempt even over a finished file (fresh figures, same file name). Returns
    the new job, or None when nothing needed queueing.
    """
    job = report_file.job
    if job is not None and job.status in WORKING:
        return None
    if not refresh and job is not None and job.status == "finished" and is_ready(report_file):
        return None
    attempt = _attempt(job) + 1
    new = jobs.enqueue(func or render_report, report_file.id, queue="reports",
                       key=f"report:{report_file.id}:{attempt}", owner_id=report_file.owner_id)
    report_file.job_id = new.id
    report_file.job = new
    db.session.flush()
    return new


def request_report(actor, kind: str, params, locale: str | None = None, func=None,
                   refresh: bool = False) -> ReportFile:
    """Find or create the PDF of a report for the actor and queue its job when needed (or `refresh`ed).

    Raises ValidationError for an unknown kind or malformed parameters, Forbidden without the report's
    permission. The figures are built by the job (as the file's owner, in its scope and language).
    """
    definition = registry.get(str(kind or ""))
    if definition is None:
        raise ValidationError(fields={"kind": [_("There is no such report.")]})
    if not actor.can(definition.permission):
        raise Forbidden()
    cleaned = clean_params(params)
    distributor_id = scope_of(actor)
    locale = locale or current_locale()
    if locale not in current_app.config["LANGUAGES"]:
        locale = current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        title = str(definition.title)
    key = report_key(definition.kind, cleaned, distributor_id, locale)
    report_file, _inserted = get_or_insert(
        ReportFile(key=key, kind=definition.kind, title=title[:200], params=cleaned, locale=locale,
                   orientation=definition.orientation, owner_id=getattr(actor, "id", None),
                   distributor_id=distributor_id),
        ReportFile.key == key)
    ensure_job(report_file, func, refresh=refresh)
    return report_file


def _builder_of(report_file: ReportFile):
    """The user the figures are built as: the owner while it is still in the file's scope, else the scope."""
    owner = db.session.get(User, report_file.owner_id) if report_file.owner_id else None
    if owner is not None and owner.active and scope_matches(owner, report_file.distributor_id):
        return owner
    return ScopeActor(report_file.distributor_id)


def scope_matches(user, distributor_id: int | None) -> bool:
    """Whether the user's scope is exactly that scope (HQ for None)."""
    if distributor_id is None:
        return user.can(HQ_SCOPE)
    return not user.can(HQ_SCOPE) and user.distributor_id == distributor_id


def report_html(report_file: ReportFile, figures: dict, definition) -> str:
    """The report's printed HTML: its pdf_template with the base context (company, logo, period, footer)."""
    context = {
        "title": report_file.title, "period_label": "", "generated_at": utcnow(),
        "company": current_app.config.get("DMS_COMPANY_NAME") or "DMS",
        "logo_url": next((url for url in map(static_url, LOGO_FILES) if url), None),
        "orientation": definition.orientation, "page_counter": page_counter_css(),
        "report_file": report_file,
    }
    context.update(figures)
    return render_template(definition.pdf_template, **context)


def render_report(report_file_id: int) -> dict:
    """The job (`reports` queue): build the figures, print them and write the report's one file atomically."""
    report_file = db.session.get(ReportFile, report_file_id)
    if report_file is None:
        return {"report_file_id": report_file_id, "missing": True}
    definition = registry.get(report_file.kind)
    if definition is None:
        raise NotFound(_("There is no such report."))
    with force_locale(report_file.locale):
        jobs.set_progress(None, 10, _("Collecting the figures"))
        figures = dict(jobs.resolve(definition.build)(_builder_of(report_file), dict(report_file.params or {})))
        if figures.get("title"):
            report_file.title = str(figures["title"])[:200]
        jobs.set_progress(None, 40, _("Rendering the PDF"))
        html = report_html(report_file, figures, definition)
        data, pages = render_pdf_document(html)
        jobs.set_progress(None, 90, _("Saving the file"))
    path = write_atomically(file_path(report_file), data)
    report_file.filename, report_file.pages, report_file.size = path.name, pages, len(data)
    report_file.finished_at = utcnow()
    db.session.flush()
    return {"report_file_id": report_file.id, "file": path.name, "pages": pages,
            "download_url": download_url(report_file.id)}


def get_report_file(actor, report_file_id: int) -> ReportFile:
    """One report file within the actor's scope; another distributor's answers NotFound."""
    from dms.core.scope import get_scoped

    return get_scoped(ReportFile, report_file_id, actor)
