"""The sales forecast and reorder suggestion pages, and the reorder offer of the replenishment form.

Scoping (DESIGN.md convention 9): a distributor sees only its own forecasts (scope "distributor", its
id) whatever the query string says; HQ chooses overall, one distributor or one region (province). The
inventory area does not import this area: the replenishment form includes the offer only when the Jinja
global `reorder_suggestions(warehouse)` registered here is defined.
"""

from datetime import timedelta

from flask import flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from dms.catalog.models import Product
from dms.core import charts
from dms.core.auth import require_permission
from dms.core.errors import NotFound, ValidationError
from dms.core.listing import paginate_list
from dms.core.render import render
from dms.core.scope import HQ_SCOPE
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.reports import bp, forecast, reorder
from dms.reports.models import SalesForecast
from dms.reports.registry import ReportDefinition
from dms.reports.registry import register as register_report
from dms.territories.models import Region

VIEW = "reports.view"
CHART_HISTORY_WEEKS = 52


def method_labels() -> dict:
    """method -> its translated name."""
    return {forecast.HOLT_WINTERS: _("Holt-Winters"), forecast.SEASONAL_NAIVE: _("Seasonal naive")}


def variant_label(method: str, weeks: int) -> str:
    """What a method actually fits on a series of that many weeks, in words."""
    if method == forecast.SEASONAL_NAIVE:
        season = forecast.season_length(weeks)
        if season == 1:
            return _("last week repeated")
        return _("same week %(n)s weeks earlier", n=season)
    return {"seasonal": _("damped trend + 52-week season"), "trend": _("damped trend, no season"),
            "simple": _("simple exponential smoothing"),
            "last": _("last week repeated")}[forecast.smoothing_variant(weeks)]


def _id(value) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _scope(actor, params) -> tuple[str, str, int | None]:
    """(scope, key, distributor id) shown: a distributor its own whatever `params` say, HQ what it filtered on."""
    if not actor.can(HQ_SCOPE):
        return "distributor", str(actor.distributor_id or ""), actor.distributor_id
    raw = (params.get("distributor") or "").strip()
    if raw:
        if _id(raw) is None:
            raise ValidationError(fields={"distributor": [_("Choose a distributor from the list.")]})
        return "distributor", raw, _id(raw)
    region = (params.get("region") or "").strip()
    if region:
        if not (region.isdigit() and len(region) == 6):
            raise ValidationError(fields={"region": [_("Choose a province from the list.")]})
        return "region", forecast.province_of(region), None
    return "all", "", None


def _scope_label(scope: str, key: str, distributor_id: int | None) -> str:
    if scope == "distributor":
        distributor = db.session.get(Distributor, distributor_id) if distributor_id else None
        return distributor.name if distributor else "—"
    if scope == "region":
        region = db.session.get(Region, key)
        return region.name if region else key
    return _("Overall")


def _choices(scope: str) -> list[tuple[str, str]]:
    """The (key, name) choices of HQ's distributor or region filter: those that have forecasts."""
    keys = list(db.session.scalars(select(SalesForecast.scope_key).where(SalesForecast.scope == scope).distinct()))
    if scope == "distributor":
        ids = [int(k) for k in keys if k.isdigit()]
        rows = db.session.execute(select(Distributor.id, Distributor.name).where(Distributor.id.in_(ids))
                                  .order_by(Distributor.name)).all()
        return [(str(i), name) for i, name in rows]
    rows = db.session.execute(select(Region.code, Region.name).where(Region.code.in_(keys)).order_by(Region.code))
    return [(code, name) for code, name in rows]


def _chart(product: Product, history: list[float], row: SalesForecast):
    """History (the last 52 weeks) and forecast of one product as one line chart."""
    start = forecast.current_week()
    shown = history[-CHART_HISTORY_WEEKS:]
    history_start = start - timedelta(weeks=len(shown))
    future = [w["units"] for w in row.weeks]
    labels = [(history_start + timedelta(weeks=n)).strftime("%m-%d") for n in range(len(shown))]
    labels += [w["week"][5:] for w in row.weeks]
    past = [*shown, *([None] * len(future))]
    # The forecast line starts at the last actual week, so the two lines join.
    ahead = [None] * max(0, len(shown) - 1) + ([shown[-1]] if shown else []) + future
    return charts.line_chart(labels, [charts.Series(_("Actual units"), past), charts.Series(_("Forecast"), ahead)],
                             title=_("Weekly units of %(name)s: actual and forecast", name=product.name),
                             description=_("%(n)s weeks of actual sales, then %(m)s weeks forecast",
                                           n=len(shown), m=len(future)),
                             chart_id=f"forecast-chart-{row.id}")


@bp.get("/reports/forecasts", endpoint="forecasts")
@require_permission(VIEW)
def forecasts_page():
    """Weekly forecasts per product (overall, per distributor or region), both methods' backtests, a chart;
    ?format=csv|xlsx downloads every forecast week of the scope."""
    fmt = (request.args.get("format") or "").strip()
    if fmt:
        return _export(fmt)
    hq = current_user.can(HQ_SCOPE)
    scope, key, distributor_id = _scope(current_user, request.args)
    stmt = (select(SalesForecast).join(Product, Product.id == SalesForecast.product_id)
            .where(SalesForecast.scope == scope, SalesForecast.scope_key == key))
    filters = {"product": lambda s, v: s.where(SalesForecast.product_id == _id(v))}
    if hq:  # applied by _scope above; listed so pagination keeps them
        filters.update({"distributor": lambda s, v: s, "region": lambda s, v: s})
    page = paginate_list(stmt, search=[Product.name, Product.sku], sorts={"product": Product.name},
                         default_sort="product", filters=filters, per_page=10)
    products = {p.id: p for p in db.session.scalars(
        select(Product).where(Product.id.in_([r.product_id for r in page.items])))}
    start = forecast.current_week()
    demand = forecast.weekly_demand(start - timedelta(weeks=CHART_HISTORY_WEEKS), start, list(products),
                                    distributor_id=distributor_id) if products else {}
    cards = []
    for row in page.items:
        _first, history = forecast.dense(demand.get((row.product_id, scope, key), {}), start)
        product = products[row.product_id]
        cards.append({"row": row, "product": product, "chart": _chart(product, history, row),
                      "variant": variant_label(row.method, row.history_weeks),
                      "hw_variant": variant_label(forecast.HOLT_WINTERS, row.history_weeks),
                      "naive_variant": variant_label(forecast.SEASONAL_NAIVE, row.history_weeks)})
    product_choices = [(str(i), f"{name} ({sku})") for i, name, sku in db.session.execute(
        select(Product.id, Product.name, Product.sku).where(Product.id.in_(
            select(SalesForecast.product_id).where(SalesForecast.scope == scope, SalesForecast.scope_key == key)))
        .order_by(Product.name))]
    scope_label = _scope_label(scope, key, distributor_id)
    response = render("reports/forecast/forecasts.html", "reports/forecast/_forecasts.html", page=page, cards=cards,
                      hq=hq, scope=scope, scope_label=scope_label, method_labels=method_labels(),
                      product_choices=product_choices,
                      distributor_choices=_choices("distributor") if hq else [],
                      region_choices=_choices("region") if hq else [],
                      holdout=forecast.HOLDOUT, horizon=forecast.HORIZON)
    response.headers["Cache-Control"] = "no-store"
    return response


def _export(fmt: str):
    """The scope's forecasts, one row per product and week, with the method and both backtests."""
    from dms.core.errors import BadRequest
    from dms.core.spreadsheets import XLSX_TYPE, download, stamp, to_csv
    from dms.reports.report_views import workbook
    from dms.reports.sales import Sheet

    if fmt not in ("csv", "xlsx"):
        raise BadRequest(_("Choose CSV or XLSX."))
    figures = build_forecasts(current_user, request.args)
    labels = method_labels()
    header = [_("Product"), "SKU", _("Week"), _("Units"), _("Method"), "MAPE %", "WAPE %",
              f"{labels[forecast.SEASONAL_NAIVE]} MAPE %", f"{labels[forecast.SEASONAL_NAIVE]} WAPE %"]
    rows = [[item["product"].name, item["product"].sku, week.get("week"), week.get("units"),
             labels.get(item["row"].method, item["row"].method), item["row"].mape, item["row"].wape,
             item["row"].baseline_mape, item["row"].baseline_wape]
            for item in figures["rows"] for week in (item["row"].weeks or [])]
    name = f"forecasts-{stamp()}"
    if fmt == "xlsx":
        return download(workbook([Sheet(name[:31], header, rows)]), f"{name}.xlsx", XLSX_TYPE)
    return download(to_csv([str(h) for h in header], rows), f"{name}.csv", "text/csv")


def build_forecasts(actor, params: dict) -> dict:
    """The printed forecast report: every product's forecast and both backtests in the actor's scope."""
    scope, key, distributor_id = _scope(actor, params)
    stmt = (select(SalesForecast, Product).join(Product, Product.id == SalesForecast.product_id)
            .where(SalesForecast.scope == scope, SalesForecast.scope_key == key).order_by(Product.name))
    product_id = _id(params.get("product"))
    if product_id is not None:
        stmt = stmt.where(SalesForecast.product_id == product_id)
    rows = [{"row": row, "product": product, "variant": variant_label(row.method, row.history_weeks)}
            for row, product in db.session.execute(stmt)]
    start = forecast.current_week()
    return {"rows": rows, "scope_label": _scope_label(scope, key, distributor_id), "method_labels": method_labels(),
            "period_label": _("%(n)s weeks from %(start)s", n=forecast.HORIZON, start=start.isoformat()),
            "holdout": forecast.HOLDOUT, "horizon": forecast.HORIZON}


register_report(ReportDefinition(kind="forecasts", title=_l("Sales forecasts"), endpoint="reports.forecasts",
                                 build="dms.reports.forecast_views.build_forecasts",
                                 pdf_template="reports/forecast/pdf.html", orientation="landscape"))


@bp.post("/reports/forecasts/refresh", endpoint="refresh_forecast")
@require_permission(VIEW)
def refresh_forecast():
    """Recompute one product's forecasts now (HQ), then show them."""
    from dms.core.jobs import commit

    product_id = _id(request.form.get("product"))
    product = db.session.get(Product, product_id) if product_id else None
    if product is None:
        raise NotFound()
    count = forecast.refresh_product(current_user, product.id)
    commit()
    if count:
        flash(_("The forecasts of %(name)s were recomputed.", name=product.name), "success")
    else:
        flash(_("%(name)s has no completed sales to forecast from.", name=product.name), "warning")
    return redirect(url_for("reports.forecasts", product=product.id))


# --- reorder suggestions ---------------------------------------------------------------------------

def reorder_suggestions(warehouse) -> list:
    """Jinja global for the replenishment form: the warehouse's reorder suggestions (empty on any doubt)."""
    if warehouse is None or not current_user.is_authenticated:
        return []
    try:
        reorder.get_warehouse(current_user, warehouse.id)
    except NotFound:
        return []
    return reorder.suggestions(warehouse)


bp.add_app_template_global(reorder_suggestions, "reorder_suggestions")
bp.add_app_template_global(reorder.lead_weeks, "reorder_lead_weeks")


@bp.get("/reports/reorder-suggestions", endpoint="reorder_suggestions")
@require_permission(VIEW)
def reorder_suggestions_page():
    """A warehouse's reorder suggestions: forecast over the lead time + safety stock - available, per product."""
    raw = request.args.get("warehouse")
    if raw and _id(raw) is None:
        raise ValidationError(fields={"warehouse": [_("Choose a warehouse from the list.")]})
    warehouse = reorder.get_warehouse(current_user, _id(raw))
    rows = reorder.suggestions(warehouse) if warehouse else []
    response = render("reports/forecast/reorder.html", "reports/forecast/_reorder_table.html", warehouse=warehouse,
                      warehouses=reorder.warehouses_for(current_user), rows=rows, lead=reorder.lead_weeks(),
                      z=reorder.Z, method_labels=method_labels(), hq=current_user.can(HQ_SCOPE),
                      can_request=current_user.can("inventory.manage"))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/reports/reorder-suggestions/<int:warehouse_id>/fill", endpoint="fill_reorder")
@require_permission(VIEW)
def fill_reorder(warehouse_id: int):
    """The replenishment form's quantity inputs set to the suggestions (htmx out-of-band swaps)."""
    warehouse = reorder.get_warehouse(current_user, warehouse_id)
    response = render("reports/forecast/_reorder_fill.html", rows=reorder.suggestions(warehouse))
    response.headers["Cache-Control"] = "no-store"
    return response
