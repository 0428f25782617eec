"""Account pages: login and logout, own password, and the admin pages for users and roles."""

from flask import flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from dms.accounts import SESSION_TOKEN, bp, services
from dms.accounts.forms import (
    ChangePasswordForm,
    ConfirmForm,
    LoginForm,
    ResetPasswordForm,
    RoleForm,
    SetPasswordForm,
    UserCreateForm,
    UserEditForm,
)
from dms.accounts.models import Role, User, user_roles
from dms.accounts.permissions import PERMISSIONS
from dms.accounts.ratelimit import login_rate_limited
from dms.core.auth import require_permission
from dms.core.forms import form_status, submit
from dms.core.jobs import commit
from dms.core.listing import paginate_list
from dms.core.render import render
from dms.extensions import db


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("core.home")


@bp.route("/login", methods=["GET", "POST"])
@login_rate_limited
def login():
    """Log in: a new server-side session each time (the old cookie's content is discarded)."""
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.username.data, form.password.data)
        if user is None:
            form.form_errors.append(_("Wrong username or password, or the account is disabled."))
        else:
            token = services.open_session(user, request.remote_addr, request.headers.get("User-Agent"))
            commit()
            locale = session.get("_locale")
            session.clear()  # rotate: nothing from before the login survives
            if locale:
                session["_locale"] = locale
            session[SESSION_TOKEN] = token
            session.permanent = True
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 400 if form.errors or form.form_errors else 200
    return render("accounts/login.html", form=form, status=status)


@bp.post("/logout")
def logout():
    """Log out: the server-side session is revoked, the cookie cleared."""
    services.close_session(session.get(SESSION_TOKEN))
    commit()
    logout_user()
    session.clear()
    flash(_("You have logged out."), "success")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """The user changes their own password (current one required)."""
    form = ChangePasswordForm()
    if submit(form, lambda: services.change_own_password(
            current_user, form.current_password.data, form.new_password.data, session_id=g.get("user_session_id")),
            aliases={"password": "new_password"}):
        flash(_("Your password has been changed. Your other sessions have been logged out."), "success")
        return redirect(url_for("core.home"))
    return render("accounts/password.html", form=form, status=form_status(form))


def _role_choices():
    return [(r.code, r.name) for r in db.session.scalars(select(Role).order_by(Role.id))]


@bp.get("/admin/users")
@require_permission("users.manage")
def list_users():
    """All users with search, role and status filters, sorting and pagination."""
    def by_role(stmt, code):
        return stmt.where(User.id.in_(select(user_roles.c.user_id).join(Role).where(Role.code == code)))

    page = paginate_list(
        select(User), search=[User.username, User.display_name, User.phone, User.email],
        sorts={"username": User.username, "name": User.display_name, "created": User.created_at,
               "last_login": User.last_login_at},
        default_sort="username",
        filters={"role": by_role,
                 "status": lambda s, v: s.where(User.active.is_(v == "active")) if v in ("active", "disabled") else s})
    return render("accounts/users.html", "accounts/_users_table.html", page=page, roles=_role_choices())


def _user_fields(form) -> dict:
    return {"display_name": form.display_name.data or "", "phone": form.phone.data or None,
            "email": form.email.data or None, "locale": form.locale.data or None,
            "distributor_id": int(form.distributor_id.data) if form.distributor_id.data else None}


@bp.route("/admin/users/new", methods=["GET", "POST"])
@require_permission("users.manage")
def create_user():
    """Create a user with an initial password and roles."""
    form = UserCreateForm()
    form.roles.choices = _role_choices()
    if not form.is_submitted() and request.args.get("distributor_id", "").isdigit():
        # From a distributor's page: the new user works for it, as a distributor user by default.
        form.distributor_id.data = request.args["distributor_id"]
        form.roles.data = ["distributor"]
    user = submit(form, lambda: services.create_user(
        current_user, username=form.username.data, password=form.password.data, roles=form.roles.data,
        **_user_fields(form)))
    if user:
        flash(_("User %(name)s created.", name=user.username), "success")
        return redirect(url_for("accounts.edit_user", user_id=user.id))
    return render("accounts/user_form.html", form=form, user=None, status=form_status(form))


def _user_page(user, form=None, reset_form=None, confirm_form=None):
    """The user's edit page; the form that failed comes back with its errors, and status 400."""
    if form is None:
        form = UserEditForm(formdata=None, obj=user)
        form.roles.data = [r.code for r in user.roles]
        form.locale.data = user.locale or ""
        form.distributor_id.data = str(user.distributor_id) if user.distributor_id else ""
    form.roles.choices = _role_choices()
    forms = (form, reset_form, confirm_form)
    status = max(form_status(f) for f in forms if f is not None)
    return render("accounts/user_form.html", user=user, form=form, reset_form=reset_form or ResetPasswordForm(
        formdata=None), confirm_form=confirm_form or ConfirmForm(formdata=None), status=status)


@bp.get("/admin/users/<int:user_id>")
@require_permission("users.manage")
def edit_user(user_id: int):
    """A user's page: profile and roles, password reset, disable or enable."""
    return _user_page(services.get_user(user_id))


@bp.post("/admin/users/<int:user_id>")
@require_permission("users.manage")
def update_user(user_id: int):
    """Save a user's profile and roles."""
    user = services.get_user(user_id)
    form = UserEditForm()
    form.roles.choices = _role_choices()
    if submit(form, lambda: services.update_user(current_user, user, roles=form.roles.data, **_user_fields(form))):
        flash(_("Changes saved."), "success")
        return redirect(url_for("accounts.edit_user", user_id=user.id))
    return _user_page(user, form=form)


@bp.post("/admin/users/<int:user_id>/active")
@require_permission("users.manage")
def set_user_active(user_id: int):
    """Disable or enable a user (confirmed by a tick box)."""
    user = services.get_user(user_id)
    form = ConfirmForm()
    active = request.form.get("active") == "1"
    if submit(form, lambda: services.set_active(current_user, user, active)):
        flash(_("User enabled.") if active else _("User disabled; their sessions have ended."), "success")
        return redirect(url_for("accounts.edit_user", user_id=user.id))
    return _user_page(user, confirm_form=form)


@bp.post("/admin/users/<int:user_id>/password")
@require_permission("users.manage")
def reset_user_password(user_id: int):
    """Set a new password for a user; their sessions and tokens end."""
    user = services.get_user(user_id)
    form = ResetPasswordForm()
    if submit(form, lambda: services.reset_password(current_user, user, form.new_password.data),
              aliases={"password": "new_password"}):
        flash(_("Password reset. Tell the user their new password through a safe channel."), "success")
        return redirect(url_for("accounts.edit_user", user_id=user.id))
    return _user_page(user, reset_form=form)


@bp.get("/admin/roles")
@require_permission("roles.manage")
def list_roles():
    """Roles with their user counts."""
    roles = list(db.session.scalars(select(Role).order_by(Role.id)))
    counts = dict(db.session.execute(
        select(user_roles.c.role_id, db.func.count()).group_by(user_roles.c.role_id)).all())
    return render("accounts/roles.html", roles=roles, counts=counts, permissions=PERMISSIONS)


def _permission_choices():
    return [(code, str(label)) for code, label in PERMISSIONS.items()]


@bp.route("/admin/roles/new", methods=["GET", "POST"])
@require_permission("roles.manage")
def create_role():
    """Create a role and choose its permissions."""
    form = RoleForm()
    form.permissions.choices = _permission_choices()
    role = submit(form, lambda: services.create_role(
        current_user, code=form.code.data, name=form.name.data, description=form.description.data,
        permissions=form.permissions.data))
    if role:
        flash(_("Role created."), "success")
        return redirect(url_for("accounts.edit_role", role_id=role.id))
    return render("accounts/role_form.html", form=form, role=None, status=form_status(form))


@bp.route("/admin/roles/<int:role_id>", methods=["GET", "POST"])
@require_permission("roles.manage")
def edit_role(role_id: int):
    """Edit which permissions a role grants."""
    role = services.get_role(role_id)
    form = RoleForm(obj=role if request.method == "GET" else None)
    form.permissions.choices = _permission_choices()
    form.code.data = role.code  # the code is fixed once created
    if request.method == "GET":
        form.permissions.data = sorted(role.permissions)
    if submit(form, lambda: services.save_role(current_user, role, name=form.name.data,
                                               description=form.description.data, permissions=form.permissions.data)):
        flash(_("Role saved."), "success")
        return redirect(url_for("accounts.edit_role", role_id=role.id))
    return render("accounts/role_form.html", form=form, role=role, status=form_status(form))


@bp.route("/account/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """Set a password through a one-time link (a new distributor's first); then on to the login page."""
    try:
        user = services.password_token_user(token)
    except services.PasswordLinkInvalid as exc:
        db.session.rollback()
        return _private(render("accounts/set_password.html", form=None, user=None, message=exc.message,
                               status=exc.status))
    form = SetPasswordForm()
    done = submit(form, lambda: services.set_password_with_token(token, form.new_password.data),
                  aliases={"password": "new_password"})
    if done:
        flash(_("Your password is set. Log in with the username %(name)s.", name=done.username), "success")
        return redirect(url_for("accounts.login"))
    return _private(render("accounts/set_password.html", form=form, user=user, message=None,
                           status=form_status(form)))


def _private(response):
    """A page whose address holds a secret: never cached, never sent on as a referrer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
