"""Dealer scorecard pages: the month's ranking with the formula, HQ's weights, a distributor's history.

Everyone with reports.view opens the ranking and the history; a distributor sees only its own scores
(another distributor's history answers 404). Setting the weights and recomputing a month are for HQ
staff who edit distributors (distributors.manage with HQ scope); both are audited. The history is
also a panel of the distributor page, through the `scorecard_panel` template global (the distributors
area does not import reports).
"""

from flask import flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from dms.core.auth import require_permission
from dms.core.errors import ValidationError
from dms.core.forms import AppForm, form_status, submit
from dms.core.periods import month_name, parse_month
from dms.core.render import htmx_redirect, render
from dms.core.scope import HQ_SCOPE, get_scoped
from dms.distributors.models import Distributor
from dms.reports import bp
from dms.reports import scorecard as sc

VIEW = "reports.view"
NUMBER = {"inputmode": "decimal", "autocomplete": "off"}


class WeightsForm(AppForm):
    """One weight (0-100) per criterion; the service checks the numbers."""


for _code in sc.CRITERIA:
    setattr(WeightsForm, _code, StringField(sc.LABELS[_code], validators=[DataRequired(_l("Enter a weight."))],
                                            render_kw=NUMBER))


class RecomputeForm(AppForm):
    """The month HQ recomputes."""

    period = StringField(_l("Month"), validators=[DataRequired(), Length(max=7)],
                         render_kw={"placeholder": "YYYY-MM", "autocomplete": "off"})


def _period(errors: dict) -> str:
    """The month asked for (YYYY-MM), else the last computed one; a malformed month is reported in `errors`."""
    raw = (request.args.get("period") or "").strip()
    if raw:
        try:
            return month_name(parse_month(raw))
        except ValidationError as exc:
            errors["period"] = str(exc.fields["period"][0])
    return sc.default_period()


def _common() -> dict:
    """What every scorecard template needs."""
    return {"criteria": sc.CRITERIA, "labels": sc.LABELS, "measure": sc.measure, "mappings": sc.MAPPINGS,
            "missing": sc.MISSING, "units": sc.UNITS, "on_time_days": sc.ON_TIME_DAYS,
            "manages": sc.may_manage(current_user), "hq": current_user.can(HQ_SCOPE)}


def _ranking_page(period: str, errors: dict, recompute_form=None, status: int = 200):
    form = recompute_form or RecomputeForm(formdata=None, period=period)
    return render("reports/scorecard/ranking.html", "reports/scorecard/_ranking.html", status=status,
                  period=period, rows=sc.ranking(current_user, period), weights=sc.weights(), filter_errors=errors,
                  recompute_form=form, **_common())


@bp.get("/reports/scorecard")
@require_permission(VIEW)
def scorecard():
    """The month's ranking of distributors by score, each criterion's points, and the formula; ?format=csv|xlsx."""
    errors: dict[str, str] = {}
    period = _period(errors)
    fmt = (request.args.get("format") or "").strip()
    if fmt and not errors:
        return _export(period, fmt)
    return _ranking_page(period, errors)


def _export(period: str, fmt: str):
    """The ranking as CSV or XLSX: rank, distributor, score, and each criterion's raw value and points."""
    from dms.core.errors import BadRequest
    from dms.core.spreadsheets import XLSX_TYPE, download, stamp, to_csv
    from dms.reports.report_views import workbook
    from dms.reports.sales import Sheet

    if fmt not in ("csv", "xlsx"):
        raise BadRequest(_("Choose CSV or XLSX."))
    header = [_("Rank"), _("Distributor"), _("Score")]
    for code in sc.CRITERIA:
        header += [f"{sc.LABELS[code]} ({_('value')})", f"{sc.LABELS[code]} ({_('points')})"]
    rows = []
    for rank, row in enumerate(sc.ranking(current_user, period), start=1):
        line = [rank, row.distributor.display_name, row.score]
        for code in sc.CRITERIA:
            part = (row.components or {}).get(code) or {}
            line += [part.get("value"), part.get("points")]
        rows.append(line)
    name = f"scorecard-{period}-{stamp()}"
    if fmt == "xlsx":
        return download(workbook([Sheet(name[:31], header, rows)]), f"{name}.xlsx", XLSX_TYPE)
    return download(to_csv([str(h) for h in header], rows), f"{name}.csv", "text/csv")


@bp.post("/reports/scorecard/recompute")
@require_permission(VIEW)
def recompute_scorecard():
    """Recompute a month's scores now (HQ managers; audited), then back to that month's ranking."""
    sc.require_manage(current_user)
    form = RecomputeForm()
    rows = submit(form, lambda: sc.recompute(current_user, form.period.data.strip()))
    if rows is None:
        return _ranking_page(sc.default_period(), {}, form, status=form_status(form, invalid=422))
    period = month_name(parse_month(form.period.data.strip()))
    flash(_("Scores of %(period)s recomputed for %(n)d distributors.", period=period,
            n=0 if rows is True else len(rows)), "success")
    return htmx_redirect(url_for("reports.scorecard", period=period))


@bp.route("/reports/scorecard/weights", methods=["GET", "POST"])
@require_permission(VIEW)
def scorecard_weights():
    """HQ's weights of the criteria (0-100 each, at least one above 0); saved weights apply to the next computation."""
    sc.require_manage(current_user)
    current = sc.weights()
    if request.method == "GET":
        form = WeightsForm(formdata=None, data={code: f"{current[code]:f}" for code in sc.CRITERIA})
    else:
        form = WeightsForm()
    if submit(form, lambda: sc.set_weights(current_user, {code: getattr(form, code).data for code in sc.CRITERIA})):
        flash(_("Weights saved. Recompute a month to apply them to its scores."), "success")
        return htmx_redirect(url_for("reports.scorecard"))
    return render("reports/scorecard/weights.html", "reports/scorecard/_weights_form.html",
                  status=form_status(form, invalid=422), form=form, weights=current, **_common())


@bp.get("/reports/scorecard/distributors/<int:distributor_id>")
@require_permission(VIEW)
def scorecard_history(distributor_id: int):
    """A distributor's scores over the last 12 months (a distributor opens its own only; others are 404)."""
    distributor = get_scoped(Distributor, distributor_id, current_user, column=Distributor.id)
    return render("reports/scorecard/history.html", "reports/scorecard/_history.html", distributor=distributor,
                  scores=sc.history(distributor.id), months=sc.history_months(), **_common())


@bp.app_template_global()
def scorecard_panel(distributor) -> Markup:
    """The distributor page's panel of its scores over the last 12 months (empty for users without reports)."""
    if not current_user.is_authenticated or not current_user.can(VIEW):
        return Markup("")
    if not current_user.can(HQ_SCOPE) and getattr(current_user, "distributor_id", None) != distributor.id:
        return Markup("")
    # render_template has escaped everything it inserted: the result is safe to mark as such.
    return Markup(render_template("reports/scorecard/_panel.html", distributor=distributor,  # noqa: S704
                                  scores=sc.history(distributor.id), **_common()))
