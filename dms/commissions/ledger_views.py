"""Commission pages of the ledger: the overview ("my commissions", or HQ's summary), the entries with their
holds, HQ's manual adjustments.

A distributor sees only the entries it benefits from (scoped queries; another's entry answers 404); HQ
(scope.all_distributors) sees the network, and only commissions.manage may hold, release or adjust. Forms
come back with their errors in place (422; 409 for a conflict); each request commits once or rolls back.
"""

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from dms.commissions import bp, ledger, queries
from dms.commissions.ledger_forms import (
    ENTRY_STATUS_HINTS,
    ENTRY_STATUS_LABELS,
    ENTRY_STATUS_TAGS,
    KIND_LABELS,
    RUN_STATUS_LABELS,
    STATEMENT_STATUS_LABELS,
    STATEMENT_STATUS_TAGS,
    AdjustmentForm,
    ButtonForm,
    HoldForm,
    choices,
)
from dms.commissions.models import ENTRY_KINDS, ENTRY_STATES, CommissionEntry, Statement
from dms.core.auth import require_permission
from dms.core.errors import Forbidden, ValidationError
from dms.core.forms import form_status, submit
from dms.core.listing import paginate_list
from dms.core.nav import nav_url
from dms.core.periods import month_name, parse_month
from dms.core.render import htmx_redirect, is_htmx, render
from dms.core.scope import HQ_SCOPE, get_scoped
from dms.distributors.models import Distributor
from dms.extensions import db

VIEW, MANAGE = "commissions.view", "commissions.manage"
ENTRY_FILTERS = ("period", "status", "kind", "order", "distributor")
OVERVIEW_ENTRIES, OVERVIEW_STATEMENTS = 10, 12


def hq() -> bool:
    """True for HQ staff, who see every distributor's commissions."""
    return current_user.can(HQ_SCOPE)


def manages() -> bool:
    """True for those who may adjust, hold, settle, confirm and pay."""
    return current_user.can(MANAGE) and hq()


def require_manage() -> None:
    """Forbidden unless the user manages commissions for HQ."""
    if not manages():
        raise Forbidden()


def require_hq() -> None:
    """Forbidden for users who see only their own distributor's commissions."""
    if not hq():
        raise Forbidden()


def period_arg(errors: dict, name: str = "period") -> str | None:
    """A month (YYYY-MM) from the query string; a malformed one is reported in `errors` and not applied."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return month_name(parse_month(raw, name))
    except ValidationError as exc:
        errors[name] = str(exc.fields[name][0])
        return None


def id_arg(name: str, errors: dict, message: str) -> int | None:
    """A positive id from the query string; junk is reported in `errors` and not applied."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    value = queries.number(raw.removeprefix("DD").removeprefix("dd"))
    if value is None:
        errors[name] = message
    return value


def keep(stmt, value):
    """A list filter applied before paginating: kept in the page's arguments, not applied again."""
    return stmt


def labels() -> dict:
    """What every commission template needs: labels, tags, the user's powers, helpers."""
    return {"entry_labels": ENTRY_STATUS_LABELS, "entry_hints": ENTRY_STATUS_HINTS, "entry_tags": ENTRY_STATUS_TAGS,
            "kind_labels": KIND_LABELS, "statement_labels": STATEMENT_STATUS_LABELS,
            "statement_tags": STATEMENT_STATUS_TAGS, "run_labels": RUN_STATUS_LABELS, "hq": hq(),
            "manages": manages(), "order_reference": queries.order_reference}


def linkable_orders(entries) -> set[int]:
    """The ids of the entries' orders the user may open."""
    if nav_url("orders.show_order", order_id=1) is None:
        return set()
    return queries.visible_order_ids(current_user, [e.order_id for e in entries])


# --- the overview -------------------------------------------------------------------------------------------

@bp.get("/commissions")
@require_permission(VIEW)
def overview():
    """My commissions (balances, entries, statements) for a distributor; network sums, runs and counts for HQ."""
    errors: dict[str, str] = {}
    period = period_arg(errors)
    ctx = {"period": period or "", "filter_errors": errors}
    if hq():
        runs = queries.latest_runs(5)
        ctx.update(sums=queries.status_sums(current_user, period), counts=queries.statement_counts(current_user),
                   runs=runs, jobs=queries.jobs_of(runs))
    else:
        distributor_id = current_user.distributor_id
        entries_stmt = queries.entries_query(current_user).options(selectinload(CommissionEntry.statement))
        statements_stmt = queries.statements_query(current_user)
        if period:
            entries_stmt = entries_stmt.where(CommissionEntry.period == period)
            statements_stmt = statements_stmt.where(Statement.period == period)
        entries = list(db.session.scalars(entries_stmt.order_by(CommissionEntry.id.desc())
                                          .limit(OVERVIEW_ENTRIES)))
        ctx.update(distributor=db.session.get(Distributor, distributor_id) if distributor_id else None,
                   balances=ledger.balances(distributor_id, period) if distributor_id else None,
                   entries=entries, linkable=linkable_orders(entries),
                   statements=list(db.session.scalars(statements_stmt.order_by(Statement.period.desc())
                                                      .limit(OVERVIEW_STATEMENTS))))
    return render("commissions/overview.html", None, status=400 if errors else 200, **ctx, **labels())


# --- the entries ----------------------------------------------------------------------------------------------

def _entries_page(failed: dict | None = None, status: int = 200):
    """The entries list from the query string; `failed` = {entry id: form} shows a refused hold in its row."""
    errors: dict[str, str] = {}
    stmt = queries.entries_query(current_user).options(selectinload(CommissionEntry.statement))
    period = period_arg(errors)
    if period:
        stmt = stmt.where(CommissionEntry.period == period)
    if request.args.get("status") in ENTRY_STATES:
        stmt = stmt.where(CommissionEntry.status == request.args["status"])
    if request.args.get("kind") in ENTRY_KINDS:
        stmt = stmt.where(CommissionEntry.kind == request.args["kind"])
    order_id = id_arg("order", errors, _("An order number such as DD000017 or 17."))
    if order_id:
        stmt = stmt.where(CommissionEntry.order_id == order_id)
    distributor = None
    if hq():
        distributor_id = id_arg("distributor", errors, _("Choose a distributor from the list."))
        if distributor_id:
            stmt = stmt.where(CommissionEntry.beneficiary_id == distributor_id)
            distributor = db.session.get(Distributor, distributor_id)
    page = paginate_list(stmt, sorts={"created": CommissionEntry.id, "amount": CommissionEntry.amount,
                                      "available": CommissionEntry.available_on, "period": CommissionEntry.period},
                         default_sort="created", default_dir="desc", filters=dict.fromkeys(ENTRY_FILTERS, keep))
    page.endpoint, page.view_args = "commissions.list_entries", {}
    distributors = queries.distributor_choices(chosen=distributor.id if distributor else None)[0] if hq() else []
    response = render("commissions/entries.html", "commissions/_entries_table.html",
                      status=status if status != 200 else (400 if errors else 200), page=page, filter_errors=errors,
                      distributor=distributor, distributors=distributors, failed=failed or {},
                      list_args=page.args(), linkable=linkable_orders(page.items),
                      statuses=[(s, ENTRY_STATUS_LABELS[s]) for s in ENTRY_STATES],
                      kinds=[(k, KIND_LABELS[k]) for k in ENTRY_KINDS], actions=manages(), **labels())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/commissions/entries")
@require_permission(VIEW)
def list_entries():
    """Commission entries, newest first: filters month, status, kind, order and (HQ) distributor; paginated."""
    return _entries_page()


def _entry_answer(entry_id: int, form=None, status: int = 200):
    """After a hold or release: the entry's row (htmx), else back to the list it was done from."""
    if is_htmx():
        entry = get_scoped(CommissionEntry, entry_id, current_user, CommissionEntry.beneficiary_id)
        response = render("commissions/_entry_row.html", None, status=status, e=entry, failed={entry.id: form}
                          if form is not None else {}, list_args=request.args.to_dict(),
                          linkable=linkable_orders([entry]), actions=manages(), **labels())
        response.headers["Cache-Control"] = "no-store"
        return response
    if form is None:
        return htmx_redirect(url_for("commissions.list_entries", **request.args.to_dict()))
    return _entries_page({entry_id: form}, status=status)


@bp.post("/commissions/entries/<int:entry_id>/hold")
@require_permission(VIEW)
def hold_entry(entry_id: int):
    """Hold an unsettled entry back from settlement, with a reason (HQ)."""
    entry = get_scoped(CommissionEntry, entry_id, current_user, CommissionEntry.beneficiary_id)
    require_manage()
    form = HoldForm()
    if submit(form, lambda: ledger.hold(current_user, entry.id, form.reason.data or "")):
        if not is_htmx():
            flash(_("The entry is held: it stays out of settlement until released."), "success")
        return _entry_answer(entry_id)
    return _entry_answer(entry_id, form, form_status(form, invalid=422))


@bp.post("/commissions/entries/<int:entry_id>/release")
@require_permission(VIEW)
def release_entry(entry_id: int):
    """Release a held entry: it is settled again with the next statement once its hold period is over (HQ)."""
    entry = get_scoped(CommissionEntry, entry_id, current_user, CommissionEntry.beneficiary_id)
    require_manage()
    form = ButtonForm()
    if submit(form, lambda: ledger.release(current_user, entry.id)):
        if not is_htmx():
            flash(_("The entry is released."), "success")
        return _entry_answer(entry_id)
    return _entry_answer(entry_id, form, form_status(form, invalid=422))


# --- adjustments ---------------------------------------------------------------------------------------------

def _chosen(value) -> int | None:
    return queries.number(value if isinstance(value, str) else "")


def _distributor_field(form: AdjustmentForm, q: str = "") -> bool:
    """Fill the distributor select (narrowed by `q`); True when more distributors match than are listed."""
    options, more = queries.distributor_choices(q, _chosen(form.distributor_id.data))
    form.distributor_id.choices = choices(options, _("Choose the distributor"))
    return more


def _adjustment_page(form: AdjustmentForm, status: int | None = None):
    q = (request.form.get("q") if request.method == "POST" else request.args.get("q")) or ""
    more = _distributor_field(form, q)
    response = render("commissions/adjustment.html", None, status=status or form_status(form, invalid=422),
                      form=form, q=q.strip()[:100], more=more, **labels())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/commissions/adjustments/new", methods=["GET", "POST"])
@require_permission(MANAGE)
def new_adjustment():
    """HQ's manual adjustment (+ or -) of a distributor's commissions, with a required reason; audited."""
    require_manage()
    if request.method == "GET":
        chosen = _chosen(request.args.get("distributor"))
        return _adjustment_page(AdjustmentForm(formdata=None, distributor_id=str(chosen or "")))
    form = AdjustmentForm()
    if request.form.get("find"):  # without JavaScript: narrow the distributor list, do not save
        return _adjustment_page(form, status=200)
    entry = submit(form, lambda: ledger.adjust(current_user, form.distributor_id.data, form.amount.data or "",
                                               form.reason.data or ""))
    if entry:
        flash(_("Adjustment of %(amount)s recorded for %(name)s.", amount=entry.amount,
                name=entry.beneficiary.display_name), "success")
        return htmx_redirect(url_for("commissions.list_entries", distributor=entry.beneficiary_id))
    return _adjustment_page(form)


@bp.get("/commissions/adjustments/distributors")
@require_permission(MANAGE)
def adjustment_distributors():
    """Fragment: the adjustment form's distributor select, narrowed by ?q= (name, company or number)."""
    require_manage()
    form = AdjustmentForm(formdata=None, distributor_id=str(_chosen(request.args.get("distributor_id")) or ""))
    more = _distributor_field(form, request.args.get("q", ""))
    return render("commissions/_distributor_select.html", "commissions/_distributor_select.html", form=form,
                  more=more)

