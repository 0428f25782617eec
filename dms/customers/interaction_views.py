"""Visits and communications pages: a customer's interactions (an htmx fragment of the customer page) and
the follow-ups due.

Every route with an id first loads the row within the user's scope, so another distributor's id
answers 404 before anything else (DESIGN.md convention 9). A failed form answers the fragment with its
errors in place (422; 409 for a state conflict), which htmx 2 swaps.
"""

from flask import redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from dms.core.auth import require_permission
from dms.core.forms import form_status, submit
from dms.core.nav import nav_url
from dms.core.render import is_htmx, render
from dms.core.scope import HQ_SCOPE
from dms.core.time import business_today
from dms.customers import bp, interaction_jobs, interactions, services  # noqa: F401 - jobs: the daily reminders
from dms.customers.interaction_forms import CompleteVisitForm, ConfirmForm, LogInteractionForm, PlanVisitForm
from dms.distributors.models import Distributor
from dms.extensions import db

MANAGE = interactions.MANAGE


def _labels() -> dict:
    return {"kind_labels": interactions.KIND_LABELS, "status_labels": interactions.STATUS_LABELS}


def _visit_form(interaction, formdata=None):
    return CompleteVisitForm(formdata=formdata, prefix=f"visit-{interaction.id}")


def _interactions_fragment(customer, *, log_form=None, plan_form=None, visit_form=None, visit_id=None,
                           message=None, status=None):
    """The customer's interactions with fresh forms, or the one that failed with its errors in place."""
    found = interactions.history(customer)
    visit_forms = {v.id: (visit_form if v.id == visit_id and visit_form is not None else _visit_form(v))
                   for v in found["planned"]}
    log_form = log_form or LogInteractionForm(formdata=None, prefix="log")
    plan_form = plan_form or PlanVisitForm(formdata=None, prefix="plan")
    failed = [f for f in (log_form, plan_form, visit_form) if f is not None]
    response = render("customers/_interactions_page.html", "customers/_interactions.html",
                      status=status or form_status(*failed, invalid=422), customer=customer, found=found,
                      log_form=log_form, plan_form=plan_form, visit_forms=visit_forms, message=message,
                      can_manage=current_user.can(MANAGE), today=business_today(),
                      customer_url=nav_url("customers.show_customer", customer_id=customer.id), **_labels())
    response.headers["Cache-Control"] = "no-store"
    return response


def _after_change(customer, message: str):
    """The refreshed fragment for htmx, else back to the customer (a plain form post)."""
    if is_htmx():
        return _interactions_fragment(customer, message=message)
    return redirect(nav_url("customers.show_customer", customer_id=customer.id)
                    or url_for("customers.customer_interactions", customer_id=customer.id))


@bp.get("/customers/<int:customer_id>/interactions")
@require_permission("customers.view")
def customer_interactions(customer_id: int):
    """The customer's planned visits and history of visits, calls and messages, with the forms to add one."""
    return _interactions_fragment(services.get_customer(current_user, customer_id))


@bp.post("/customers/<int:customer_id>/interactions")
@require_permission(MANAGE)
def log_interaction(customer_id: int):
    """Log a visit, call or message that happened (closing the user's open follow-ups of the customer)."""
    customer = services.get_customer(current_user, customer_id)
    form = LogInteractionForm(prefix="log")
    if submit(form, lambda: interactions.log_interaction(current_user, customer, form.data_for_service())):
        return _after_change(customer, _("Logged."))
    return _interactions_fragment(customer, log_form=form)


@bp.post("/customers/<int:customer_id>/interactions/plan")
@require_permission(MANAGE)
def plan_visit(customer_id: int):
    """Plan a visit to the customer for a day."""
    customer = services.get_customer(current_user, customer_id)
    form = PlanVisitForm(prefix="plan")
    if submit(form, lambda: interactions.plan_visit(current_user, customer, form.data_for_service())):
        return _after_change(customer, _("Visit planned."))
    return _interactions_fragment(customer, plan_form=form)


@bp.post("/interactions/<int:interaction_id>/done")
@require_permission(MANAGE)
def complete_visit(interaction_id: int):
    """Mark a planned visit done with its outcome and next follow-up."""
    visit = interactions.get_interaction(current_user, interaction_id)
    form = _visit_form(visit, formdata=request.form)
    if submit(form, lambda: interactions.complete_visit(current_user, visit, form.data_for_service())):
        return _after_change(visit.customer, _("Visit done."))
    if visit.status != "planned":  # a conflict: the fragment no longer has this visit's form to show it on
        return _interactions_fragment(visit.customer, status=form_status(form),
                                      message=" ".join(form.form_errors))
    return _interactions_fragment(visit.customer, visit_form=form, visit_id=visit.id)


@bp.post("/interactions/<int:interaction_id>/cancel")
@require_permission(MANAGE)
def cancel_visit(interaction_id: int):
    """Cancel a planned visit."""
    visit = interactions.get_interaction(current_user, interaction_id)
    form = ConfirmForm()
    if submit(form, lambda: interactions.cancel_visit(current_user, visit)):
        return _after_change(visit.customer, _("Visit cancelled."))
    return _interactions_fragment(visit.customer, status=form_status(form),
                                  message=" ".join(form.form_errors) or None)


# --- follow-ups due -----------------------------------------------------------------------------

def _filters(values) -> dict:
    """Whose follow-ups (mine, or the team's for staff with customers.manage) and, for HQ, which distributor."""
    who = values.get("who") if values.get("who") in ("mine", "team") else "mine"
    if not current_user.can(MANAGE):
        who = "mine"
    distributor_id = None
    if current_user.can(HQ_SCOPE):
        raw = (values.get("distributor") or "").strip()
        distributor_id = int(raw) if raw.isdigit() and len(raw) < 10 else None
    elif current_user.distributor_id is not None:
        distributor_id = current_user.distributor_id
    return {"who": who, "distributor_id": distributor_id}


def _follow_ups_page(filters: dict, message=None, status: int = 200):
    """The follow-ups due in buckets, planned visits of the week, and the distributor's visit compliance."""
    today = business_today()
    hq = current_user.can(HQ_SCOPE)
    chosen = filters["distributor_id"] if hq else None
    buckets = interactions.due_follow_ups(current_user, filters["who"], chosen, today=today)
    planned = interactions.due_planned_visits(current_user, filters["who"], chosen, today=today)
    compliance, distributor = None, None
    if filters["distributor_id"] is not None:
        distributor = db.session.get(Distributor, filters["distributor_id"])
        start = today.replace(day=1)
        compliance = interactions.visit_compliance(filters["distributor_id"], start, today)
        compliance.update(start=start, end=today)
    distributors = list(db.session.execute(
        select(Distributor.id, Distributor.name).order_by(Distributor.name, Distributor.id))) if hq else []
    response = render("customers/follow_ups.html", "customers/_follow_ups.html", status=status, buckets=buckets,
                      planned=planned, compliance=compliance, distributor=distributor, distributors=distributors,
                      hq=hq, who=filters["who"], chosen_distributor=chosen, can_team=current_user.can(MANAGE),
                      today=today, week_end=interactions.week_end(today), message=message,
                      customer_url=lambda c: nav_url("customers.show_customer", customer_id=c.id), **_labels())
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/follow-ups")
@require_permission("customers.view")
def follow_ups():
    """Follow-ups due (overdue, today, later this week): mine by default, the team's, or for HQ a distributor's."""
    return _follow_ups_page(_filters(request.args))


@bp.post("/follow-ups/<int:interaction_id>/done")
@require_permission("customers.view")
def complete_follow_up(interaction_id: int):
    """Mark a follow-up done; answers the follow-ups list (or, from the customer page, its interactions)."""
    interaction = interactions.get_interaction(current_user, interaction_id)
    form = ConfirmForm()
    done = submit(form, lambda: interactions.complete_follow_up(current_user, interaction))
    from_customer = request.form.get("from") == "customer"
    if from_customer:
        if done:
            return _after_change(interaction.customer, _("Follow-up done."))
        return _interactions_fragment(interaction.customer, status=form_status(form),
                                      message=" ".join(form.form_errors) or None)
    filters = _filters(request.form)
    if done and not is_htmx():
        args = {"who": filters["who"]}
        if current_user.can(HQ_SCOPE) and filters["distributor_id"] is not None:
            args["distributor"] = filters["distributor_id"]
        return redirect(url_for("customers.follow_ups", **args))
    return _follow_ups_page(filters, message=_("Follow-up done.") if done else " ".join(form.form_errors) or None,
                            status=200 if done else form_status(form))
