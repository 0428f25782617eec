"""The transfer and replenishment pages.

Every route with an id first loads the row within the user's scope, so another distributor's id
answers 404 before anything else is checked (DESIGN.md convention 9). Forms are re-shown with their
errors in place (422), a conflict such as short stock with its message above the form (409).
"""

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from dms.catalog.models import Product
from dms.core.auth import require_permission
from dms.core.errors import Forbidden, NotFound
from dms.core.forms import submit
from dms.core.listing import paginate_list
from dms.core.render import htmx_redirect, render
from dms.core.scope import HQ_SCOPE
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import bp, replenishment, services, thresholds, transfers
from dms.inventory.models import REPLENISHMENT_STATES, TRANSFER_STATES, ReplenishmentRequest, Transfer
from dms.inventory.transfer_forms import (
    REQUEST_STATUS_LABELS,
    STATUS_TAGS,
    TRANSFER_STATUS_LABELS,
    ApproveForm,
    CancelTransferForm,
    ConfirmForm,
    ReceiveForm,
    RejectForm,
    ReplenishmentForm,
    TransferForm,
)

MANAGE = "inventory.manage"


def _labels() -> dict:
    return {"transfer_status_labels": TRANSFER_STATUS_LABELS, "request_status_labels": REQUEST_STATUS_LABELS,
            "status_tags": STATUS_TAGS, "transfer_ref": transfers.reference, "request_ref": replenishment.reference}


def _id_arg(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 10 else None


def _status(*forms) -> int:
    """A domain error's own status (409, ...), 422 for errors shown in place, else 200."""
    shown = [f for f in forms if f is not None]
    for form in shown:
        if getattr(form, "error_status", None):
            return form.error_status
    return 422 if any(f.errors or f.form_errors or getattr(f, "line_errors", None) for f in shown) else 200


def _by_index(ids: list[int]):
    """A `place` for services that name lines by position (`lines.<n>.<field>`): beside the n-th id's input."""
    def place(form):
        def do(fields):
            placed = []
            for name, messages in fields.items():
                parts = name.split(".")
                if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit() and int(parts[1]) < len(ids):
                    form.line_errors.setdefault(ids[int(parts[1])], []).extend(messages)
                    placed.append(name)
                elif name == "lines":
                    form.form_errors.extend(messages)
                    placed.append(name)
            return placed
        return do
    return place


def _by_key(prefix: str):
    """A `place` for services that name lines by id (`<prefix><id>`)."""
    def place(form):
        def do(fields):
            form.place(fields, prefix)
            placed = [n for n in fields if n.startswith(prefix) and n[len(prefix):].isdigit()]
            if "lines" in fields:
                form.form_errors.extend(fields["lines"])
                placed.append("lines")
            return placed
        return do
    return place


def _require_hq() -> None:
    if not (current_user.can(MANAGE) and current_user.can(HQ_SCOPE)):
        raise Forbidden()


# --- replenishment requests ---------------------------------------------------------------------

@bp.get("/inventory/replenishment")
@require_permission("inventory.view")
def list_replenishments():
    """Replenishment requests, newest first, by status and (for HQ) warehouse; a distributor sees its own."""
    hq = current_user.can(HQ_SCOPE)
    filters = {"status": lambda s, v: s.where(ReplenishmentRequest.status == v)}
    if hq:
        filters["warehouse"] = lambda s, v: s.where(ReplenishmentRequest.warehouse_id == _id_arg(v))
    page = paginate_list(replenishment.requests_query(current_user), search=[Warehouse.name],
                         sorts={"created": ReplenishmentRequest.created_at, "status": ReplenishmentRequest.status,
                                "warehouse": Warehouse.name},
                         default_sort="created", default_dir="desc", filters=filters)
    warehouses = []
    if hq:
        warehouses = [(str(w.id), w.name) for w in db.session.scalars(
            select(Warehouse).where(Warehouse.distributor_id.is_not(None)).order_by(Warehouse.name))]
    return render("inventory/replenishments.html", "inventory/_replenishments_table.html", page=page,
                  statuses=[(s, REQUEST_STATUS_LABELS[s]) for s in REPLENISHMENT_STATES], warehouses=warehouses,
                  can_request=current_user.can(MANAGE), **_labels())


def _request_rows(warehouse):
    """Every available product for the request form: suggested ones first, with the figures behind them."""
    suggestions = {p.id: q for p, q in replenishment.suggested_quantities(warehouse).items()}
    products = list(db.session.scalars(select(Product).where(Product.status == "available").order_by(Product.name)))
    limits = thresholds.thresholds_for(warehouse, products)
    available = replenishment.available_by_product(warehouse)
    incoming = replenishment.incoming_by_product(warehouse)
    rows = [{"product": p, "available": available.get(p.id, 0), "threshold": limits[p.id],
             "incoming": incoming.get(p.id, 0), "suggested": suggestions.get(p.id)} for p in products]
    rows.sort(key=lambda r: r["suggested"] is None)  # stable: by name within each group
    return rows


@bp.route("/inventory/replenishment/new", methods=["GET", "POST"])
@require_permission(MANAGE)
def new_replenishment():
    """Ask HQ for stock: every available product, prefilled with the quantities that refill the low ones."""
    warehouse = services.warehouse_for(current_user, _id_arg(request.args.get("warehouse", "")))
    if warehouse.distributor_id is None:  # HQ staff first choose for which distributor they ask
        choices = list(db.session.scalars(select(Warehouse).where(Warehouse.distributor_id.is_not(None),
                                                                  Warehouse.active.is_(True))
                                          .order_by(Warehouse.name)))
        return render("inventory/replenishment_choose.html", warehouses=choices)
    rows = _request_rows(warehouse)
    ids = [r["product"].id for r in rows]
    form = ReplenishmentForm(line_ids=ids)
    asked: list[int] = []

    def action():
        by_id = {r["product"].id: r["product"] for r in rows}
        asked.extend(i for i in ids if form.quantities.get(i))
        return replenishment.create_request(current_user, warehouse,
                                            [(by_id[i], form.quantities[i]) for i in asked], form.note.data or "")

    created = submit(form, action, place=_by_index(asked)(form))
    if created:
        flash(_("Replenishment request %(ref)s sent to HQ.", ref=replenishment.reference(created)), "success")
        return htmx_redirect(url_for("inventory.show_replenishment", request_id=created.id))
    response = render("inventory/replenishment_form.html", status=_status(form), form=form, rows=rows,
                      warehouse=warehouse, hq=current_user.can(HQ_SCOPE))
    response.headers["Cache-Control"] = "no-store"
    return response


def _request_page(req: ReplenishmentRequest, *, approve_form=None, reject_form=None, cancel_form=None):
    """The request's page with fresh forms, or the one that failed with its errors in place."""
    hq_available = {}
    deciding = replenishment.is_hq(current_user) and req.status == replenishment.OPEN
    if deciding:
        try:
            hq_available = replenishment.available_by_product(services.hq_warehouse())
        except NotFound:
            hq_available = {}
    approve_form = approve_form or ApproveForm(formdata=None, line_ids=[line.id for line in req.lines])
    return render("inventory/replenishment.html", status=_status(approve_form, reject_form, cancel_form), req=req,
                  deciding=deciding, can_cancel=replenishment.can_cancel(current_user, req),
                  hq_available=hq_available,
                  own_available=replenishment.available_by_product(req.warehouse),
                  approve_form=approve_form, reject_form=reject_form or RejectForm(formdata=None),
                  cancel_form=cancel_form or ConfirmForm(formdata=None), **_labels())


@bp.get("/inventory/replenishment/<int:request_id>")
@require_permission("inventory.view")
def show_replenishment(request_id: int):
    """A request: its lines, the decision, the transfer it created; HQ approves or rejects it here."""
    return _request_page(replenishment.get_request(current_user, request_id))


@bp.post("/inventory/replenishment/<int:request_id>/approve")
@require_permission(MANAGE)
def approve_replenishment(request_id: int):
    """Approve in full or in part (a quantity per line) and ship at once from HQ's warehouse."""
    req = replenishment.get_request(current_user, request_id)
    _require_hq()
    form = ApproveForm(line_ids=[line.id for line in req.lines],
                       maximums={line.id: line.quantity_requested for line in req.lines})
    done = submit(form, lambda: replenishment.approve_request(current_user, req, form.quantities,
                                                              form.reason.data or ""), place=_by_key("line-")(form))
    if done:
        flash(_("%(ref)s approved; the transfer is on its way.", ref=replenishment.reference(req)), "success")
        return htmx_redirect(url_for("inventory.show_transfer", transfer_id=req.transfer_id))
    return _request_page(req, approve_form=form)


@bp.post("/inventory/replenishment/<int:request_id>/reject")
@require_permission(MANAGE)
def reject_replenishment(request_id: int):
    """Reject a request with a reason (required)."""
    req = replenishment.get_request(current_user, request_id)
    _require_hq()
    form = RejectForm()
    if submit(form, lambda: replenishment.reject_request(current_user, req, form.reason.data or "")):
        flash(_("%(ref)s rejected.", ref=replenishment.reference(req)), "success")
        return htmx_redirect(url_for("inventory.show_replenishment", request_id=req.id))
    return _request_page(req, reject_form=form)


@bp.post("/inventory/replenishment/<int:request_id>/cancel")
@require_permission(MANAGE)
def cancel_replenishment(request_id: int):
    """Withdraw a submitted request (the requesting side, confirmed in the browser)."""
    req = replenishment.get_request(current_user, request_id)
    form = ConfirmForm()
    if submit(form, lambda: replenishment.cancel_request(current_user, req)):
        flash(_("%(ref)s cancelled.", ref=replenishment.reference(req)), "success")
        return htmx_redirect(url_for("inventory.show_replenishment", request_id=req.id))
    return _request_page(req, cancel_form=form)


# --- transfers ----------------------------------------------------------------------------------

@bp.get("/inventory/transfers")
@require_permission("inventory.view")
def list_transfers():
    """Transfers, newest first, by status, source and destination; a distributor sees those involving it."""
    stmt = transfers.transfers_query(current_user)
    if current_user.can(HQ_SCOPE):
        choices = select(Warehouse)
    else:  # only the warehouses its own transfers name, not the whole network's
        pairs = db.session.execute(stmt.with_only_columns(Transfer.from_warehouse_id, Transfer.to_warehouse_id))
        choices = select(Warehouse).where(Warehouse.id.in_({w for pair in pairs for w in pair}))
    warehouses = [(str(w.id), w.name) for w in db.session.scalars(choices.order_by(Warehouse.name))]
    page = paginate_list(stmt, search=[Transfer.note],
                         sorts={"created": Transfer.created_at, "status": Transfer.status},
                         default_sort="created", default_dir="desc",
                         filters={"status": lambda s, v: s.where(Transfer.status == v),
                                  "from": lambda s, v: s.where(Transfer.from_warehouse_id == _id_arg(v)),
                                  "to": lambda s, v: s.where(Transfer.to_warehouse_id == _id_arg(v))})
    return render("inventory/transfers.html", "inventory/_transfers_table.html", page=page, warehouses=warehouses,
                  statuses=[(s, TRANSFER_STATUS_LABELS[s]) for s in TRANSFER_STATES],
                  can_create=replenishment.is_hq(current_user), **_labels())


def _source_rows(source: Warehouse):
    """The products with available (non-expired) stock in `source`, for the transfer form."""
    available = {pid: qty for pid, qty in replenishment.available_by_product(source).items() if qty > 0}
    products = list(db.session.scalars(select(Product).where(Product.id.in_(available)).order_by(Product.name))) \
        if available else []
    return [{"product": p, "available": available[p.id]} for p in products]


@bp.route("/inventory/transfers/new", methods=["GET", "POST"])
@require_permission(MANAGE)
def new_transfer():
    """HQ sends stock between any two warehouses; the lines follow the chosen source (htmx)."""
    _require_hq()
    all_warehouses = list(db.session.scalars(select(Warehouse).where(Warehouse.active.is_(True))
                                             .order_by(Warehouse.distributor_id.is_not(None), Warehouse.name)))
    source_id = _id_arg(request.values.get("from_warehouse", ""))
    source = db.session.get(Warehouse, source_id) if source_id else services.hq_warehouse()
    if source is None:
        raise NotFound()
    rows = _source_rows(source)
    ids = [r["product"].id for r in rows]
    # No upper bound here: what is available when the stock is taken decides (409 with the figures).
    form = TransferForm(line_ids=ids)
    choices = [(str(w.id), w.name) for w in all_warehouses]
    form.from_warehouse.choices = choices
    form.to_warehouse.choices = [("", _("Choose…"))] + choices
    if not form.is_submitted():
        form.from_warehouse.data = str(source.id)
    sent: list[int] = []

    def action():
        target = db.session.get(Warehouse, _id_arg(form.to_warehouse.data or ""))
        by_id = {r["product"].id: r["product"] for r in rows}
        sent.extend(i for i in ids if form.quantities.get(i) or form.serials(i))
        return transfers.create_transfer(current_user, source, target,
                                         [(by_id[i], form.quantities.get(i, 0), form.serials(i)) for i in sent],
                                         form.note.data or "")

    created = submit(form, action, place=_by_index(sent)(form))
    if created:
        flash(_("Transfer %(ref)s is on its way.", ref=transfers.reference(created)), "success")
        return htmx_redirect(url_for("inventory.show_transfer", transfer_id=created.id))
    response = render("inventory/transfer_form.html", "inventory/_transfer_lines.html", status=_status(form),
                      form=form, rows=rows, source=source)
    response.headers["Cache-Control"] = "no-store"
    return response


def _transfer_page(transfer: Transfer, *, receive_form=None, cancel_form=None):
    """The transfer's page with fresh forms, or the one that failed with its errors in place."""
    in_transit = transfer.status == "in_transit"
    receive_form = receive_form or ReceiveForm(formdata=None, line_ids=[i.id for i in transfer.items])
    linked = db.session.scalar(select(ReplenishmentRequest).where(ReplenishmentRequest.transfer_id == transfer.id))
    return render("inventory/transfer.html", status=_status(receive_form, cancel_form), transfer=transfer,
                  can_receive=in_transit and transfers.can_receive(current_user, transfer),
                  can_cancel=in_transit and replenishment.is_hq(current_user), linked=linked,
                  receive_form=receive_form, cancel_form=cancel_form or CancelTransferForm(formdata=None),
                  short=transfers.short_items(transfer), **_labels())


@bp.get("/inventory/transfers/<int:transfer_id>")
@require_permission("inventory.view")
def show_transfer(transfer_id: int):
    """A transfer: its items (batch, expiry, serial), sent and received; the receiving side confirms here."""
    return _transfer_page(transfers.get_transfer(current_user, transfer_id))


@bp.post("/inventory/transfers/<int:transfer_id>/receive")
@require_permission(MANAGE)
def receive_transfer(transfer_id: int):
    """Confirm the quantities received per item (blank: all that was sent); differences are recorded."""
    transfer = transfers.get_transfer(current_user, transfer_id)
    if not transfers.can_receive(current_user, transfer):
        raise Forbidden()
    form = ReceiveForm(line_ids=[i.id for i in transfer.items],
                       maximums={i.id: i.quantity_sent for i in transfer.items})
    if submit(form, lambda: transfers.receive_transfer(current_user, transfer, form.quantities, form.note.data or ""),
              place=_by_key("item-")(form)):
        if transfers.short_items(transfer):
            flash(_("%(ref)s received; the differences are recorded.", ref=transfers.reference(transfer)), "info")
        else:
            flash(_("%(ref)s received in full.", ref=transfers.reference(transfer)), "success")
        return htmx_redirect(url_for("inventory.show_transfer", transfer_id=transfer.id))
    return _transfer_page(transfer, receive_form=form)


@bp.post("/inventory/transfers/<int:transfer_id>/cancel")
@require_permission(MANAGE)
def cancel_transfer(transfer_id: int):
    """Cancel an in-transit transfer (HQ, confirmed in the browser): its stock returns to the source."""
    transfer = transfers.get_transfer(current_user, transfer_id)
    _require_hq()
    form = CancelTransferForm()
    if submit(form, lambda: transfers.cancel_transfer(current_user, transfer, form.reason.data or "")):
        flash(_("%(ref)s cancelled; the stock is back in %(warehouse)s.", ref=transfers.reference(transfer),
                warehouse=transfer.from_warehouse.name), "success")
        return htmx_redirect(url_for("inventory.show_transfer", transfer_id=transfer.id))
    return _transfer_page(transfer, cancel_form=form)
