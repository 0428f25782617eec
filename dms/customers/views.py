"""Customer pages (CRM): the list with search and filters, the customer's page, the profile form, addresses,
the tier override, the tier rules.

Every route with a customer id loads it first through `services.get_customer`, so another distributor's
customer (or an unknown id) answers 404 before anything else is checked (DESIGN.md §9); a user who may
view customers but not edit them then gets 403 from any change. Forms are re-shown with their errors in
place (400/422, 409 for a duplicate phone); each request commits once or rolls back whole. Figures that
come from orders (consumption, satisfaction) are fragments of the orders area, loaded by URL.
"""

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import lazyload, selectinload

from dms.accounts.models import User
from dms.core.auth import require_permission
from dms.core.crypto import mask_phone
from dms.core.errors import Forbidden
from dms.core.forms import form_status, submit
from dms.core.jobs import commit
from dms.core.listing import day_arg, paginate_list
from dms.core.render import htmx_redirect, render
from dms.core.scope import HQ_SCOPE
from dms.customers import bp, scoring, services
from dms.customers.forms import (
    KIND_LABELS,
    SOURCE_LABELS,
    AddressForm,
    ConfirmForm,
    CustomerForm,
    TierOverrideForm,
    TierRuleForm,
    choices,
)
from dms.customers.models import Customer, CustomerTierRule
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.territories.models import Region
from dms.territories.picker import picked_code
from dms.territories.services import ancestors, find_region

MANAGE = services.MANAGE


def _hq() -> bool:
    return current_user.can(HQ_SCOPE)


def _require_manage() -> None:
    if not current_user.can(MANAGE):
        raise Forbidden()


def shown_phone(number: str | None) -> str:
    """The number in full for users who may see it, else masked (138****8000)."""
    if not number:
        return ""
    return number if current_user.can("customers.reveal_phone") else mask_phone(number)


def region_path(code: str | None) -> str:
    """广东省 / 佛山市 / 南海区 for a region code."""
    region = find_region(code) if code else None
    if region is None:
        return code or ""
    return " / ".join(r.name for r in [*ancestors(region.code), region])


def _labels() -> dict:
    """What every customer template needs: labels, helpers and the user's powers."""
    return {"kind_labels": KIND_LABELS, "source_labels": SOURCE_LABELS, "phone": shown_phone,
            "region_path": region_path, "hq": _hq(), "manages": current_user.can(MANAGE)}


# --- the list ------------------------------------------------------------------------------------

def _tier_choices() -> list[tuple[str, str]]:
    return [(r.code, f"{r.code} · {r.name}" if r.name and r.name != r.code else r.code)
            for r in services.tier_rules()]


def _region_paths(codes: set) -> dict[str, str]:
    """code -> region_path(code) for a page's rows, in a query or two whatever the page size (not one per row).

    A GB/T 2260 code's province and city are guessed from its digits; a parent the guess missed is read in
    another round.
    """
    codes = {c for c in codes if c}
    wanted = codes | {f"{c[:2]}0000" for c in codes} | {f"{c[:4]}00" for c in codes}
    found: dict[str, Region] = {}
    asked: set[str] = set()
    while wanted - asked:
        missing = sorted(wanted - asked)
        asked |= wanted
        found |= {r.code: r for r in db.session.scalars(select(Region).where(Region.code.in_(missing)))}
        wanted |= {r.parent_code for r in found.values() if r.parent_code}
    paths = {}
    for code in codes:
        chain, region = [], found.get(code)
        while region is not None:
            chain.append(region.name)
            region = found.get(region.parent_code) if region.parent_code else None
        paths[code] = " / ".join(reversed(chain)) if chain else code
    return paths


@bp.get("/customers")
@require_permission("customers.view")
def list_customers():
    """Customers: search by name, phone or address; filters tier, tag, region, last order, activity; sorted, paged."""
    errors: dict[str, str] = {}
    last_from, last_to = day_arg("last_from", errors), day_arg("last_to", errors)
    region = picked_code(request.args, "region")
    stmt = services.search_clause(services.customers_query(current_user), request.args.get("q", ""))
    if region:
        stmt = services.by_region(stmt, region)
    filters = {**services.LIST_FILTERS, "last_from": services.last_order_since(last_from),
               "last_to": services.last_order_until(last_to)}
    filters.pop("region")  # read from the picker above
    if _hq():
        filters["distributor"] = services.by_distributor
    # Only what a row shows: a whole distributor brings its upline, region and encrypted fields along, and
    # the region is shown by path (below), not by the joined row.
    stmt = stmt.options(selectinload(Customer.owner), lazyload(Customer.region), selectinload(Customer.distributor)
                        .load_only(Distributor.kind, Distributor.name, Distributor.company_name).lazyload("*"))
    page = paginate_list(stmt, sorts=services.SORTS, default_sort="created", default_dir="desc", filters=filters,
                         keyset=Customer.id)
    labels = _labels()
    paths = _region_paths({c.region_code for c in page.items})
    labels["region_path"] = lambda code: paths.get(code, "") if code else ""
    if region:
        page.filters["region"] = region
    activity = [("none", _("Not scored")), *[(str(n), _("Score ≥ %(n)d", n=n)) for n in (12, 10, 8, 5, 3)]]
    export_args = page.args(page=None, sort=None, dir=None)
    return render("customers/list.html", "customers/_table.html", status=400 if errors else 200, page=page,
                  filter_errors=errors, tiers=[*_tier_choices(), ("none", _("No tier"))],
                  tags=[(t, t) for t in services.tag_names()], activity=activity, region=region,
                  owners=[("none", _("No owner"))] + [(str(u.id), u.label) for u in
                                                      services.owner_choices(current_user.distributor_id)],
                  distributors=[("unassigned", _("Unassigned"))] + services.distributor_choices() if _hq() else [],
                  export_args=export_args, **labels)


# --- the customer's page ---------------------------------------------------------------------------

def _overrider(customer: Customer) -> User | None:
    """Who set the tier by hand, if anyone."""
    return db.session.get(User, customer.tier_overridden_by_id) if customer.tier_overridden_by_id else None


def _tier_form(customer: Customer, form: TierOverrideForm | None = None) -> TierOverrideForm:
    form = form or TierOverrideForm(formdata=None, tier=customer.tier_override or "")
    form.tier.choices = choices(_tier_choices(), _("Computed tier (no override)"))
    return form


def _page(customer: Customer, *, address_form: AddressForm | None = None, tier_form=None,
          address_region: str = "", status: int = 200):
    """The customer's page: profile, RFM figures and formula, tier, addresses, and the orders' fragments."""
    response = render("customers/show.html", None, status=status, customer=customer,
                      address_form=address_form or AddressForm(formdata=None), address_region=address_region,
                      tier_form=_tier_form(customer, tier_form), confirm=ConfirmForm(formdata=None),
                      formula=scoring.FORMULA, formula_note=scoring.FORMULA_NOTE,
                      rules=services.tier_rules(), overridden_by=_overrider(customer), **_labels())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/customers/<int:customer_id>")
@require_permission("customers.view")
def show_customer(customer_id: int):
    """A customer: profile, phones, addresses, tags, RFM score with its formula, tier, consumption, visits."""
    return _page(services.get_customer(current_user, customer_id))


# --- the profile form ------------------------------------------------------------------------------

def _form_page(form: CustomerForm, customer: Customer | None, region_code: str = "", region_errors=()):
    distributor_id = customer.distributor_id if customer else (
        current_user.distributor_id if not _hq() else (int(form.distributor_id.data)
                                                       if (form.distributor_id.data or "").isdigit() else None))
    form.owner_id.choices = choices([(str(u.id), u.label) for u in services.owner_choices(distributor_id)],
                                    _("No owner"))
    if customer is None and _hq():
        form.distributor_id.choices = choices(services.distributor_choices(), _("Choose the distributor"))
    response = render("customers/form.html", None, status=form_status(form),
                      form=form, customer=customer, region_code=region_code, region_errors=list(region_errors),
                      tag_names=services.tag_names(), **_labels())
    response.headers["Cache-Control"] = "no-store"
    return response


def _beside_picker(messages: list):
    """A `place` for submit(): the region's messages go beside the region picker (collected in `messages`)."""
    def place(fields):
        if "region_code" in fields:
            messages.extend(str(m) for m in fields["region_code"])
            return ["region_code"]
        return []
    return place


@bp.route("/customers/new", methods=["GET", "POST"])
@require_permission("customers.manage")
def new_customer():
    """Type in a customer: profile and first address; a phone the distributor's customers have is refused."""
    form = CustomerForm()
    region_code = picked_code(request.form, "region_code") if request.method == "POST" else ""
    if request.method == "POST" and request.form.get("refresh_region"):
        return _form_page(form, None, region_code)
    region_errors: list[str] = []

    def action():
        data = {**form.profile(), "label": form.label.data or "", "street": form.street.data or "",
                "address": form.address.data or "", "region_code": region_code}
        return services.register_customer(current_user, data, form.distributor_id.data if _hq() else None)

    customer = submit(form, action, place=_beside_picker(region_errors))
    if customer:
        flash(_("Customer %(name)s added.", name=customer.name), "success")
        return htmx_redirect(url_for("customers.show_customer", customer_id=customer.id))
    return _form_page(form, None, region_code, region_errors)


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@require_permission("customers.view")
def edit_customer(customer_id: int):
    """Change a customer's profile (addresses are changed on the customer's page)."""
    customer = services.get_customer(current_user, customer_id)
    _require_manage()
    if request.method == "GET":
        form = CustomerForm(formdata=None, kind=customer.kind, name=customer.name, phone=customer.phone,
                            phones="\n".join(p.number for p in customer.phones), source=customer.source,
                            owner_id=str(customer.owner_id or ""), tags=", ".join(t.name for t in customer.tags),
                            note=customer.note)
        return _form_page(form, customer)
    form = CustomerForm()
    if submit(form, lambda: services.update_customer(current_user, customer, form.profile())):
        flash(_("Customer %(name)s saved.", name=customer.name), "success")
        return htmx_redirect(url_for("customers.show_customer", customer_id=customer.id))
    return _form_page(form, services.get_customer(current_user, customer_id))


# --- addresses -----------------------------------------------------------------------------------

def _addresses(customer: Customer, form: AddressForm | None = None, region_code: str = "",
               region_errors=(), status: int = 200):
    """The addresses fragment (htmx) or the page around it."""
    if request.headers.get("HX-Request") == "true":
        return render("customers/_addresses.html", None, status=status, customer=customer,
                      address_form=form or AddressForm(formdata=None), address_region=region_code,
                      region_errors=list(region_errors), confirm=ConfirmForm(formdata=None), **_labels())
    return _page(customer, address_form=form, address_region=region_code, status=status)


@bp.post("/customers/<int:customer_id>/addresses")
@require_permission("customers.view")
def add_address(customer_id: int):
    """Add an address to the customer (optionally as its default)."""
    customer = services.get_customer(current_user, customer_id)
    _require_manage()
    form = AddressForm()
    region_code = picked_code(request.form, "address_region")
    if request.form.get("refresh_region"):
        return _addresses(customer, form, region_code)
    region_errors: list[str] = []
    data = {"label": form.label.data or "", "street": form.street.data or "", "address": form.address.data or "",
            "region_code": region_code}
    if submit(form, lambda: services.add_address(current_user, customer, data, bool(form.make_default.data)),
              place=_beside_picker(region_errors)):
        flash(_("Address added."), "success")
        return _addresses(services.get_customer(current_user, customer_id))
    return _addresses(services.get_customer(current_user, customer_id), form, region_code, region_errors,
                      status=form_status(form, invalid=422))


@bp.post("/customers/<int:customer_id>/addresses/<int:address_id>/<any(default, remove):action>")
@require_permission("customers.view")
def change_address(customer_id: int, address_id: int, action: str):
    """Make one of the customer's addresses the default, or remove one (not the default)."""
    customer = services.get_customer(current_user, customer_id)
    _require_manage()
    form = ConfirmForm()
    run = services.make_default_address if action == "default" else services.remove_address
    if submit(form, lambda: run(current_user, customer, address_id) or True):
        flash(_("Default address changed.") if action == "default" else _("Address removed."), "success")
        return _addresses(services.get_customer(current_user, customer_id))
    for message in form.form_errors:
        flash(message, "error")
    return _addresses(services.get_customer(current_user, customer_id), status=form_status(form, invalid=422))


# --- the tier override ------------------------------------------------------------------------------

@bp.post("/customers/<int:customer_id>/tier")
@require_permission("customers.view")
def override_tier(customer_id: int):
    """Set the customer's tier by hand (or return to the computed one), with the reason; who and when are kept."""
    customer = services.get_customer(current_user, customer_id)
    _require_manage()
    form = TierOverrideForm()
    form.tier.choices = choices(_tier_choices(), _("Computed tier (no override)"))
    if submit(form, lambda: services.override_tier(current_user, customer, form.tier.data, form.reason.data)):
        flash(_("Tier of %(name)s saved.", name=customer.name), "success")
        return htmx_redirect(url_for("customers.show_customer", customer_id=customer.id))
    customer = services.get_customer(current_user, customer_id)
    if request.headers.get("HX-Request") == "true":
        return render("customers/_tier.html", None, status=form_status(form, invalid=422), customer=customer,
                      tier_form=_tier_form(customer, form), overridden_by=_overrider(customer), **_labels())
    return _page(customer, tier_form=form, status=form_status(form, invalid=422))


# --- tier rules (HQ) ------------------------------------------------------------------------------------

def _rules_page(forms: dict | None = None, new_form: TierRuleForm | None = None):
    forms = forms or {}
    rules = services.tier_rules()
    edit_forms = {r.id: forms.get(r.id) or TierRuleForm(formdata=None, prefix=f"rule-{r.id}", code=r.code,
                                                         name=r.name, min_score=str(r.min_score)) for r in rules}
    failed = [f for f in [*forms.values(), new_form] if f is not None]
    response = render("customers/tier_rules.html", None, status=form_status(*failed, invalid=422), rules=rules,
                      edit_forms=edit_forms, new_form=new_form or TierRuleForm(formdata=None, prefix="new"),
                      confirm=ConfirmForm(formdata=None), can_edit=_hq() and current_user.can(MANAGE),
                      formula=scoring.FORMULA, formula_note=scoring.FORMULA_NOTE, **_labels())
    response.headers["Cache-Control"] = "no-store"
    return response


def _require_hq_manage() -> None:
    if not (_hq() and current_user.can(MANAGE)):
        raise Forbidden()


@bp.get("/customers/tiers")
@require_permission("customers.view")
def tier_rules():
    """The tier rules (code, name, minimum RFM score) and the formula; HQ edits them."""
    services.tier_rules()
    commit()  # the default rules, when the table was empty, are kept
    return _rules_page()


@bp.post("/customers/tiers")
@require_permission("customers.manage")
def add_tier_rule():
    """Add a tier rule (HQ)."""
    _require_hq_manage()
    form = TierRuleForm(prefix="new")
    if submit(form, lambda: services.save_tier_rule(current_user, {"code": form.code.data, "name": form.name.data,
                                                                   "min_score": form.min_score.data})):
        flash(_("Tier rule saved. Customers get their new tiers at the next scoring."), "success")
        return htmx_redirect(url_for("customers.tier_rules"))
    return _rules_page(new_form=form)


@bp.post("/customers/tiers/<int:rule_id>")
@require_permission("customers.manage")
def save_tier_rule(rule_id: int):
    """Change a tier rule (HQ)."""
    _require_hq_manage()
    db.get_or_404(CustomerTierRule, rule_id)
    form = TierRuleForm(prefix=f"rule-{rule_id}")
    if submit(form, lambda: services.save_tier_rule(current_user, {"code": form.code.data, "name": form.name.data,
                                                                   "min_score": form.min_score.data}, rule_id)):
        flash(_("Tier rule saved. Customers get their new tiers at the next scoring."), "success")
        return htmx_redirect(url_for("customers.tier_rules"))
    return _rules_page({rule_id: form})


@bp.post("/customers/tiers/<int:rule_id>/delete")
@require_permission("customers.manage")
def delete_tier_rule(rule_id: int):
    """Remove a tier rule (HQ); the last one stays."""
    _require_hq_manage()
    db.get_or_404(CustomerTierRule, rule_id)
    form = ConfirmForm()
    if submit(form, lambda: services.delete_tier_rule(current_user, rule_id) or True):
        flash(_("Tier rule removed."), "success")
    else:
        for message in form.form_errors:
            flash(message, "error")
    return htmx_redirect(url_for("customers.tier_rules"))
