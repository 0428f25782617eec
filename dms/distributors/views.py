"""Distributor pages: the list, a distributor's page (profile, territories, users, targets, history) and its forms.

Every route with a distributor id first loads the distributor within the user's scope, so another
distributor's id answers 404 before any other permission is checked (DESIGN.md convention 9).
"""

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import case, func, select
from wtforms import SelectChoice

from dms.core.auth import require_permission
from dms.core.errors import Forbidden, NotFound
from dms.core.forms import form_status, submit
from dms.core.jobs import commit
from dms.core.listing import paginate_list
from dms.core.models import AuditLog
from dms.core.render import htmx_redirect, is_htmx, render
from dms.core.scope import HQ_SCOPE
from dms.core.time import business_today
from dms.distributors import bp, grants, services
from dms.distributors.forms import (
    KIND_LABELS,
    PERIOD_LABELS,
    DistributorForm,
    EndGrantForm,
    GrantForm,
    StatusForm,
    TargetForm,
)
from dms.distributors.models import LEVELS, STATUSES, Distributor
from dms.extensions import db
from dms.territories.models import Region
from dms.territories.picker import picked_code
from dms.territories.services import find_region, with_paths

HISTORY_LIMIT = 50
LEVEL_ORDER = case({level: i for i, level in enumerate(LEVELS)}, value=Distributor.level, else_=len(LEVELS))


def _need(permission: str) -> None:
    """Raise Forbidden unless the current user holds `permission`."""
    if not current_user.can(permission):
        raise Forbidden()


def _status(*forms) -> int:
    """422 when one of the forms shows errors (they are shown in place), a conflict's 409, else 200."""
    return form_status(*forms, invalid=422)


def _labels() -> dict:
    return {"level_label": services.level_label, "status_label": services.status_label,
            "kind_labels": KIND_LABELS, "period_labels": PERIOD_LABELS}


def _upline_choices(distributor: Distributor | None) -> list[SelectChoice]:
    """'No upline' and the distributors that can be one (the current upline kept even when terminated)."""
    choices = dict((str(i), name) for i, name in services.distributor_choices(
        current_user, exclude_id=distributor.id if distributor else None))
    if distributor is not None and distributor.upline is not None:
        choices.setdefault(str(distributor.upline_id), distributor.upline.display_name)
    return [SelectChoice("", _("No upline"))] + [SelectChoice(value, label) for value, label in choices.items()]


def _status_choices(distributor: Distributor) -> list[SelectChoice]:
    """The statuses the distributor can move to (none once terminated)."""
    actions = {"active": _("Reactivate"), "suspended": _("Suspend"), "terminated": _("Terminate")}
    if distributor.status == "terminated":
        return []
    return [SelectChoice(s, actions[s]) for s in STATUSES if s != distributor.status]


def _filter_region(args, name: str = "region_code") -> Region | None:
    """The region the list's picker chose, or ?region_code= (the page links carry that)."""
    return find_region(picked_code(args, name))


@bp.get("/distributors")
@require_permission("distributors.view")
def list_distributors():
    """Distributors with search, level, status, region and upline filters, sorting and pagination."""
    region = _filter_region(request.args)
    stmt = services.distributors_query(current_user, region_code=region.code if region else None)

    def by_upline(stmt, value):
        return stmt.where(Distributor.upline_id == int(value)) if value.isdigit() and len(value) < 10 else stmt

    page = paginate_list(
        stmt, search=[Distributor.name, Distributor.company_name, Distributor.phone],
        sorts={"name": func.coalesce(Distributor.company_name, Distributor.name), "level": LEVEL_ORDER,
               "status": Distributor.status, "created": Distributor.created_at},
        default_sort="name",
        filters={"level": lambda s, v: s.where(Distributor.level == v),
                 "status": lambda s, v: s.where(Distributor.status == v),
                 "upline": by_upline})
    if region is not None:
        page.filters["region_code"] = region.code  # kept by the sort and page links
    return render("distributors/distributors.html", "distributors/_distributors_table.html", page=page,
                  region=region, levels=[(v, services.level_label(v)) for v in LEVELS],
                  statuses=[(v, services.status_label(v)) for v in STATUSES],
                  uplines=[(str(i), name) for i, name in services.distributor_choices(current_user)],
                  **_labels())


def _history(distributor: Distributor) -> list[AuditLog] | None:
    """The newest audit entries about the distributor, for those who may read the audit log."""
    if not current_user.can("audit.view"):
        return None
    return list(db.session.scalars(
        select(AuditLog).where(AuditLog.record_type == "distributor", AuditLog.record_id == str(distributor.id))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(HISTORY_LIMIT)))


def _detail(distributor: Distributor, *, revealed: str | None = None,
            status_form=None, grant_form=None, grant_region: str | None = None, end_form=None,
            end_grant_id: int | None = None, target_form=None):
    """The distributor's page with fresh forms, or the one given that failed (its errors in place, 422)."""
    today = business_today()
    status_form = status_form or StatusForm(formdata=None)
    status_form.status.choices = _status_choices(distributor)
    paths = dict(with_paths([g.region for g in distributor.grants]))
    downlines = list(db.session.scalars(
        services.distributors_query(current_user, upline_id=distributor.id).order_by(Distributor.name)))
    return render(
        "distributors/distributor.html", status=_status(status_form, grant_form, end_form, target_form),
        distributor=distributor, today=today, revealed=revealed, paths=paths, downlines=downlines,
        bank_account=services.bank_account_shown(current_user, distributor),
        history=_history(distributor), history_limit=HISTORY_LIMIT, hq=current_user.can(HQ_SCOPE),
        status_form=status_form, grant_form=grant_form or GrantForm(formdata=None), grant_region=grant_region,
        end_form=end_form or EndGrantForm(formdata=None), end_grant_id=end_grant_id,
        target_form=target_form or TargetForm(formdata=None), **_labels())


@bp.get("/distributors/<int:distributor_id>")
@require_permission("distributors.view")
def show_distributor(distributor_id: int):
    """A distributor's page: profile, status, rights, network, territories, users, targets and history."""
    return _detail(services.get_distributor(current_user, distributor_id))


@bp.post("/distributors/<int:distributor_id>/reveal-id")
@require_permission("distributors.view")
def reveal_id_number(distributor_id: int):
    """Show the full national ID number in place of the masked one (needs distributors.reveal_id; audited)."""
    distributor = services.get_distributor(current_user, distributor_id)
    number = services.reveal_id_number(current_user, distributor)
    commit()
    if is_htmx():
        response = render("distributors/_id_number.html", "distributors/_id_number.html",
                          distributor=distributor, revealed=number)
    else:
        response = _detail(distributor, revealed=number)
    response.headers["Cache-Control"] = "no-store"
    return response


def _profile_data(form: DistributorForm, region_code: str) -> dict:
    return {"kind": form.kind.data, "name": form.name.data, "company_name": form.company_name.data,
            "credit_code": form.credit_code.data, "phone": form.phone.data, "email": form.email.data,
            "id_number": form.id_number.data, "level": form.level.data, "region_code": region_code,
            "upline_id": int(form.upline_id.data) if form.upline_id.data else None,
            "exclusive": form.exclusive.data, "profit_share": form.profit_share.data,
            "bank_name": form.bank_name.data, "bank_account_name": form.bank_account_name.data,
            "bank_account": form.bank_account.data}


def _form_page(form: DistributorForm, distributor: Distributor | None, region_code: str | None):
    # A re-shown form (after an error) never echoes an ID or account number: they are typed again.
    form.id_number.data = ""
    form.bank_account.data = ""
    response = render("distributors/distributor_form.html", form=form, distributor=distributor,
                      region_code=region_code, status=_status(form),
                      bank_account=services.bank_account_shown(None, distributor) if distributor else "")  # masked
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/distributors/new", methods=["GET", "POST"])
@require_permission("distributors.manage")
def create_distributor():
    """Create a distributor (and its warehouse); errors and duplicates are shown beside the fields."""
    form = DistributorForm()
    form.upline_id.choices = _upline_choices(None)
    region_code = picked_code(request.form, "region_code")
    distributor = submit(form, lambda: services.create_distributor(current_user, _profile_data(form, region_code)))
    if distributor:
        flash(_("Distributor %(name)s created.", name=distributor.display_name), "success")
        return htmx_redirect(url_for("distributors.show_distributor", distributor_id=distributor.id))
    return _form_page(form, None, region_code)


@bp.route("/distributors/<int:distributor_id>/edit", methods=["GET", "POST"])
@require_permission("distributors.view")
def edit_distributor(distributor_id: int):
    """Edit a distributor's profile and rights; an empty ID number keeps the stored one."""
    distributor = services.get_distributor(current_user, distributor_id)
    _need("distributors.manage")
    if request.method == "GET":
        form = DistributorForm(formdata=None, obj=distributor)
        form.id_number.data = ""  # the stored numbers are never sent back to the browser
        form.bank_account.data = ""
        form.upline_id.data = str(distributor.upline_id or "")
        region_code = distributor.region_code
    else:
        form = DistributorForm()
        region_code = picked_code(request.form, "region_code")
    form.upline_id.choices = _upline_choices(distributor)
    if submit(form, lambda: services.update_distributor(current_user, distributor, _profile_data(form, region_code))):
        flash(_("Changes saved."), "success")
        return htmx_redirect(url_for("distributors.show_distributor", distributor_id=distributor.id))
    return _form_page(form, distributor, region_code)


@bp.post("/distributors/<int:distributor_id>/status")
@require_permission("distributors.view")
def set_distributor_status(distributor_id: int):
    """Suspend, terminate or reactivate a distributor, with a reason, confirmed by a tick box."""
    distributor = services.get_distributor(current_user, distributor_id)
    _need("distributors.manage")
    form = StatusForm()
    form.status.choices = _status_choices(distributor)
    if submit(form, lambda: services.set_status(current_user, distributor, form.status.data, form.reason.data)):
        messages = {"active": _("The distributor is active again."),
                    "suspended": _("The distributor is suspended."),
                    "terminated": _("The distributor is terminated: its territories have ended and its users "
                                    "are disabled.")}
        flash(messages[form.status.data], "success")
        return htmx_redirect(url_for("distributors.show_distributor", distributor_id=distributor.id))
    return _detail(distributor, status_form=form)


@bp.post("/distributors/<int:distributor_id>/grants")
@require_permission("distributors.view")
def grant_territory(distributor_id: int):
    """Grant the distributor a region; an overlapping exclusive grant is shown beside the region."""
    distributor = services.get_distributor(current_user, distributor_id)
    _need("territories.manage")
    form = GrantForm()
    region_code = picked_code(request.form, "region_code")
    if submit(form, lambda: grants.grant_territory(
            current_user, distributor, region_code, exclusive=form.exclusive.data,
            effective_from=form.effective_from.data, effective_to=form.effective_to.data,
            note=form.note.data or "")):
        flash(_("Territory granted."), "success")
        return htmx_redirect(url_for("distributors.show_distributor", distributor_id=distributor.id,
                                     _anchor="territories"))
    return _detail(distributor, grant_form=form, grant_region=region_code)


@bp.post("/distributors/<int:distributor_id>/grants/<int:grant_id>/end")
@require_permission("distributors.view")
def end_grant(distributor_id: int, grant_id: int):
    """End one of the distributor's grants after a given day."""
    distributor = services.get_distributor(current_user, distributor_id)
    _need("territories.manage")
    grant = grants.get_grant(grant_id)
    if grant.distributor_id != distributor.id:
        raise NotFound()
    form = EndGrantForm()
    if submit(form, lambda: grants.end_grant(current_user, grant, form.effective_to.data, form.reason.data or "")):
        flash(_("The grant of %(region)s ends on %(end)s.", region=grant.region.name,
                end=grant.effective_to.isoformat()), "success")
        return htmx_redirect(url_for("distributors.show_distributor", distributor_id=distributor.id,
                                     _anchor="territories"))
    return _detail(distributor, end_form=form, end_grant_id=grant.id)


@bp.post("/distributors/<int:distributor_id>/targets")
@require_permission("distributors.view")
def set_target(distributor_id: int):
    """Set the target of a month or quarter, replacing the one already set for that period."""
    distributor = services.get_distributor(current_user, distributor_id)
    _need("distributors.manage")
    form = TargetForm()
    if submit(form, lambda: services.set_target(current_user, distributor, {
            "period": form.period.data, "period_start": form.period_start.data,
            "amount": form.amount.data, "quantity": form.quantity.data})):
        flash(_("Target saved."), "success")
        return htmx_redirect(url_for("distributors.show_distributor", distributor_id=distributor.id,
                                     _anchor="targets"))
    return _detail(distributor, target_form=form)


@bp.post("/distributors/<int:distributor_id>/targets/<int:target_id>/delete")
@require_permission("distributors.view")
def delete_target(distributor_id: int, target_id: int):
    """Remove one of the distributor's targets (confirmed in the browser; CSRF-checked)."""
    distributor = services.get_distributor(current_user, distributor_id)
    _need("distributors.manage")
    services.delete_target(current_user, distributor, target_id)
    commit()
    flash(_("Target removed."), "success")
    return htmx_redirect(url_for("distributors.show_distributor", distributor_id=distributor.id, _anchor="targets"))
