"""Report pages: the list of reports, and each report with its filters (htmx), chart, CSV and XLSX exports.

Every report page reads its parameters from the query string and asks its module's `build(actor, params)`
for the figures (scoped to the user's distributor unless they have HQ scope). A bad parameter answers 400
with the page and its message, never a 500. `?format=csv` downloads the report's main table (`&sheet=2`
its second table, e.g. the sale lines), `?format=xlsx` a workbook with every table, written row by row
(openpyxl write-only), so the full row data of a large report fits. The PDF button fragment reads
`report_kind` and `report_params`.
"""

import io
import re
from datetime import date, datetime
from decimal import Decimal

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from dms.catalog.models import Product
from dms.core.auth import require_permission
from dms.core.errors import BadRequest, Forbidden, ValidationError
from dms.core.nav import nav_url
from dms.core.render import render
from dms.core.scope import scoped
from dms.core.spreadsheets import XLSX_TYPE, download, stamp, to_csv, xlsx_text
from dms.distributors.models import Distributor, Warehouse
from dms.extensions import db
from dms.reports import (
    bp,
    campaign_reports,
    commission_summary,
    performance_ranking,
    registry,
    sales,
    satisfaction,
    trend,
    turnover,
)

VIEW = "reports.view"
FORMATS = ("csv", "xlsx")
MAX_CHOICES = 500
MODULES = {"sales": sales, "trend": trend, "turnover": turnover, "ranking": performance_ranking,
           "satisfaction": satisfaction, "campaigns": campaign_reports, "commissions": commission_summary}
DESCRIPTIONS = {
    "sales": _l("Sales by period, region, product and distributor, with drill-down."),
    "trend": _l("Sales amount and orders by day, week or month, as a chart."),
    "turnover": _l("Cost of goods issued, average inventory, turnover and days of inventory per product and "
                   "warehouse."),
    "ranking": _l("Distributors ranked by sales, with orders, average order value, target attainment and growth."),
    "satisfaction": _l("Customer ratings: average and distribution by distributor and by month."),
    "campaigns": _l("Each campaign's measured effect: revenue, uplift, incremental margin and ROI."),
    "commissions": _l("Commissions by month and kind, and by distributor, from the ledger."),
}


def _allowed(definition) -> bool:
    if not current_user.can(definition.permission):
        return False
    return definition.kind != "campaigns" or sales.hq(current_user)


@bp.get("/reports", endpoint="index")
@require_permission(VIEW)
def list_reports():
    """The reports the user may open, each with what it shows."""
    reports = [(d, nav_url(d.endpoint), DESCRIPTIONS.get(d.kind, "")) for d in registry.REPORTS.values()
               if _allowed(d)]
    return render("reports/index.html", reports=[r for r in reports if r[1]])


# ---------------------------------------------------------------- the filter choices

def _choices(kind: str) -> dict:
    """The options of the report's filter selects, within the user's scope."""
    found: dict = {}
    if kind == "sales":
        found["dimensions"] = [(d, str(sales.DIMENSION_LABELS[d])) for d in sales.dimensions_for(current_user)]
    if kind == "trend":
        found["granularities"] = [(g, str(trend.GRANULARITY_LABELS[g])) for g in trend.GRANULARITIES]
    if kind == "campaigns":
        found["statuses"] = [(s, campaign_reports.campaigns.status_label(s)) for s in campaign_reports.EVALUATED_STATES]
    if kind == "commissions":
        found["kinds"] = [(k, str(commission_summary.KIND_LABELS[k])) for k in commission_summary.ENTRY_KINDS]
    # Plain columns, not entities: a select of 500 options must not load 500 rows with their relationships.
    if kind in ("sales", "trend", "turnover"):
        products = db.session.execute(select(Product.id, Product.name, Product.sku)
                                      .order_by(Product.name, Product.id).limit(MAX_CHOICES))
        found["products"] = [(str(id_), f"{name} ({sku})") for id_, name, sku in products]
    if kind in ("sales", "trend", "ranking", "satisfaction", "commissions") and sales.hq(current_user):
        distributors = db.session.execute(select(Distributor.id, Distributor.kind, Distributor.name,
                                                 Distributor.company_name)
                                          .order_by(Distributor.name, Distributor.id).limit(MAX_CHOICES))
        found["distributors"] = [(str(id_), (company or name) if form == "company" else name)
                                 for id_, form, name, company in distributors]
    if kind == "turnover":
        warehouses = db.session.scalars(scoped(select(Warehouse), Warehouse.distributor_id, current_user)
                                        .order_by(Warehouse.name, Warehouse.id))
        found["warehouses"] = [(str(w.id), w.name) for w in warehouses]
    return found


# ---------------------------------------------------------------- exports

def _xlsx_cell(sheet, value):
    from openpyxl.cell import WriteOnlyCell

    value = xlsx_text(value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str) and cell.data_type == "f":
        cell.data_type = "s"  # text that looks like a formula stays text
    elif isinstance(value, Decimal):
        cell.number_format = "0.00"
    elif isinstance(value, date) and not isinstance(value, datetime):
        cell.number_format = "yyyy-mm-dd"
    return cell


def workbook(sheets: list[sales.Sheet]) -> bytes:
    """An XLSX of the sheets, written row by row (write-only: memory stays small for large reports)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    used: set = set()
    for one in sheets:
        title = re.sub(r"[\\/*?:\[\]]", " ", str(one.title))[:31] or "Sheet"
        while title in used:
            title = title[:28] + f"-{len(used)}"
        used.add(title)
        sheet = book.create_sheet(title)
        sheet.freeze_panes = "A2"
        header = []
        for text in one.header:
            cell = _xlsx_cell(sheet, str(text))
            cell.font = Font(bold=True)
            header.append(cell)
        sheet.append(header)
        for row in one.rows:
            sheet.append([_xlsx_cell(sheet, _plain(v)) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _plain(value):
    """A cell value openpyxl writes: lazy strings as text."""
    if value is None or isinstance(value, (str, int, float, Decimal, date)):
        return value
    return str(value)


def _csv_rows(rows):
    for row in rows:
        yield [v.isoformat() if isinstance(v, date) else _plain(v) for v in row]


def _export(kind: str, module, figures: dict, fmt: str, params: dict):
    sheets = module.sheets(current_user, params, figures)
    name = f"{kind}-{figures['start'].isoformat()}-{figures['end'].isoformat()}-{stamp()}"
    if fmt == "xlsx":
        return download(workbook(sheets), f"{name}.xlsx", XLSX_TYPE)
    raw = str(params.get("sheet") or "1")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= len(sheets):
        raise BadRequest(_("There is no such table in this report."))
    chosen = sheets[int(raw) - 1]
    body = to_csv([str(h) for h in chosen.header], _csv_rows(chosen.rows))
    return download(body, f"{name}.csv" if raw == "1" else f"{name}-{raw}.csv", "text/csv")


# ---------------------------------------------------------------- the report pages

def show_report(kind: str):
    """The report `kind`: its page (or its fragment for htmx), or its export with ?format=csv|xlsx."""
    definition = registry.get(kind)
    if not _allowed(definition):
        raise Forbidden()
    module = MODULES[kind]
    params = {k: v for k, v in request.args.items() if k not in ("format", "sheet")}
    fmt = (request.args.get("format") or "").strip()
    if fmt and fmt not in FORMATS:
        raise BadRequest(_("Choose CSV or XLSX."))
    template, fragment = f"reports/{kind}.html", f"reports/_{kind}.html"
    try:
        figures = module.build(current_user, params)
    except ValidationError as exc:
        errors = {name: [str(m) for m in messages] for name, messages in exc.fields.items()} or {"": [exc.message]}
        if fmt:
            raise BadRequest(next(iter(errors.values()))[0]) from None
        response = render(template, fragment, status=400, figures=None, errors=errors, values=params,
                          choices=_choices(kind), definition=definition, report_kind=kind, report_params=params)
        response.headers["Cache-Control"] = "no-store"
        return response
    if fmt:
        return _export(kind, module, figures, fmt, {**params, "sheet": request.args.get("sheet")})
    response = render(template, fragment, figures=figures, errors={}, values=figures["params"],
                      choices=_choices(kind), definition=definition, report_kind=kind,
                      report_params=figures["params"])
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/reports/sales", endpoint="sales")
@require_permission(VIEW)
def sales_report():
    """Sales by region, distributor, product or month over a period, with drill-down and totals."""
    return show_report("sales")


@bp.get("/reports/trend", endpoint="trend")
@require_permission(VIEW)
def trend_report():
    """The sales trend by day, week or month, with its charts."""
    return show_report("trend")


@bp.get("/reports/turnover", endpoint="turnover")
@require_permission(VIEW)
def turnover_report():
    """Inventory turnover and days of inventory per product and warehouse."""
    return show_report("turnover")


@bp.get("/reports/ranking", endpoint="ranking")
@require_permission(VIEW)
def ranking_report():
    """Distributors ranked by sales, with target attainment and growth."""
    return show_report("ranking")


@bp.get("/reports/satisfaction", endpoint="satisfaction")
@require_permission(VIEW)
def satisfaction_report():
    """Customer ratings by distributor and by month."""
    return show_report("satisfaction")


@bp.get("/reports/campaigns", endpoint="campaigns")
@require_permission(VIEW)
def campaigns_report():
    """One evaluation row per campaign of the period (HQ)."""
    return show_report("campaigns")


@bp.get("/reports/commissions", endpoint="commissions")
@require_permission(VIEW)
def commissions_report():
    """Commissions by month and kind, and by distributor."""
    return show_report("commissions")
