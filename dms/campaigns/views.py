"""Campaign pages: the list, the plan form (new and edit), the detail with its actions and scope.

Every page needs campaigns.manage (HQ staff; the service also insists on HQ scope). Routes with an id load
the campaign first, so an unknown id answers 404 before anything else. Forms are re-shown with their
errors in place (422); a move the campaign's state no longer allows answers 409 with its message.
Each request commits once, or rolls back whole.
"""

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from dms.campaigns import bp, services
from dms.campaigns.forms import ActionForm, CampaignForm, ConfirmForm
from dms.campaigns.models import CAMPAIGN_STATES, Campaign
from dms.catalog.models import Product
from dms.core.auth import require_permission
from dms.core.errors import InvalidTransition
from dms.core.forms import form_status, submit
from dms.core.listing import day_arg, paginate_list
from dms.core.render import htmx_redirect, render
from dms.extensions import db
from dms.territories.picker import picked_code
from dms.territories.services import find_region, with_paths

MANAGE = services.MANAGE
ACTIONS = {"approve": "approved", "start": "running", "end": "ended", "cancel": "cancelled"}
# The service's field names -> the form's (the region lists are shown beside their pickers).
REGION_FIELDS = ("target_regions", "control_regions")


def _labels() -> dict:
    """What every campaign template needs."""
    return {"status_label": services.status_label, "status_tags": services.STATUS_TAGS,
            "mechanism_label": services.mechanism_label}


# --- the list --------------------------------------------------------------------------------------

@bp.get("/campaigns")
@require_permission(MANAGE)
def list_campaigns():
    """Campaigns, newest first: filters by status and by a period they overlap; paginated."""
    errors: dict[str, str] = {}
    active_from, active_to = day_arg("date_from", errors), day_arg("date_to", errors)
    stmt = services.campaigns_query(current_user, active_from=active_from, active_to=active_to)
    page = paginate_list(stmt, search=(Campaign.name, Campaign.code),
                         sorts={"created": Campaign.id, "starts": Campaign.starts_on, "name": Campaign.name},
                         default_sort="created", default_dir="desc",
                         filters={"status": lambda s, v: s.where(Campaign.status == v),
                                  "date_from": lambda s, v: s, "date_to": lambda s, v: s})
    return render("campaigns/list.html", "campaigns/_table.html", status=400 if errors else 200, page=page,
                  filter_errors=errors, statuses=[(s, services.status_label(s)) for s in CAMPAIGN_STATES],
                  **_labels())


# --- the plan form ---------------------------------------------------------------------------------

def _product_choices(chosen: list[str]) -> list[tuple[str, str]]:
    """Products on sale, and any already chosen (even if withdrawn since), by name."""
    ids = [int(v) for v in chosen if v.isascii() and v.isdigit() and len(v) < 10]
    stmt = select(Product).where((Product.status == "available") | Product.id.in_(ids or [-1])).order_by(
        Product.name, Product.id)
    return [(str(p.id), f"{p.name} ({p.sku})") for p in db.session.scalars(stmt)]


def _regions_from_form(role: str, with_pick: bool = True) -> list[str]:
    """The codes kept ticked for `role`, plus the one its picker shows now (added without pressing Add)."""
    codes = [c.strip() for c in request.form.getlist(f"{role}_regions") if c.strip()]
    picked = picked_code(request.form, f"{role}_pick")
    if with_pick and picked and picked not in codes:
        codes.append(picked)
    return codes


def _plan_data(form: CampaignForm) -> dict:
    """The service's input from the form."""
    return {"name": form.name.data or "", "objective": form.objective.data or "", "starts_on": form.starts_on.data,
            "ends_on": form.ends_on.data, "mechanism": form.mechanism.data, "percent_off": form.percent_off.data,
            "fixed_price": form.fixed_price.data, "buy_n": form.buy_n.data, "get_m": form.get_m.data,
            "budget": form.budget.data, "cost": form.cost.data, "code": form.code.data,
            "target_regions": _regions_from_form("target"), "control_regions": _regions_from_form("control"),
            "product_ids": list(form.product_ids.data or [])}


def _form_page(form: CampaignForm, campaign: Campaign | None, targets: list[str], controls: list[str],
               region_errors: dict | None = None, status: int | None = None, picks: dict | None = None):
    """The new or edit form, with the chosen regions listed (their paths) beside their pickers."""
    form.product_ids.choices = _product_choices(list(form.product_ids.data or []))

    def regions(codes):
        return with_paths([r for r in (find_region(c) for c in codes) if r is not None])

    response = render("campaigns/form.html", status=status or form_status(form, invalid=422), form=form,
                      campaign=campaign, targets=regions(targets), controls=regions(controls),
                      region_errors=region_errors or {}, picks=picks or {}, **_labels())
    response.headers["Cache-Control"] = "no-store"
    return response


def _redrawing() -> bool:
    """True for the form's own buttons that redraw it without saving (add a region, refresh a picker)."""
    return any(request.form.get(name) for name in ("add_target", "add_control", "refresh_region"))


def _place(region_errors: dict):
    """A `place` for submit(): the region lists' messages beside their pickers."""
    def place(fields):
        placed = []
        for name in REGION_FIELDS:
            if name in fields:
                region_errors[name] = [str(m) for m in fields[name]]
                placed.append(name)
        return placed
    return place


def _save(form: CampaignForm, campaign: Campaign | None):
    """Redraw, or save the plan and go to its page; the form again with its errors (422) otherwise."""
    if request.form.get("refresh_region"):  # no JavaScript: show the regions below a picker's choice
        picks = {role: picked_code(request.form, f"{role}_pick") for role in ("target", "control")}
        return _form_page(form, campaign, _regions_from_form("target", False), _regions_from_form("control", False),
                          status=200, picks=picks)
    targets, controls = _regions_from_form("target"), _regions_from_form("control")
    if _redrawing():
        return _form_page(form, campaign, targets, controls, status=200)
    region_errors: dict = {}

    def action():
        data = _plan_data(form)
        if campaign is None:
            return services.create_campaign(current_user, data)
        return services.update_campaign(current_user, campaign, data)

    saved = submit(form, action, place=_place(region_errors))
    if saved:
        flash(_("Campaign %(name)s saved.", name=saved.name), "success")
        return htmx_redirect(url_for("campaigns.show_campaign", campaign_id=saved.id))
    status = getattr(form, "error_status", None) or 422
    current = services.get_campaign(current_user, campaign.id) if campaign is not None else None
    return _form_page(form, current, targets, controls, region_errors, status=status)


@bp.route("/campaigns/new", methods=["GET", "POST"])
@require_permission(MANAGE)
def new_campaign():
    """Plan a campaign (a draft): period, regions, products, mechanism, budget and cost, code."""
    services.campaigns_query(current_user)  # Forbidden for a user outside HQ
    form = CampaignForm()
    if request.method == "GET":
        return _form_page(form, None, [], [], status=200)
    return _save(form, None)


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@require_permission(MANAGE)
def edit_campaign(campaign_id: int):
    """Change a draft's plan (409 once it is approved)."""
    campaign = services.get_campaign(current_user, campaign_id)
    if campaign.status != "draft":
        raise InvalidTransition(_("Only a draft campaign can be edited."))
    if request.method == "GET":
        form = CampaignForm(formdata=None, data={
            "name": campaign.name, "objective": campaign.objective, "starts_on": campaign.starts_on.isoformat(),
            "ends_on": campaign.ends_on.isoformat(), "mechanism": campaign.mechanism,
            "percent_off": f"{campaign.percent_off:.2f}" if campaign.percent_off is not None else "",
            "fixed_price": f"{campaign.fixed_price:.2f}" if campaign.fixed_price is not None else "",
            "buy_n": str(campaign.buy_n or ""), "get_m": str(campaign.get_m or ""), "budget": f"{campaign.budget:.2f}",
            "cost": f"{campaign.cost:.2f}", "code": campaign.code or "",
            "product_ids": [str(p.id) for p in campaign.products]})
        return _form_page(form, campaign, services.region_codes(campaign), services.region_codes(campaign, "control"),
                          status=200)
    return _save(CampaignForm(), campaign)


# --- the detail and its actions --------------------------------------------------------------------

def _detail(campaign: Campaign, failed: dict | None = None):
    """The campaign's page: plan, scope, the actions its state allows (a failed one with its errors)."""
    failed = failed or {}
    allowed = [slug for slug, to in ACTIONS.items() if campaign.status in services.MOVES[to]]
    forms = {slug: failed.get(slug) or (ConfirmForm if slug in ("end", "cancel") else ActionForm)(formdata=None)
             for slug in allowed}
    shown = [f for f in failed.values() if f is not None]
    response = render("campaigns/show.html", "campaigns/_detail.html", status=form_status(*shown, invalid=422),
                      campaign=campaign, scope=services.scope_summary(campaign), forms=forms, failed=shown,
                      **_labels())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/campaigns/<int:campaign_id>")
@require_permission(MANAGE)
def show_campaign(campaign_id: int):
    """A campaign: its plan, scope summary, state, and the actions allowed now."""
    return _detail(services.get_campaign(current_user, campaign_id))


@bp.post("/campaigns/<int:campaign_id>/<any(approve, start, end, cancel):action>")
@require_permission(MANAGE)
def move_campaign(campaign_id: int, action: str):
    """Approve, start, end or cancel the campaign (end and cancel ask for a ticked confirmation)."""
    campaign = services.get_campaign(current_user, campaign_id)
    form = ConfirmForm() if action in ("end", "cancel") else ActionForm()

    def run():
        if action == "approve":
            return services.approve(current_user, campaign)
        if action == "start":
            return services.start(current_user, campaign)
        if action == "end":
            return services.end(current_user, campaign, form.note.data or "")
        return services.cancel(current_user, campaign, form.note.data or "")

    if submit(form, run):
        flash(_("%(name)s: %(status)s.", name=campaign.name, status=services.status_label(campaign.status)),
              "success")
        return htmx_redirect(url_for("campaigns.show_campaign", campaign_id=campaign.id))
    return _detail(services.get_campaign(current_user, campaign_id), {action: form})
