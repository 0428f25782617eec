"""The monthly performance report (月度经营报告) of one distributor: its page, its PDF and the monthly job.

The figures of a month (business time zone):
- Completed sales: the distributor's orders delivered or completed (refunded and cancelled ones never
  count), dated by their delivery time, or their completion time when no delivery was recorded. Orders,
  sales (order totals), units (line quantities), top products (line amounts) and the daily sales chart
  all count these orders.
- New customers: the distributor's customers created during the month.
- Target attainment: sales and units against the distributor's monthly target, when it has one.
- Average rating: the scores (1-5) customers gave the distributor's orders during the month.
- Commissions: the distributor's commission entries of the month by status (accrued, held, payable, paid).

On the 2nd of each month at 06:00 a job makes last month's report of every active distributor, as its
first active user (in that user's language), and tells the distributor's users when the file is ready.
"""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import exists, func, select

from dms.accounts.models import User
from dms.catalog.models import Product
from dms.commissions import ledger
from dms.core import charts
from dms.core.auth import require_permission
from dms.core.errors import NotFound, ValidationError
from dms.core.models import Notification
from dms.core.pdf import print_svg
from dms.core.periods import (
    business_date,
    current_month,
    month_bounds_utc,
    month_last_day,
    month_name,
    parse_month,
    previous_month,
)
from dms.core.render import render
from dms.core.schedule import register as register_periodic
from dms.core.scope import HQ_SCOPE
from dms.core.services import notify
from dms.customers.models import Customer
from dms.distributors.models import Distributor, DistributorTarget
from dms.extensions import db
from dms.orders.models import Order, OrderLine, OrderRating
from dms.reports import bp, pdf_jobs
from dms.reports.registry import ReportDefinition, register

KIND = "performance"
SALES_STATES = ("delivered", "completed")
TOP_PRODUCTS = 5
CENT, TENTH = Decimal("0.01"), Decimal("0.1")
ZERO = Decimal("0.00")

DEFINITION = register(ReportDefinition(
    kind=KIND, title=_l("Monthly performance report"), endpoint="reports.performance",
    build="dms.reports.performance_report.build", pdf_template="reports/pdf/performance.html",
    orientation="portrait"))


def default_month() -> str:
    """Last month, "YYYY-MM": the month a monthly report is about."""
    return month_name(previous_month(current_month()))


def _distributor(actor, params: dict) -> Distributor:
    """HQ names the distributor (distributor_id); a distributor's user always gets its own."""
    if actor.can(HQ_SCOPE):
        raw = str(params.get("distributor_id") or "").strip()
        if not raw.isdigit():
            raise ValidationError(fields={"distributor_id": [_("Choose a distributor.")]})
        distributor = db.session.get(Distributor, int(raw))
    else:
        distributor_id = getattr(actor, "distributor_id", None)
        distributor = db.session.get(Distributor, distributor_id) if distributor_id else None
    if distributor is None:
        raise NotFound()
    return distributor


def _percent(part, whole) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole) * 100).quantize(TENTH, ROUND_HALF_UP)


def build(actor, params: dict) -> dict:
    """The month's figures of one distributor (see the module's rules); ValidationError for bad parameters."""
    first = parse_month(params.get("month") or default_month(), "month")
    distributor = _distributor(actor, params)
    start, end = month_bounds_utc(first)
    dated = func.coalesce(Order.delivered_at, Order.completed_at)
    in_month = (Order.distributor_id == distributor.id, Order.status.in_(SALES_STATES), dated >= start, dated < end)

    rows = db.session.execute(select(Order.id, dated, Order.total).where(*in_month)).all()
    sales = sum((row[2] for row in rows), ZERO)
    by_day: dict = {}
    for _order_id, moment, total in rows:
        day = business_date(moment)
        by_day[day] = by_day.get(day, ZERO) + total
    order_ids = select(Order.id).where(*in_month)
    units = db.session.scalar(select(func.coalesce(func.sum(OrderLine.quantity), 0))
                              .where(OrderLine.order_id.in_(order_ids))) or 0
    top = db.session.execute(
        select(Product.id, Product.name, Product.sku, func.sum(OrderLine.quantity), func.sum(OrderLine.amount))
        .join(Product, Product.id == OrderLine.product_id).where(OrderLine.order_id.in_(order_ids))
        .group_by(Product.id, Product.name, Product.sku)
        .order_by(func.sum(OrderLine.amount).desc(), Product.id).limit(TOP_PRODUCTS)).all()
    new_customers = db.session.scalar(select(func.count(Customer.id)).where(
        Customer.distributor_id == distributor.id, Customer.created_at >= start, Customer.created_at < end)) or 0
    rating_avg, rating_count = db.session.execute(
        select(func.avg(OrderRating.score), func.count(OrderRating.id)).join(Order, Order.id == OrderRating.order_id)
        .where(Order.distributor_id == distributor.id, OrderRating.at >= start, OrderRating.at < end)).one()
    target = db.session.scalar(select(DistributorTarget).where(
        DistributorTarget.distributor_id == distributor.id, DistributorTarget.period == "month",
        DistributorTarget.period_start == first))
    commissions = ledger.balances(distributor.id, period=month_name(first))

    last = month_last_day(first)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    values = [by_day.get(day, ZERO) for day in days] if by_day else [None] * len(days)
    chart = charts.line_chart(
        [f"{day.day}" for day in days], [charts.Series(_("Sales"), values)],
        title=_("Daily sales, %(month)s", month=month_name(first)),
        description=_("Completed sales per day of the month, in yuan."),
        height=220, empty_message=_("No completed sales this month."))
    return {
        "title": _("Monthly performance report · %(name)s", name=distributor.display_name),
        "period_label": _("%(month)s (%(first)s to %(last)s)", month=month_name(first), first=first.isoformat(),
                          last=last.isoformat()),
        "distributor": distributor, "month": month_name(first),
        "orders": len(rows), "sales": sales.quantize(CENT), "units": int(units),
        "average_order": (sales / len(rows)).quantize(CENT, ROUND_HALF_UP) if rows else None,
        "new_customers": new_customers,
        "target": target,
        "sales_attainment": _percent(sales, target.amount) if target and target.amount else None,
        "units_attainment": _percent(units, target.quantity) if target and target.quantity else None,
        "average_rating": Decimal(str(rating_avg)).quantize(CENT, ROUND_HALF_UP) if rating_avg is not None else None,
        "ratings": rating_count or 0,
        "commissions": commissions,
        "commissions_total": sum(commissions.values(), ZERO),
        "top_products": [{"name": name, "sku": sku, "units": int(qty or 0), "amount": Decimal(amount or 0)}
                         for _pid, name, sku, qty, amount in top],
        "daily": [(day, by_day[day]) for day in sorted(by_day)],
        "chart": print_svg(chart),
    }


# --- the page -----------------------------------------------------------------------------------------

@bp.get("/reports/performance")
@require_permission("reports.view")
def performance():
    """A distributor's monthly performance report, with its PDF button (HQ picks the distributor)."""
    hq = current_user.can(HQ_SCOPE)
    month = (request.args.get("month") or "").strip() or default_month()
    params = {"month": month}
    if hq:
        params["distributor_id"] = (request.args.get("distributor_id") or "").strip()
    figures, errors, status = None, {}, 200
    if not hq or params["distributor_id"]:
        try:
            figures = build(current_user, params)
        except ValidationError as exc:
            errors, status = exc.fields, 422
    distributors = []
    if hq:
        distributors = list(db.session.scalars(select(Distributor).order_by(Distributor.name).limit(500)))
    return render("reports/performance.html", status=status, figures=figures, errors=errors, hq=hq,
                  month=month, distributor_id=params.get("distributor_id", ""), distributors=distributors,
                  report_kind=KIND if figures else None, report_params={k: v for k, v in params.items() if v})


# --- the monthly job ----------------------------------------------------------------------------------

def _active_users(distributor_id: int) -> list[User]:
    return list(db.session.scalars(select(User).where(User.distributor_id == distributor_id, User.active.is_(True))
                                   .order_by(User.id)))


def _locale_of(user) -> str:
    languages = current_app.config["LANGUAGES"]
    locale = getattr(user, "locale", None)
    return locale if locale in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def notify_ready(report_file_id: int) -> int:
    """Tell the distributor's active users that its report is ready (once per user and file); return how many."""
    report_file = db.session.get(pdf_jobs.ReportFile, report_file_id)
    if report_file is None or report_file.distributor_id is None or not pdf_jobs.is_ready(report_file):
        return 0
    link = pdf_jobs.download_url(report_file.id)
    sent = 0
    for user in _active_users(report_file.distributor_id):
        if db.session.scalar(select(exists().where(Notification.user_id == user.id, Notification.link == link))):
            continue
        with force_locale(_locale_of(user)):
            notify(user.id, _("Your performance report for %(month)s is ready",
                              month=(report_file.params or {}).get("month", "")),
                   _("Download the PDF, or find it under My reports."), link=link)
        sent += 1
    return sent


def render_and_notify(report_file_id: int) -> dict:
    """The job of a monthly report: print it (pdf_jobs.render_report), then notify the distributor's users."""
    result = pdf_jobs.render_report(report_file_id)
    result["notified"] = notify_ready(report_file_id)
    return result


def monthly_performance_reports() -> dict:
    """Periodic (2nd of the month, 06:00): last month's report of every active distributor, once; idempotent."""
    month = default_month()
    made = notified = 0
    active = select(Distributor).where(Distributor.status == "active").order_by(Distributor.id)
    for distributor in db.session.scalars(active).all():
        users = _active_users(distributor.id)
        owner = next((u for u in users if u.can(DEFINITION.permission) and not u.can(HQ_SCOPE)), None)
        actor = owner or pdf_jobs.ScopeActor(distributor.id)
        report_file = pdf_jobs.request_report(actor, KIND, {"month": month}, locale=_locale_of(owner),
                                              func=render_and_notify)
        made += 1
        job = report_file.job
        if job is not None and job.status == "finished" and pdf_jobs.is_ready(report_file):
            notified += notify_ready(report_file.id)  # made earlier (asked for by hand): tell them now
    return {"month": month, "distributors": made, "notified": notified}


register_periodic("dms.reports.performance_report.monthly_performance_reports", cron="0 6 2 * *", queue="reports")
