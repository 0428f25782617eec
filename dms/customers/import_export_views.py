"""Customer import and export pages: upload a CSV or XLSX of customers, download the filtered list or a template.

An import is applied whole or not at all: the view commits once when every row passed, and rolls back
when the service refuses the file, showing the row-by-row report (duplicates by phone included). The
export takes the list's own search and filters, within the user's scope, phones masked for users who
may not see them.
"""

from flask import request
from flask_babel import gettext as _
from flask_login import current_user

from dms.core.auth import require_permission
from dms.core.errors import Forbidden, ValidationError
from dms.core.jobs import commit
from dms.core.listing import day_arg
from dms.core.render import render
from dms.core.scope import HQ_SCOPE
from dms.core.spreadsheets import download, stamp, to_csv
from dms.customers import bp, import_export, services
from dms.customers.forms import XLSX_TYPE, ImportForm, choices
from dms.extensions import db
from dms.territories.picker import picked_code


def _hq() -> bool:
    return current_user.can(HQ_SCOPE)


def _form(fresh: bool = False) -> ImportForm:
    """The upload form: the request's, or an empty one (below a result)."""
    form = ImportForm(formdata=None) if fresh else ImportForm()
    if _hq():
        form.distributor_id.choices = choices(services.distributor_choices(), _("Choose the distributor"))
    return form


def _page(template: str, form: ImportForm, status: int = 200, **ctx):
    response = render(template, None, form=form, hq=_hq(), max_mb=f"{import_export.max_bytes() / 2**20:g}",
                      max_rows=import_export.max_rows(), columns=import_export.COLUMNS,
                      required=import_export.REQUIRED, chinese=import_export.CHINESE_HEADERS, status=status, **ctx)
    response.headers["Cache-Control"] = "no-store"
    return response


def _distributor_id(form: ImportForm) -> int:
    """The distributor the file's customers are for: the user's own, or (HQ) the one chosen."""
    if not _hq():
        return current_user.distributor_id
    raw = form.distributor_id.data or ""
    valid = {value for value, _label in services.distributor_choices()}
    if raw not in valid:
        form.distributor_id.errors = [_("Choose the distributor.")]
        raise ValidationError(fields={"distributor_id": [_("Choose the distributor.")]})
    return int(raw)


@bp.route("/customers/import", methods=["GET", "POST"])
@require_permission("customers.manage")
def import_customers():
    """Upload a customer file; every row is created, or none and the page lists each row's errors."""
    if not _hq() and current_user.distributor_id is None:
        raise Forbidden()
    form = _form()
    if not form.validate_on_submit():
        return _page("customers/import.html", form, 400 if form.errors else 200)
    try:
        distributor_id = _distributor_id(form)
    except ValidationError:
        return _page("customers/import.html", form, 400)
    upload = form.file.data
    data = upload.stream.read(import_export.max_bytes() + 1)
    try:
        result = import_export.import_customers(current_user, distributor_id, upload.filename or "", data)
        commit()
    except import_export.ImportRejected as exc:
        db.session.rollback()
        return _page("customers/import_result.html", _form(fresh=True), 422, result=None, errors=exc.errors,
                     message=exc.message, ignored=exc.ignored_columns, filename=upload.filename)
    return _page("customers/import_result.html", _form(fresh=True), result=result, errors=[],
                 ignored=result.ignored_columns, filename=upload.filename)


def _export_stmt():
    """The customers the list shows for the query string (search, filters, region), within scope."""
    errors: dict = {}
    args = dict(request.args)
    region = picked_code(request.args, "region")
    args["region"] = region
    return services.filtered(current_user, args, day_arg("last_from", errors), day_arg("last_to", errors), hq=_hq())


@bp.get("/customers/export.<any(csv, xlsx):kind>")
@require_permission("customers.view")
def export_customers(kind: str):
    """The customers of the list (its search and filters applied) as CSV or XLSX, in the import's columns."""
    reveal = current_user.can("customers.reveal_phone")
    rows = import_export.export_rows(_export_stmt(), reveal, hq=_hq())
    header = import_export.headers(hq=_hq())
    if kind == "csv":
        return download(to_csv(header, rows), f"customers-{stamp()}.csv", "text/csv")
    return download(import_export.to_xlsx(header, rows, _("Customers")), f"customers-{stamp()}.xlsx", XLSX_TYPE)


@bp.get("/customers/import/template.<any(csv, xlsx):kind>")
@require_permission("customers.manage")
def download_customer_template(kind: str):
    """An import template: the header row and one example row."""
    header = [import_export.column_header(key) for key in import_export.COLUMNS]
    if kind == "csv":
        return download(to_csv(header, import_export.example_rows()), "customer-import-template.csv", "text/csv")
    return download(import_export.to_xlsx(header, import_export.example_rows(), _("Customers")),
                    "customer-import-template.xlsx", XLSX_TYPE)
