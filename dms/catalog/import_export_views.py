"""Catalog import and export pages (HQ): upload a CSV or XLSX of products, download the catalog or a template.

An import is applied whole or not at all: the view commits once when every row passed, and rolls
back when the service refuses the file, showing the row-by-row report. The report can be downloaded
as CSV without being stored anywhere: the page carries it signed (and compressed) in a form field,
so any web process can answer the download and nobody can make the endpoint echo other content.
"""

from flask import current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from itsdangerous import BadSignature, URLSafeTimedSerializer
from wtforms import HiddenField

from dms.catalog import bp, import_export
from dms.core.auth import require_permission
from dms.core.errors import BadRequest
from dms.core.forms import AppForm
from dms.core.jobs import commit
from dms.core.render import render
from dms.core.spreadsheets import XLSX_TYPE, download, stamp, to_csv
from dms.extensions import db

REPORT_SALT = "catalog.import-report"
REPORT_MAX_AGE = 24 * 3600
# Werkzeug keeps form fields up to 500 kB by default; a longer report is shown but not offered.
REPORT_MAX_TOKEN = 400_000


class ImportForm(AppForm):
    """The file to import (the service checks its type by name and content)."""

    file = FileField(_l("File (.csv or .xlsx)"), validators=[FileRequired(_l("Choose a file."))],
                     render_kw={"accept": ".csv,.xlsx,text/csv," + XLSX_TYPE})


class ReportForm(AppForm):
    """Carries a signed error report back for download."""

    report = HiddenField()


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=REPORT_SALT)


def _import_page(form: ImportForm, status: int = 200):
    response = render("catalog/import.html", form=form, max_mb=f"{import_export.max_bytes() / 2**20:g}",
                      max_rows=import_export.max_rows(), columns=import_export.COLUMNS,
                      chinese=import_export.CHINESE_HEADERS, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/catalog/products/import", methods=["GET", "POST"])
@require_permission("catalog.manage")
def import_products():
    """Upload a product file; every row is applied, or none and the page lists each row's errors."""
    form = ImportForm()
    if not form.validate_on_submit():
        return _import_page(form, 400 if form.errors else 200)
    upload = form.file.data
    data = upload.stream.read(import_export.max_bytes() + 1)
    try:
        result = import_export.import_products(current_user, upload.filename or "", data)
        commit()
    except import_export.ImportRejected as exc:
        db.session.rollback()
        rows = [[e.row, e.column, e.message] for e in exc.errors]
        token = _serializer().dumps(rows)
        response = render("catalog/import_result.html", result=None, errors=exc.errors, message=exc.message,
                          ignored=exc.ignored_columns, filename=upload.filename,
                          report_form=ReportForm(formdata=None, report=token) if len(token) <= REPORT_MAX_TOKEN
                          else None, form=ImportForm(formdata=None), status=422)
        response.headers["Cache-Control"] = "no-store"
        return response
    response = render("catalog/import_result.html", result=result, errors=[], ignored=result.ignored_columns,
                      filename=upload.filename, form=ImportForm(formdata=None))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/catalog/products/import/report.csv")
@require_permission("catalog.manage")
def download_import_report():
    """The error report of a refused import as CSV (signed by the result page, valid for a day)."""
    form = ReportForm()
    if not form.validate_on_submit():
        raise BadRequest()
    try:
        rows = _serializer().loads(form.report.data or "", max_age=REPORT_MAX_AGE)
    except BadSignature:
        raise BadRequest(_("This report has expired. Import the file again to see its errors.")) from None
    body = to_csv([_("Row"), _("Column"), _("Error")], [["" if r is None else r, c, m] for r, c, m in rows])
    return download(body, f"product-import-errors-{stamp()}.csv", "text/csv")


def _filters() -> dict:
    """The product list's filters from the query string (the list page's names)."""
    args = request.args
    return {"q": args.get("q") or None, "category_id": args.get("category") or None,
            "tag": args.get("tag") or None, "status": args.get("status") or None,
            "tracking": args.get("tracking") or None}


@bp.get("/catalog/products/export.csv")
@require_permission("catalog.manage")
def export_products_csv():
    """The products (the list's filters applied) as CSV in the import's columns, UTF-8 with BOM."""
    body = to_csv(import_export.headers(), import_export.export_rows(current_user, **_filters()))
    return download(body, f"products-{stamp()}.csv", "text/csv")


@bp.get("/catalog/products/export.xlsx")
@require_permission("catalog.manage")
def export_products_xlsx():
    """The products (the list's filters applied) as an XLSX workbook in the import's columns."""
    rows = import_export.export_rows(current_user, **_filters())
    body = import_export.to_xlsx(import_export.headers(), rows, _("Products"))
    return download(body, f"products-{stamp()}.xlsx", XLSX_TYPE)


@bp.get("/catalog/products/import/template.<any(csv, xlsx):kind>")
@require_permission("catalog.manage")
def download_import_template(kind: str):
    """An import template: the header row and one example row."""
    if kind == "csv":
        return download(to_csv(import_export.headers(), import_export.example_rows()),
                        "product-import-template.csv", "text/csv")
    return download(import_export.to_xlsx(import_export.headers(), import_export.example_rows(), _("Products")),
                    "product-import-template.xlsx", XLSX_TYPE)
