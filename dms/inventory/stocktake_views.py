"""The stocktaking pages: the list with "open a count", the counting page, the review, post and cancel.

Every route with a stocktake id first loads it within the user's scope, so another distributor's
stocktake answers 404 before anything else (DESIGN.md convention 9); the services check
inventory.manage for every change.
"""

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import false, select

from dms.accounts.models import User
from dms.catalog.models import Product
from dms.core.auth import require_permission
from dms.core.errors import NotFound, ValidationError
from dms.core.forms import form_status, submit
from dms.core.jobs import commit
from dms.core.listing import paginate_list
from dms.core.render import htmx_redirect, is_htmx, render
from dms.core.scope import HQ_SCOPE
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import bp, services, stocktakes
from dms.inventory.models import STOCKTAKE_STATES, Stocktake
from dms.inventory.stocktake_forms import (
    AddLineForm,
    ConfirmForm,
    OpenStocktakeForm,
    PostStocktakeForm,
    count_field,
    parse_counts,
)

ADD_LINE_ALIASES = {"batch": "batch_code"}


def _warehouses() -> list[Warehouse]:
    """The warehouses the user may count: HQ every active one (HQ's first), a distributor its own."""
    if current_user.can(HQ_SCOPE):
        return list(db.session.scalars(select(Warehouse).where(Warehouse.active.is_(True))
                                       .order_by(Warehouse.distributor_id.is_not(None), Warehouse.name)))
    try:
        return [services.warehouse_for(current_user)]
    except NotFound:
        return []


def _open_form(formdata=None) -> OpenStocktakeForm:
    form = OpenStocktakeForm(formdata=formdata) if formdata is not None else OpenStocktakeForm(formdata=None)
    form.warehouse_id.choices = [(str(w.id), w.name) for w in _warehouses()]
    return form


def _by_warehouse(stmt, value):
    return stmt.where(Stocktake.warehouse_id == int(value)) if value.isdigit() and len(value) < 10 \
        else stmt.where(false())


def _list_page(open_form=None):
    """The list of stocktakes with the "open a count" form (the one given when it failed)."""
    hq = current_user.can(HQ_SCOPE)
    page = paginate_list(
        stocktakes.stocktakes_query(current_user), search=[Warehouse.name, Stocktake.note],
        sorts={"opened": Stocktake.opened_at, "status": Stocktake.status, "warehouse": Warehouse.name},
        default_sort="opened", default_dir="desc",
        filters={"status": lambda s, v: s.where(Stocktake.status == v), "warehouse": _by_warehouse})
    open_form = open_form or _open_form()
    manages = current_user.can("inventory.manage") and bool(open_form.warehouse_id.choices)
    filters = [("status", _("Status"), [(s, stocktakes.status_label(s)) for s in STOCKTAKE_STATES])]
    if hq:
        filters.append(("warehouse", _("Warehouse"), [(str(w.id), w.name) for w in _warehouses()]))
    return render("inventory/stocktakes.html", "inventory/_stocktakes_table.html", status=form_status(open_form),
                  page=page, filters=filters, open_form=open_form, manages=manages,
                  status_label=stocktakes.status_label)


@bp.get("/inventory/stocktakes")
@require_permission("inventory.view")
def list_stocktakes():
    """Stocktakes with status and warehouse filters, search, sorting and pagination; the open-a-count form."""
    return _list_page()


@bp.post("/inventory/stocktakes")
@require_permission("inventory.view")
def open_stocktake():
    """Open a count of a warehouse (expected quantities snapshotted); errors and an open count shown in place."""
    form = _open_form(request.form)

    def action():
        warehouse = services.warehouse_for(current_user, int(form.warehouse_id.data))
        return stocktakes.open_stocktake(current_user, warehouse, form.note.data or "")

    stocktake = submit(form, action)
    if stocktake:
        flash(_("Stocktake #%(id)d opened: enter the quantities you count.", id=stocktake.id), "success")
        return htmx_redirect(url_for("inventory.show_stocktake", stocktake_id=stocktake.id))
    return _list_page(form)


def _user_label(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.label if user else ""


def _matches(line, q: str) -> bool:
    q = q.casefold()
    return any(q in (text or "").casefold() for text in (line.product.name, line.product.sku, line.batch.code))


def _groups(lines) -> list[tuple[Product, list]]:
    """Lines (already grouped by product) as [(product, [lines])]."""
    groups: list[tuple[Product, list]] = []
    for line in lines:
        if groups and groups[-1][0].id == line.product_id:
            groups[-1][1].append(line)
        else:
            groups.append((line.product, [line]))
    return groups


def _can_count(stocktake: Stocktake) -> bool:
    return stocktake.status == "open" and current_user.can("inventory.manage")


def _line_context(stocktake: Stocktake, errors=None, submitted=None) -> dict:
    return {"stocktake": stocktake, "can_count": _can_count(stocktake), "errors": errors or {},
            "submitted": submitted or {}, "count_field": count_field, "difference_of": stocktakes.difference_of}


def _count_page(stocktake: Stocktake, *, errors=None, submitted=None, add_form=None, cancel_form=None,
                status: int = 200):
    """The counting page of an open stocktake, or the read-only document of a closed one."""
    q = (request.args.get("q") or "").strip()[:100]
    lines = stocktakes.sorted_lines(stocktake)
    shown = [line for line in lines if _matches(line, q)] if q else lines
    counted = sum(1 for line in lines if line.counted is not None)
    return render(
        "inventory/stocktake.html", "inventory/_stocktake_lines.html", status=status, q=q, groups=_groups(shown),
        total=len(lines), counted=counted, add_form=add_form or AddLineForm(formdata=None),
        cancel_form=cancel_form or ConfirmForm(formdata=None), opened_by=_user_label(stocktake.opened_by_id),
        closed_by=_user_label(stocktake.closed_by_id), status_label=stocktakes.status_label,
        **_line_context(stocktake, errors, submitted))


@bp.get("/inventory/stocktakes/<int:stocktake_id>")
@require_permission("inventory.view")
def show_stocktake(stocktake_id: int):
    """A stocktake: the counting page (one number per batch, grouped by product) or the posted document."""
    return _count_page(stocktakes.get_stocktake(current_user, stocktake_id))


@bp.post("/inventory/stocktakes/<int:stocktake_id>/counts")
@require_permission("inventory.view")
def save_stocktake_counts(stocktake_id: int):
    """Save counted quantities (the whole form, or one line by htmx); bad numbers answer 400, nothing saved."""
    stocktake = stocktakes.get_stocktake(current_user, stocktake_id)
    counts, errors = parse_counts(request.form, stocktake.lines)
    if not errors:
        try:
            stocktakes.record_counts(current_user, stocktake, counts)
            commit()
        except ValidationError as exc:
            db.session.rollback()
            by_field = {count_field(line.id): line.id for line in stocktake.lines}
            errors = {by_field[name]: messages for name, messages in exc.fields.items() if name in by_field}
            if not errors:
                raise
    status = 400 if errors else 200
    if is_htmx() and len(counts) + len(errors) == 1:
        line_id = next(iter(errors or counts))
        line = next(line for line in stocktake.lines if line.id == line_id)
        return render("inventory/_stocktake_line.html", status=status, line=line,
                      **_line_context(stocktake, errors, request.form))
    if errors:
        return _count_page(stocktake, errors=errors, submitted=request.form, status=status)
    flash(_("Counts saved."), "success")
    return htmx_redirect(url_for("inventory.show_stocktake", stocktake_id=stocktake.id,
                                 q=request.args.get("q") or None))


@bp.post("/inventory/stocktakes/<int:stocktake_id>/lines")
@require_permission("inventory.view")
def add_stocktake_line(stocktake_id: int):
    """Add stock found that is not on the list (product by SKU, batch, quantity found)."""
    stocktake = stocktakes.get_stocktake(current_user, stocktake_id)
    form = AddLineForm()

    def action():
        sku = (form.sku.data or "").strip()
        product = db.session.scalar(select(Product).where(Product.sku == sku))
        return stocktakes.add_line(current_user, stocktake, product, form.batch_code.data or None,
                                   form.expiry_date.data, form.counted.data)

    line = submit(form, action, ADD_LINE_ALIASES)
    if line:
        flash(_("Line added."), "success")
        return htmx_redirect(url_for("inventory.show_stocktake", stocktake_id=stocktake.id, _anchor=f"line-{line.id}"))
    return _count_page(stocktake, add_form=form, status=form_status(form))


def _review_page(stocktake: Stocktake, post_form=None):
    """The differences of a stocktake before posting, with the stock as it is now."""
    changed, uncounted = stocktakes.differences(stocktake)
    post_form = post_form or PostStocktakeForm(formdata=None)
    return render("inventory/stocktake_review.html", status=form_status(post_form), stocktake=stocktake,
                  changed=changed, uncounted=uncounted, balances=stocktakes.current_balances(stocktake),
                  post_form=post_form, can_count=_can_count(stocktake), difference_of=stocktakes.difference_of,
                  status_label=stocktakes.status_label)


@bp.get("/inventory/stocktakes/<int:stocktake_id>/review")
@require_permission("inventory.view")
def review_stocktake(stocktake_id: int):
    """The review step: lines counted differently, lines not counted, and the post button."""
    return _review_page(stocktakes.get_stocktake(current_user, stocktake_id))


@bp.post("/inventory/stocktakes/<int:stocktake_id>/post")
@require_permission("inventory.view")
def post_stocktake(stocktake_id: int):
    """Post every difference in one transaction; uncounted lines, short stock or a second post shown in place."""
    stocktake = stocktakes.get_stocktake(current_user, stocktake_id)
    form = PostStocktakeForm()
    moved = submit(form, lambda: stocktakes.post_stocktake(current_user, stocktake, form.keep_uncounted.data))
    if moved is not None:
        flash(ngettext("Stocktake #%(id)d posted: %(num)d adjustment.",
                       "Stocktake #%(id)d posted: %(num)d adjustments.", len(moved), id=stocktake.id), "success")
        return htmx_redirect(url_for("inventory.show_stocktake", stocktake_id=stocktake.id))
    return _review_page(stocktake, form)


@bp.post("/inventory/stocktakes/<int:stocktake_id>/cancel")
@require_permission("inventory.view")
def cancel_stocktake(stocktake_id: int):
    """Cancel an open stocktake (stock unchanged)."""
    stocktake = stocktakes.get_stocktake(current_user, stocktake_id)
    form = ConfirmForm()
    if submit(form, lambda: stocktakes.cancel_stocktake(current_user, stocktake)):
        flash(_("Stocktake #%(id)d cancelled.", id=stocktake.id), "success")
        return htmx_redirect(url_for("inventory.show_stocktake", stocktake_id=stocktake.id))
    return _count_page(stocktake, cancel_form=form, status=form_status(form))
