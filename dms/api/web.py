"""Admin pages for integration clients: list, register, disable or enable, rotate the secret."""

from flask import flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from dms.accounts.models import Role
from dms.api import clients_bp as bp
from dms.api import services
from dms.api.forms import ClientActiveForm, ClientForm, RotateSecretForm
from dms.api.models import ApiClient
from dms.core.auth import require_permission
from dms.core.forms import form_status, submit
from dms.core.jobs import commit
from dms.core.listing import paginate_list
from dms.core.render import render
from dms.extensions import db


def _role_choices() -> list[tuple[int, str]]:
    """Every role, for the role select."""
    return [(r.id, f"{r.name} ({r.code})") for r in db.session.scalars(select(Role).order_by(Role.id))]


def _secret_page(client: ApiClient, secret: str, created: bool):
    """The one page that shows a client's secret; never cached."""
    response = render("api/client_secret.html", client=client, secret=secret, created=created)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
@require_permission("clients.manage")
def list_clients():
    """Integration clients with search, status and role filters, sorting and pagination."""
    def by_status(stmt, value):
        return stmt.where(ApiClient.active.is_(value == "active")) if value in ("active", "disabled") else stmt

    def by_role(stmt, value):
        return stmt.where(ApiClient.role_id == int(value)) if value.isdigit() else stmt

    def by_distributor(stmt, value):
        return stmt.where(ApiClient.distributor_id == int(value)) if value.isdigit() and len(value) < 10 else stmt

    page = paginate_list(
        select(ApiClient), search=[ApiClient.name, ApiClient.client_id],
        sorts={"name": ApiClient.name, "created": ApiClient.created_at, "last_used": ApiClient.last_used_at},
        default_sort="created", default_dir="desc",
        filters={"status": by_status, "role": by_role, "distributor": by_distributor})
    return render("api/clients.html", "api/_clients_table.html", page=page,
                  roles=[(str(i), label) for i, label in _role_choices()])


@bp.route("/new", methods=["GET", "POST"])
@require_permission("clients.manage")
def create_client():
    """Register an integration client; its secret is shown once on the answer page."""
    form = ClientForm()
    form.role_id.choices = _role_choices()
    if not form.is_submitted():
        default = services.default_client_role()
        form.role_id.data = default.id if default else None
    created = submit(form, lambda: services.create_client(
        current_user, name=form.name.data, role_id=form.role_id.data,
        distributor_id=int(form.distributor_id.data) if form.distributor_id.data else None))
    if created:
        client, secret = created
        return _secret_page(client, secret, created=True)
    return render("api/client_form.html", form=form, status=form_status(form))


def _detail(client: ApiClient, status: int = 200, active_form=None, rotate_form=None):
    """The client's page, with the given (possibly failed) forms or fresh ones."""
    return render("api/client.html", client=client, status=status,
                  active_form=active_form or ClientActiveForm(formdata=None, active="1" if not client.active else "0"),
                  rotate_form=rotate_form or RotateSecretForm(formdata=None))


@bp.get("/<int:client_pk>")
@require_permission("clients.manage")
def view_client(client_pk: int):
    """One client: its id, role, use, and the forms to disable, enable or rotate its secret."""
    return _detail(services.get_client(client_pk))


@bp.post("/<int:client_pk>/active")
@require_permission("clients.manage")
def set_client_active(client_pk: int):
    """Disable or enable a client (confirmed by a tick box); disabling ends its tokens."""
    client = services.get_client(client_pk)
    form = ClientActiveForm()
    if not form.validate_on_submit():
        return _detail(client, 400, active_form=form)
    active = form.active.data == "1"
    services.set_client_active(current_user, client, active)
    commit()
    flash(_("Client enabled.") if active else _("Client disabled; its tokens no longer work."), "success")
    return redirect(url_for("clients.view_client", client_pk=client.id))


@bp.post("/<int:client_pk>/secret")
@require_permission("clients.manage")
def rotate_client_secret(client_pk: int):
    """Give a client a new secret, shown once; the old secret and its tokens stop working."""
    client = services.get_client(client_pk)
    form = RotateSecretForm()
    if not form.validate_on_submit():
        return _detail(client, 400, rotate_form=form)
    secret = services.rotate_client_secret(current_user, client)
    commit()
    return _secret_page(client, secret, created=False)

