"""Order pages: the list, the detail with its timeline, the form with htmx lines, the delivery note.

Every route with an order id loads it first through `services.get_order`, so another distributor's
order (or an unknown id) answers 404 before anything else is checked (DESIGN.md §9). A user who may
view orders but not manage them gets 403 from any action. Forms are re-shown with their errors in
place (400/422); a conflict — short stock, a move the order's state no longer allows — with its
message above the form (409). Nothing is ever half done: each request commits once, or rolls back.
"""


from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from dms.core.auth import require_permission
from dms.core.errors import Forbidden, InvalidTransition, NotFound
from dms.core.forms import form_status, submit
from dms.core.listing import capped_counts, day_arg, paginate_list
from dms.core.render import htmx_redirect, render
from dms.core.scope import HQ_SCOPE
from dms.core.time import business_today
from dms.customers import services as customers
from dms.customers.models import Customer
from dms.distributors.models import Distributor
from dms.orders import bp, queries, ratings, services, transitions
from dms.orders.forms import (
    BLANK_LINES,
    EVENT_LABELS,
    METHOD_LABELS,
    STATUS_TAGS,
    AssignDistributorForm,
    CancelForm,
    CourierForm,
    EditOrderForm,
    NoteForm,
    OrderForm,
    PayForm,
    RateForm,
    RefundForm,
    choices,
    read_lines,
)
from dms.orders.models import ORDER_STATES, Order
from dms.orders.pricing import MAX_LINES
from dms.territories.picker import picked_code

MANAGE = "orders.manage"
# The address of each move -> the state it moves to, and the form it takes.
MOVES = {"pay": ("paid", PayForm), "assign-courier": ("assigned", CourierForm), "ship": ("shipped", NoteForm),
         "deliver": ("delivered", NoteForm), "complete": ("completed", NoteForm), "cancel": ("cancelled", CancelForm),
         "refund": ("refunded", RefundForm)}
STATUS_COUNT_CAP = 1000
SLUGS = {to: slug for slug, (to, _form) in MOVES.items()}
# The services' field names on the order form -> the form's.
CUSTOMER_FIELDS = {"customer.name": "name", "customer.phone": "phone", "customer.street": "street",
                   "customer.address": "address", "customer_id": "customer_id"}


def _hq() -> bool:
    """True when the user sees every distributor's orders (HQ staff)."""
    return current_user.can(HQ_SCOPE)


def _labels() -> dict:
    """What every order template needs: labels and the user's powers."""
    return {"status_label": transitions.status_label, "status_tags": STATUS_TAGS, "method_labels": METHOD_LABELS,
            "event_labels": EVENT_LABELS, "region_path": queries.region_path, "hq": _hq(),
            "manages": current_user.can(MANAGE), "slugs": SLUGS}


def _require_manage() -> None:
    if not current_user.can(MANAGE):
        raise Forbidden()


# --- the list -----------------------------------------------------------------------------------

@bp.get("/orders")
@require_permission("orders.view")
def list_orders():
    """Orders, newest first: status (with counts), days, customer, courier, product and (HQ) distributor filters."""
    errors: dict[str, str] = {}
    day_from, day_to = day_arg("date_from", errors), day_arg("date_to", errors)
    filters = {"date_from": queries.since(day_from), "date_to": queries.until(day_to),
               "customer": queries.by_customer, "courier": queries.by_courier, "product": queries.by_product}
    if _hq():
        filters["distributor"] = queries.by_distributor
    base = queries.search(services.orders_query(current_user), request.args.get("q", ""))
    # The counts per status follow the other filters, so a tab says what choosing it would show.
    counted = base
    for name, apply in filters.items():
        value = (request.args.get(name) or "").strip()
        if value:
            counted = apply(counted, value)
    # Only what a row shows: a whole distributor brings its upline, region and encrypted fields along.
    stmt = base.options(
        selectinload(Order.distributor).load_only(Distributor.kind, Distributor.name, Distributor.company_name)
        .lazyload("*"),
        selectinload(Order.courier), selectinload(Order.customer).load_only(Customer.name).lazyload("*"))
    page = paginate_list(stmt, sorts={"created": Order.id, "total": Order.total, "status": Order.status},
                         default_sort="created", default_dir="desc",  # ids follow the time of placing
                         filters={"status": queries.by_status, **filters}, keyset=Order.id)
    unassigned = page.filters.get("distributor") == queries.UNASSIGNED
    # Counted up to STATUS_COUNT_CAP each ("1,000+"), in one statement: an exact GROUP BY would read every
    # order HQ has, and even 10,000 index entries per tab cost a couple of milliseconds each.
    counts, capped = capped_counts(counted, Order.status, ORDER_STATES, cap=STATUS_COUNT_CAP)
    return render("orders/list.html", "orders/_table.html", status=400 if errors else 200, page=page,
                  counts=counts, capped_counts=capped, states=ORDER_STATES, filter_errors=errors,
                  statuses=[(s, transitions.status_label(s)) for s in ORDER_STATES],
                  couriers=queries.courier_choices(current_user), products=queries.product_choices(),
                  distributors=([(queries.UNASSIGNED, _("Unassigned"))] + queries.distributor_choices())
                  if _hq() else [],
                  unassigned_count=queries.unassigned_count(current_user) if _hq() else 0,
                  unassigned=unassigned, assign_choices=queries.distributor_choices(active_only=True)
                  if unassigned and current_user.can(MANAGE) else [], **_labels())


# --- the detail and its actions -------------------------------------------------------------------

def _order_page(order: Order, forms: dict | None = None):
    """The order's page with a fresh form per action the user may take now, or the one that failed."""
    forms = forms or {}
    moves = transitions.allowed_moves(current_user, order)
    can_assign = (current_user.can(MANAGE) and order.distributor_id is not None
                  and order.status in transitions.ALLOWED["assigned"])
    couriers = transitions.couriers_of(order.distributor_id) if can_assign else []
    courier_form = forms.get("assigned") or CourierForm(formdata=None)
    courier_form.courier_id.choices = choices([(str(u.id), u.label) for u in couriers], _("Choose a courier"))
    if order.courier_id and not courier_form.courier_id.data:
        courier_form.courier_id.data = str(order.courier_id)
    action_forms = {to: forms.get(to) or form(formdata=None) for _slug, (to, form) in MOVES.items()
                    if to in moves and to != "assigned"}
    can_rate = (order.status in ratings.RATEABLE and order.rating is None and ratings.may_rate(current_user, order)
                and current_user.can(MANAGE))
    assign_form = None
    if order.distributor_id is None and _hq() and current_user.can(MANAGE) and order.status == "pending":
        assign_form = forms.get("distributor") or AssignDistributorForm(formdata=None)
        assign_form.distributor_id.choices = choices(queries.distributor_choices(active_only=True),
                                                     _("Choose a distributor"))
    # The form that failed is judged (and its message shown) even when its move is no longer offered.
    failed = [f for f in forms.values() if f is not None]
    response = render("orders/show.html", "orders/_detail.html", status=form_status(*failed, invalid=422),
                      failed=failed, order=order, moves=moves, forms=action_forms, can_assign=can_assign,
                      couriers=couriers, courier_form=courier_form, can_rate=can_rate,
                      rate_form=forms.get("rate") or RateForm(formdata=None), assign_form=assign_form,
                      reserved=services.reserved_by_line(order) if order.status == "pending" else {},
                      can_edit=order.status == "pending" and current_user.can(MANAGE), **_labels())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/orders/<int:order_id>")
@require_permission("orders.view")
def show_order(order_id: int):
    """An order: lines, totals, payments, address, courier, rating, its timeline and the moves allowed now."""
    return _order_page(services.get_order(current_user, order_id))


def _done(order: Order, message: str):
    flash(message, "success")
    return htmx_redirect(url_for("orders.show_order", order_id=order.id))


@bp.post("/orders/<int:order_id>/<any(pay, 'assign-courier', ship, deliver, complete, cancel, refund):move>")
@require_permission("orders.view")
def move_order(order_id: int, move: str):
    """Move the order along its state machine (pay, assign a courier, ship, deliver, complete, cancel, refund)."""
    order = services.get_order(current_user, order_id)
    _require_manage()
    to, form_class = MOVES[move]
    form = form_class()
    if to == "assigned":
        form.courier_id.choices = choices([(str(u.id), u.label) for u in transitions.couriers_of(
            order.distributor_id)] if order.distributor_id else [])

    def action():
        if to == "paid":
            return transitions.pay(current_user, order, form.method.data, form.reference.data or "")
        if to == "assigned":
            raw = form.courier_id.data
            return transitions.assign_courier(current_user, order, queries.number(raw))
        if to == "cancelled":
            return transitions.cancel(current_user, order, form.reason.data or "")
        if to == "refunded":
            return transitions.refund(current_user, order, form.reason.data or "", restock=bool(form.restock.data),
                                      method=form.method.data)
        return {"shipped": transitions.ship, "delivered": transitions.deliver,
                "completed": transitions.complete}[to](current_user, order, form.note.data or "")

    if submit(form, action, aliases={"courier_id": "courier_id", "note": "reason" if hasattr(form, "reason")
                                     else "note"}):
        return _done(order, _("%(ref)s: %(status)s.", ref=order.reference, status=transitions.status_label(
            order.status)))
    return _order_page(services.get_order(current_user, order_id), {to: form})


@bp.post("/orders/<int:order_id>/rate")
@require_permission("orders.view")
def rate_order(order_id: int):
    """Record the customer's rating (1-5 and a comment) of a delivered order, once."""
    order = services.get_order(current_user, order_id)
    _require_manage()
    form = RateForm()
    if submit(form, lambda: ratings.rate_order(current_user, order, form.score.data, form.comment.data or "")):
        return _done(order, _("Rating of %(ref)s recorded.", ref=order.reference))
    return _order_page(services.get_order(current_user, order_id), {"rate": form})


@bp.post("/orders/<int:order_id>/assign-distributor")
@require_permission("orders.view")
def assign_distributor(order_id: int):
    """HQ gives an order from the unassigned queue to a distributor; its stock is reserved then (409 if short)."""
    order = services.get_order(current_user, order_id)
    _require_manage()
    if not _hq():
        raise Forbidden()
    form = AssignDistributorForm()
    form.distributor_id.choices = choices(queries.distributor_choices(active_only=True), "")

    def action():
        return services.assign_distributor(current_user, order, int(form.distributor_id.data),
                                           ship_from_hq=bool(form.ship_from_hq.data))

    if submit(form, action):
        flash(_("%(ref)s assigned to %(name)s.", ref=order.reference, name=order.distributor.display_name),
              "success")
        if form.back.data == queries.UNASSIGNED:
            return htmx_redirect(url_for("orders.list_orders", distributor=queries.UNASSIGNED))
        return htmx_redirect(url_for("orders.show_order", order_id=order.id))
    return _order_page(services.get_order(current_user, order_id), {"distributor": form})


# --- the order form -----------------------------------------------------------------------------

def _formdata():
    return request.form if request.method == "POST" else request.args


def _edited_rows(rows):
    """Apply the form's add-a-line / remove-a-line buttons to the typed lines (nothing is saved)."""
    data = _formdata()
    remove = queries.number(data.get("remove_line"), 3)
    if remove is not None:
        rows = [row for row in rows if row.index != remove]
    if data.get("add_line") and len(rows) < MAX_LINES:
        rows.append(queries.LineRow(index=max((row.index for row in rows), default=-1) + 1))
    return rows


def _order_choice(order: Order | None):
    """The fields of the form that decide the fulfilling warehouse: distributor, ship from HQ, region."""
    data = _formdata()
    if order is not None:
        return None, False, ""
    distributor_id = queries.number(data.get("distributor_id"))
    return (distributor_id if _hq() else None, _hq() and data.get("ship_from_hq") in ("y", "on", "1", "true"),
            picked_code(data, "region_code") if data else "")


def _preview(rows, order: Order | None, check: bool):
    """The lines priced as placing (or editing) will price them: warehouse, campaign region, day and code."""
    distributor_id, from_hq, region = _order_choice(order)
    warehouse = queries.fulfilling_warehouse(current_user, distributor_id, from_hq, region, order)
    if order is not None:
        return queries.preview_lines(rows, warehouse, check=check, region_code=queries.campaign_region(
            current_user, None, None, order=order), campaign_code=queries.order_campaign_code(order),
            day=business_today())
    data = _formdata()
    customer_id = queries.number(data.get("customer_id"))
    priced_region = queries.campaign_region(current_user, distributor_id, customer_id, region)
    return queries.preview_lines(rows, warehouse, check=check, region_code=priced_region,
                                 campaign_code=data.get("campaign_code") or "", day=business_today())


def _form_page(form, rows, order: Order | None = None, status: int | None = None, check: bool = False,
               region_errors=()):
    """The new or edit order form with its lines priced by the server."""
    preview = _preview(rows, order, check)
    code_field = getattr(form, "campaign_code", None)
    if code_field is not None:  # the form's and the service's messages beside the code, each once
        preview.code_errors += [str(m) for m in code_field.errors if str(m) not in preview.code_errors]
    data = _formdata()
    customer_q = (data.get("customer_q") or "").strip() if order is None else ""
    found = customers.search(current_user, customer_q) if customer_q else []
    chosen = None
    if order is None:  # the search follows the typing with htmx
        form.customer_q.render_kw = {**form.customer_q.render_kw, "hx-get": url_for("orders.search_customers"),
                                     "hx-trigger": "input changed delay:300ms, search",
                                     "hx-target": "#customer-results", "hx-swap": "outerHTML"}
    if order is None and queries.number(form.customer_id.data):
        try:
            chosen = customers.get_customer(current_user, queries.number(form.customer_id.data))
        except NotFound:
            form.customer_id.errors = list(form.customer_id.errors) + [_("Choose a customer from the list.")]
    response = render("orders/form.html", status=status or form_status(form, invalid=422), form=form, order=order,
                      preview=preview, next_index=max((r.index for r in rows), default=-1) + 1,
                      found=found, chosen=chosen, customer_q=customer_q, region_errors=list(region_errors),
                      region_code=picked_code(data, "region_code") if order is None and data else "",
                      line_status=any(r.errors for r in preview.rows), **_labels())
    response.headers["Cache-Control"] = "no-store"
    return response


def _failed_status(form) -> int:
    """A domain error's own status (409 for short stock), else 422: fields are wrong, shown in place."""
    return getattr(form, "error_status", None) or 422


def _lines_payload(rows) -> list[dict]:
    return [row.payload() for row in rows if not row.blank]


def _place(form, rows, region_errors: list):
    """A `place` for submit(): line messages beside their lines, the region's beside the picker."""
    def place(fields):
        placed = queries.place_line_errors(rows, fields)
        if "lines" in fields:  # about the lines as a whole (none, too many): above the form
            form.form_errors.extend(str(m) for m in fields["lines"])
            placed.append("lines")
        if "customer.region_code" in fields:
            region_errors.extend(str(m) for m in fields["customer.region_code"])
            placed.append("customer.region_code")
        return placed
    return place


def _set_choices(form: OrderForm) -> None:
    """HQ chooses the distributor and may ship from its own warehouse; a distributor's user does neither."""
    if _hq():
        form.distributor_id.choices = choices(queries.distributor_choices(active_only=True),
                                              _("Route by the customer's region"))
    else:
        del form.distributor_id
        del form.ship_from_hq


def _new_order_data(form: OrderForm) -> dict:
    """The service's input from the order form: the customer chosen or typed, the lines, the rest."""
    data = {"lines": None, "note": form.note.data or "", "campaign_code": form.campaign_code.data or ""}
    if form.customer_id.data:
        data["customer_id"] = int(form.customer_id.data)
    else:
        data["customer"] = {"name": form.name.data or "", "phone": form.phone.data or "",
                            "region_code": picked_code(request.form, "region_code"),
                            "street": form.street.data or "", "address": form.address.data or ""}
    if _hq():
        data["distributor_id"] = int(form.distributor_id.data) if form.distributor_id.data else None
        data["ship_from_hq"] = bool(form.ship_from_hq.data)
    return data


def _redrawing() -> bool:
    """True for the form's own buttons that redraw it without placing (no JavaScript: add, remove, find...)."""
    return any(request.form.get(name) for name in ("add_line", "remove_line", "recalculate", "find_customer",
                                                   "refresh_region"))


@bp.route("/orders/new", methods=["GET", "POST"])
@require_permission("orders.view")
def new_order():
    """Place an order: a customer found or new, the distributor (HQ), lines priced live; 409 names a short product."""
    _require_manage()
    form = OrderForm()
    _set_choices(form)
    rows = read_lines(_formdata(), start_blank=BLANK_LINES)
    if request.method == "GET" or _redrawing():
        return _form_page(form, _edited_rows(rows), status=200)
    region_errors: list[str] = []

    def action():
        data = _new_order_data(form)
        data["lines"] = _lines_payload(rows)
        return services.place_order(current_user, data)

    order = submit(form, action, aliases=CUSTOMER_FIELDS, place=_place(form, rows, region_errors))
    if order:
        flash(_("Order %(ref)s placed: %(total)s.", ref=order.reference, total=f"{order.total:.2f}"), "success")
        return htmx_redirect(url_for("orders.show_order", order_id=order.id))
    # A failed placement was rolled back whole; the lines are priced again, their mistakes beside them.
    return _form_page(form, rows, check=True, region_errors=region_errors, status=_failed_status(form))


@bp.route("/orders/<int:order_id>/edit", methods=["GET", "POST"])
@require_permission("orders.view")
def edit_order(order_id: int):
    """Change a pending order's lines and note; the stock is re-reserved at once (409 names a short product)."""
    order = services.get_order(current_user, order_id)
    _require_manage()
    if order.status != "pending":
        raise InvalidTransition(_("Only a pending order can be edited."))
    form = EditOrderForm(obj=order) if request.method == "GET" else EditOrderForm()
    if request.method == "GET":
        rows = [queries.LineRow(index=n, product_id=str(line.product_id), quantity=str(line.quantity),
                                # A campaign's reduction is priced again, not sent back as a staff discount.
                                discount=f"{line.discount:.2f}" if line.discount and line.campaign_id is None
                                else "")
                for n, line in enumerate(order.lines)]
        rows.append(queries.LineRow(index=len(rows)))
        return _form_page(form, rows, order, status=200)
    rows = read_lines(request.form)
    if _redrawing():
        return _form_page(form, _edited_rows(rows), order, status=200)

    def action():
        return services.update_order(current_user, order, {"lines": _lines_payload(rows),
                                                           "note": form.note.data or ""})

    if submit(form, action, place=_place(form, rows, [])):
        flash(_("%(ref)s changed: %(total)s.", ref=order.reference, total=f"{order.total:.2f}"), "success")
        return htmx_redirect(url_for("orders.show_order", order_id=order.id))
    order = services.get_order(current_user, order_id)
    return _form_page(form, rows, order, check=True, status=_failed_status(form))


@bp.post("/orders/lines")
@require_permission("orders.view")
def price_lines():
    """The order form's lines priced by the server (unit price, stock, amounts, total) without saving (htmx)."""
    _require_manage()
    order_arg = (request.args.get("order") or "").strip()
    order = None
    if order_arg:
        if queries.number(order_arg) is None:
            raise NotFound()
        order = services.get_order(current_user, queries.number(order_arg))
    rows = _edited_rows(read_lines(request.form))
    preview = _preview(rows, order, check=True)
    return render("orders/_lines.html", preview=preview, order=order,
                  next_index=max((r.index for r in rows), default=-1) + 1, **_labels())


@bp.get("/orders/products")
@require_permission("orders.view")
def search_products():
    """The product options of one order line matching a name or SKU (the line's search box, htmx)."""
    _require_manage()
    line = queries.number(request.args.get("line") or "0", 3)
    if line is None:
        abort(404)
    selected = (request.args.get(f"lines-{line}-product_id") or "").strip()
    products = queries.sellable_products(request.args.get(f"lines-{line}-q", ""), queries.number(selected))
    return render("orders/_product_options.html", products=products, selected=selected)


@bp.get("/orders/customers")
@require_permission("orders.view")
def search_customers():
    """The customers matching a name or phone, to choose for a new order (htmx)."""
    _require_manage()
    q = (request.args.get("customer_q") or "").strip()[:50]
    return render("orders/_customer_results.html", found=customers.search(current_user, q), customer_q=q,
                  chosen=None, selected="")


# --- the delivery note --------------------------------------------------------------------------

@bp.get("/orders/<int:order_id>/delivery-note")
@require_permission("orders.view")
def delivery_note(order_id: int):
    """A printable delivery note: header, address, phone, lines, totals and a box for the signature."""
    order = services.get_order(current_user, order_id)
    return render("orders/delivery_note.html", order=order, **_labels())

