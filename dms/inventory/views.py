"""Stock pages: overview per warehouse, batches, movement history, serial unit history, receiving and write-offs.

A warehouse or product id in the address is resolved first: another distributor's warehouse, an
unknown id or junk answers 404 before anything else is done (DESIGN.md §9).
"""

from datetime import date

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import false, func, select
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from dms.catalog import services as catalog
from dms.catalog.models import Product
from dms.core.auth import require_permission
from dms.core.errors import DomainError, NotFound, ValidationError
from dms.core.forms import form_status, submit
from dms.core.jobs import commit
from dms.core.listing import day_arg, int_arg, paginate_list
from dms.core.render import htmx_redirect, is_htmx, render
from dms.core.scope import HQ_SCOPE, scoped
from dms.core.time import business_day_bounds_utc, business_today
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import bp, fefo, queries, services, thresholds
from dms.inventory.forms import (
    EXPIRY_LABELS,
    KIND_LABELS,
    MAX_RECEIPT_LINES,
    REASON_LABELS,
    STATE_LABELS,
    ReceiptLineForm,
    ReceiveForm,
    ThresholdForm,
    UnitWriteOffForm,
    WriteOffForm,
)
from dms.inventory.models import MOVEMENT_KINDS, Batch, SerialUnit, StockBalance, StockMovement

# The services' field names on a receipt line -> the line form's.
LINE_FIELDS = {"batch": "batch_code", "expiry_date": "expiry_date", "quantity": "quantity", "serials": "serials",
               "product": "product_id"}


def _id(value, required: bool = False) -> int | None:
    """An id from the address or a form; junk (or a missing required one) is NotFound, as an unknown id is."""
    value = (value or "").strip()
    if not value:
        if required:
            raise NotFound()
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise NotFound()
    return int(value)


def _hq() -> bool:
    """True when the user sees every warehouse (HQ staff)."""
    return current_user.can(HQ_SCOPE)


def _labels() -> dict:
    """What every stock template needs: labels, the user's powers, the expiry helpers."""
    return {"kind_labels": KIND_LABELS, "state_labels": STATE_LABELS, "reason_labels": REASON_LABELS,
            "expiry_labels": EXPIRY_LABELS, "hq": _hq(), "manages": current_user.can("inventory.manage"),
            "is_expired": fefo.is_expired, "near_expiry": fefo.near_expiry,
            "near_days": queries.near_expiry_days()}


def _warehouse_options() -> list[tuple[str, str]] | None:
    """The warehouse select of HQ's pages; None for a distributor, who sees its own warehouse only."""
    if not _hq():
        return None
    # Columns, not objects: HQ has a warehouse per distributor (thousands) in this select.
    stmt = select(Warehouse.id, Warehouse.name).order_by(Warehouse.distributor_id.is_not(None), Warehouse.name,
                                                         Warehouse.id)
    return [(str(i), name) for i, name in db.session.execute(scoped(stmt, Warehouse.distributor_id, current_user))]


def _product_options() -> list[tuple[str, str]]:
    """Every product as (value, label) for the filters and forms."""
    return [(str(i), label) for i, label in queries.product_choices()]


# --- stock overview ---------------------------------------------------------------------------------

def _by_category(stmt, value):
    """Products of the category and its subcategories; a malformed id matches none."""
    if not value.isdigit() or len(value) > 9:
        return stmt.where(false())
    return stmt.where(Product.category_id.in_(catalog.descendant_ids(int(value))))


def _stock_page(warehouse: Warehouse, status: int = 200, threshold_errors: dict | None = None):
    """The stock overview of `warehouse` (a threshold that failed is shown with its errors in its row)."""
    q = queries.stock_query(warehouse)
    page = paginate_list(
        q.stmt, search=[Product.name, Product.sku],
        sorts={"name": Product.name, "sku": Product.sku, "on_hand": q.on_hand, "available": q.available},
        default_sort="name",
        filters={"warehouse": lambda s, v: s,  # already applied: kept for the sort and page links
                 "category": _by_category,
                 "low": lambda s, v: s.where(q.available < q.threshold) if v == "1" else s,
                 "near": lambda s, v: s.where(q.near == 1) if v == "1" else s})
    if _hq():
        page.filters["warehouse"] = str(warehouse.id)
    categories = [(str(n.category.id), "\u2003" * n.depth + n.category.name) for n in catalog.category_tree()]
    return render("inventory/stock.html", "inventory/_stock_table.html", status=status, page=page,
                  rows=queries.stock_rows(warehouse, page.items), warehouse=warehouse,
                  warehouses=_warehouse_options(), categories=categories,
                  threshold_errors=threshold_errors or {}, **_labels())


@bp.get("/inventory")
@require_permission("inventory.view")
def list_stock():
    """Stock per product of one warehouse: on hand, reserved, available, threshold; low and near expiry marked."""
    return _stock_page(services.warehouse_for(current_user, _id(request.args.get("warehouse"))))


@bp.post("/inventory/thresholds")
@require_permission("inventory.manage")
def set_threshold():
    """Set (empty: remove) a warehouse's own low-stock threshold for a product; htmx gets the product's row."""
    form = ThresholdForm()
    warehouse = services.warehouse_for(current_user, _id(form.warehouse.data))
    product = queries.get_product(_id(form.product.data, required=True))

    def action():
        raw = (form.threshold.data or "").strip()
        if raw and not (raw.isascii() and raw.isdigit()):
            raise ValidationError(fields={"threshold": [_("A whole number, 0 or more.")]})
        return thresholds.set_threshold(current_user, warehouse, product, int(raw) if raw else None) or True

    saved = submit(form, action)
    status = form_status(form, invalid=422)
    if saved and not is_htmx():
        flash(_("Threshold of %(product)s saved.", product=product.name), "success")
        return htmx_redirect(url_for("inventory.list_stock", warehouse=warehouse.id))
    errors = list(form.threshold.errors) + list(form.form_errors)
    if is_htmx():
        row, = queries.stock_rows(warehouse, [product])
        return render("inventory/_stock_row.html", status=status, row=row, warehouse=warehouse,
                      threshold_errors={product.id: errors} if errors else {}, **_labels())
    return _stock_page(warehouse, status=status, threshold_errors={product.id: errors})


# --- batches ------------------------------------------------------------------------------------

@bp.get("/inventory/batches")
@require_permission("inventory.view")
def list_batches():
    """Balances per batch with expiry dates and expired / near-expiry tags; warehouse, product, expiry filters."""
    warehouse_id, product_id = _id(request.args.get("warehouse")), _id(request.args.get("product"))
    warehouse = services.warehouse_for(current_user, warehouse_id) if warehouse_id is not None else None
    product = queries.get_product(product_id) if product_id is not None else None
    page = paginate_list(
        queries.batches_query(current_user).options(selectinload(StockBalance.warehouse),
                                                    selectinload(StockBalance.product)),
        search=[Batch.code, Product.name, Product.sku],
        sorts={"expiry": func.coalesce(Batch.expiry_date, date.max), "product": Product.name,
               "warehouse": Warehouse.name, "on_hand": StockBalance.on_hand},
        default_sort="expiry",
        filters={"warehouse": lambda s, v: s.where(StockBalance.warehouse_id == warehouse.id),
                 "product": lambda s, v: s.where(StockBalance.product_id == product.id),
                 "expiry": lambda s, v: queries.expiry_state(s, v)})
    return render("inventory/batches.html", "inventory/_batches_table.html", page=page, warehouse=warehouse,
                  product=product, warehouses=_warehouse_options(), products=_product_options(),
                  today=business_today(), **_labels())


# --- movements ----------------------------------------------------------------------------------

@bp.get("/inventory/movements")
@require_permission("inventory.view")
def list_movements():
    """The ledger: who moved what, when, why and from which document; filters by warehouse, product, kind, day."""
    warehouse_id, product_id = _id(request.args.get("warehouse")), _id(request.args.get("product"))
    warehouse = services.warehouse_for(current_user, warehouse_id) if warehouse_id is not None else None
    product = queries.get_product(product_id) if product_id is not None else None
    errors: dict[str, str] = {}
    day_from, day_to = day_arg("date_from", errors), day_arg("date_to", errors)

    def since(stmt, _value):
        return stmt.where(StockMovement.at >= business_day_bounds_utc(day_from)[0]) if day_from else stmt

    def until(stmt, _value):
        return stmt.where(StockMovement.at < business_day_bounds_utc(day_to)[1]) if day_to else stmt

    # Only what a row shows (a whole product brings its category and tags along).
    stmt = queries.movements_query(current_user).options(
        selectinload(StockMovement.warehouse).load_only(Warehouse.name).lazyload("*"),
        selectinload(StockMovement.product).load_only(Product.name, Product.sku).lazyload("*"),
        selectinload(StockMovement.serial_unit).load_only(SerialUnit.serial).lazyload("*"))
    page = paginate_list(
        stmt, search=[StockMovement.reason, StockMovement.source_id, StockMovement.actor_label],
        sorts={"at": StockMovement.id}, default_sort="at", default_dir="desc",  # ids follow the time of insertion
        keyset=StockMovement.id,
        filters={"warehouse": lambda s, v: s.where(StockMovement.warehouse_id == warehouse.id),
                 "product": lambda s, v: s.where(StockMovement.product_id == product.id),
                 "kind": lambda s, v: s.where(StockMovement.kind == v) if v in MOVEMENT_KINDS else s.where(false()),
                 "date_from": since, "date_to": until,
                 "source_type": lambda s, v: s.where(StockMovement.source_type == v),
                 "source_id": lambda s, v: s.where(StockMovement.source_id == v)})
    return render("inventory/movements.html", "inventory/_movements_table.html", status=400 if errors else 200,
                  page=page, warehouse=warehouse, product=product, filter_errors=errors,
                  warehouses=_warehouse_options(), products=_product_options(),
                  kinds=[(k, KIND_LABELS[k]) for k in MOVEMENT_KINDS],
                  source_types=[(s, s) for s in queries.source_types(current_user)], **_labels())


# --- serial units ---------------------------------------------------------------------------------

@bp.get("/inventory/serials")
@require_permission("inventory.view")
def find_serial():
    """Find serial units (VINs) by serial number among those the user may see."""
    q = (request.args.get("q") or "").strip()[:64]
    return render("inventory/serials.html", "inventory/_serials_results.html", q=q,
                  units=queries.find_serials(current_user, q), limit=queries.SERIAL_SEARCH_LIMIT, **_labels())


def _unit_page(unit, form=None):
    """The serial unit's page, with its write-off form when the unit is in stock where the user may act."""
    # A unit that moved on to another distributor's warehouse is "elsewhere" to the one it left.
    location_visible = unit.warehouse is not None and (
        _hq() or unit.warehouse.distributor_id == current_user.distributor_id)
    can_write_off = location_visible and unit.state == "in_stock" and current_user.can("inventory.manage")
    return render("inventory/serial_unit.html", status=form_status(form) if form else 200, unit=unit,
                  location_visible=location_visible, can_write_off=can_write_off,
                  form=form or UnitWriteOffForm(formdata=None),
                  history=queries.visible_history(current_user, services.serial_history(unit)), **_labels())


@bp.get("/inventory/serials/<int:unit_id>")
@require_permission("inventory.view")
def serial_unit(unit_id: int):
    """One serial unit: product, batch, where it is and in what state, and its history from receipt to sale."""
    return _unit_page(queries.serial_unit_for(current_user, unit_id))


@bp.post("/inventory/serials/<int:unit_id>/write-off")
@require_permission("inventory.manage")
def write_off_unit(unit_id: int):
    """Write off one serial unit (damaged, ...) once the user has confirmed it; 409 if it left stock meanwhile."""
    unit = queries.serial_unit_for(current_user, unit_id)
    form = UnitWriteOffForm()
    if submit(form, lambda: services.write_off_unit(current_user, unit, form.reason.data, form.note.data or "")):
        flash(_("Serial unit %(serial)s written off.", serial=unit.serial), "success")
        return htmx_redirect(url_for("inventory.serial_unit", unit_id=unit.id))
    return _unit_page(queries.serial_unit_for(current_user, unit_id), form)


# --- receiving ------------------------------------------------------------------------------------

def _line_choices() -> list[SelectChoice]:
    """The product select of a receipt line."""
    return [SelectChoice("", _("Choose a product"))] + [SelectChoice(v, label) for v, label in _product_options()]


def _place_line_error(line: ReceiptLineForm, exc: DomainError) -> bool:
    """Put a service error about one receipt line beside that line's fields; False if it names none."""
    placed = False
    for name, messages in exc.fields.items():
        field = getattr(line, LINE_FIELDS.get(name.rsplit(".", 1)[-1], ""), None)
        if field is None:
            continue
        # A conflict lists the serial numbers it refused; its message says what happened.
        field.errors = list(field.errors) + ([exc.message] if exc.status == 409 else list(messages))
        placed = True
    return placed


def _receive(form: ReceiveForm, warehouse: Warehouse):
    """Receive the form's non-blank lines in one transaction; the movements, or None with errors in place."""
    valid = form.validate_on_submit()
    lines = [entry.form for entry in form.lines if not entry.form.is_blank()]
    ids = {line.product_id.data for line in lines if (line.product_id.data or "").isdigit()}
    products = {str(p.id): p for p in db.session.scalars(select(Product).where(Product.id.in_(
        [int(i) for i in ids if len(i) < 12])))}
    for line in lines:
        if not line.product_id.data:
            line.product_id.errors = list(line.product_id.errors) + [_("Choose a product.")]
        elif line.product_id.data not in products:
            line.product_id.errors = list(line.product_id.errors) + [_("Choose a product from the list.")]
    if not valid:
        return None
    if not lines:
        form.form_errors.append(_("Add at least one line."))
    if not lines or any(line.product_id.errors for line in lines):
        # The line list's errors were collected by validate(): say so, as form_status reads them.
        form.error_status = 400
        return None
    movements = []
    try:
        for line in lines:
            receipt = services.ReceiptLine(product=products[line.product_id.data],
                                           quantity=line.quantity.data or 0, batch_code=line.batch_code.data or None,
                                           expiry_date=line.expiry_date.data, serials=line.serial_list() or None)
            # One line at a time, so a rule the service enforces is shown on the line that broke it.
            try:
                movements += services.receive(current_user, warehouse, [receipt], reason=form.reason.data or "")
            except DomainError as exc:
                if not _place_line_error(line, exc):
                    form.form_errors.append(exc.message)
                raise
        commit()
    except DomainError as exc:
        db.session.rollback()
        form.error_status = exc.status
        if exc.status == 409 and exc.message not in form.form_errors:
            form.form_errors.append(exc.message)
        return None
    return movements


def _set_line_choices(form: ReceiveForm) -> None:
    """Give every line of the receipt form its product choices."""
    choices = _line_choices()
    for entry in form.lines:
        entry.form.product_id.choices = choices


@bp.route("/inventory/receive", methods=["GET", "POST"])
@require_permission("inventory.manage")
def receive_stock():
    """Receive several lines of stock into a warehouse (batch, expiry, quantity or serial numbers)."""
    form = ReceiveForm()
    form.warehouse_id.choices = [SelectChoice(str(w.id), w.name) for w in queries.visible_warehouses(current_user)]
    if request.method == "GET":
        form.warehouse_id.data = str(services.warehouse_for(current_user, _id(request.args.get("warehouse"))).id)
    elif "add_line" in request.form:  # the form without JavaScript: one more blank line
        if len(form.lines) < MAX_RECEIPT_LINES:
            form.lines.append_entry()
    else:
        warehouse = services.warehouse_for(current_user, _id(form.warehouse_id.data, required=True))
        _set_line_choices(form)
        movements = _receive(form, warehouse)
        if movements:
            flash(_("Stock received into %(warehouse)s: %(count)d movement(s).", warehouse=warehouse.name,
                    count=len(movements)), "success")
            return htmx_redirect(url_for("inventory.list_movements", warehouse=warehouse.id, kind="receipt"))
    _set_line_choices(form)
    response = render("inventory/receive.html", status=form_status(form), form=form,
                      next_index=max((int(e.name.rsplit("-", 1)[-1]) for e in form.lines), default=-1) + 1,
                      **_labels())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/inventory/receive/line")
@require_permission("inventory.manage")
def receive_line():
    """One more blank receipt line (the add-a-line button's htmx fragment)."""
    index = int_arg("index", 0, low=0, high=10 * MAX_RECEIPT_LINES)
    line = ReceiptLineForm(prefix=f"lines-{index}")
    line.product_id.choices = _line_choices()
    return render("inventory/_receive_line.html", line=line, index=index, next_index=index + 1, oob=True)


# --- write-offs -----------------------------------------------------------------------------------

def _batch_label(balance: StockBalance, gone: bool) -> str:
    """A batch option of the write-off form: code, expiry and what is unreserved."""
    batch = balance.batch
    parts = [batch.code or _("(no batch)")]
    if batch.expiry_date:
        parts.append(_("expired %(date)s", date=batch.expiry_date.isoformat()) if gone
                     else _("expires %(date)s", date=batch.expiry_date.isoformat()))
    parts.append(_("%(count)d unreserved", count=balance.available))
    return " · ".join(parts)


@bp.route("/inventory/write-off", methods=["GET", "POST"])
@require_permission("inventory.manage")
def write_off():
    """Write off expired or damaged stock of one batch, with a reason, once the user has confirmed it."""
    if request.method == "POST":
        form = WriteOffForm()
        warehouse = services.warehouse_for(current_user, _id(form.warehouse.data))
        product = queries.get_product(_id(form.product.data, required=True))
    else:
        form = WriteOffForm(formdata=None)
        warehouse = services.warehouse_for(current_user, _id(request.args.get("warehouse")))
        product_id = _id(request.args.get("product"))
        product = queries.get_product(product_id) if product_id is not None else None
        batch_id = _id(request.args.get("batch"))
        if batch_id is not None:
            batch = db.session.get(Batch, batch_id)
            if batch is None or product is None or batch.product_id != product.id:
                raise NotFound()
            form.batch.data = str(batch.id)
        form.warehouse.data, form.product.data = str(warehouse.id), str(product.id) if product else ""
    choices = queries.write_off_choices(warehouse, product) if product is not None else []
    balances = {str(balance.batch_id): balance for balance, _gone in choices}
    form.batch.choices = [SelectChoice(str(b.batch_id), _batch_label(b, gone)) for b, gone in choices]
    # Serial units leave one by one (their state changes too): the quantity form does not apply to them.
    serial = product is not None and product.tracking == "serial"
    if request.method == "POST":
        if serial:
            form.form_errors.append(_("Serial units cannot be written off by quantity."))
            form.error_status = 422
        else:
            movement = submit(form, lambda: services.write_off(
                current_user, warehouse, product, balances[form.batch.data].batch, form.quantity.data,
                form.reason.data, form.note.data or ""))
            if movement:
                flash(_("%(count)d of %(product)s written off.", count=-movement.on_hand_delta,
                        product=product.name), "success")
                return htmx_redirect(url_for("inventory.list_movements", warehouse=warehouse.id,
                                             product=product.id, kind="write_off"))
    response = render("inventory/write_off.html", status=form_status(form), form=form, warehouse=warehouse,
                      product=product, serial=serial, has_choices=bool(choices), warehouses=_warehouse_options(),
                      products=_product_options(), **_labels())
    response.headers["Cache-Control"] = "no-store"
    return response
