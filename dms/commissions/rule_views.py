"""Commission rule pages: the versions, a version's page, the draft form, publish, discard, the simulator.

Every page needs commissions.view. HQ staff (scope.all_distributors) see every version; a distributor
sees the version in force only (any other answers 404). Changing anything needs commissions.manage
(403 otherwise; a reviewer reads). A published version is never edited: its edit page answers 409.
Forms are re-shown with their errors beside the inputs (422); each request commits once, or rolls back.
"""

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import false, select

from dms.catalog.services import category_tree
from dms.commissions import bp, rules, simulator
from dms.commissions.models import MAX_LEVELS, RuleVersion
from dms.commissions.rule_forms import (
    BASE_LABELS,
    KIND_LABELS,
    MAX_ROWS,
    MAX_SAMPLE_LINES,
    MODE_LABELS,
    PERIOD_LABELS,
    SCOPE_LABELS,
    STATE_LABELS,
    STATE_TAGS,
    DiscardForm,
    LevelRow,
    NewDraftForm,
    OverrideRow,
    PublishForm,
    RewardRow,
    RulesForm,
    SampleLine,
    SimulatorForm,
    fit_levels,
    level_count,
    local_input,
    place_errors,
    place_line_errors,
    plain,
    publish_moment,
    read_rows,
    read_sample_lines,
    rows_of,
    rules_form_data,
    rules_payload,
)
from dms.core.auth import require_permission
from dms.core.errors import Conflict, DomainError, Forbidden, NotFound
from dms.core.forms import form_status, submit
from dms.core.listing import paginate_list
from dms.core.render import htmx_redirect, render
from dms.core.scope import HQ_SCOPE
from dms.core.time import utcnow
from dms.distributors.services import level_label
from dms.extensions import db
from dms.territories.models import LEVELS

VIEW, MANAGE = "commissions.view", "commissions.manage"
# The draft form's own buttons: they redraw it (a table of it, for htmx) without saving.
LEVEL_BUTTONS = ("add_level", "remove_level", "redraw_levels")
OVERRIDE_BUTTONS = ("add_override", "remove_override")
REWARD_BUTTONS = ("add_reward", "remove_reward")


def _hq() -> bool:
    """True for HQ staff, who see every version (a distributor sees the one in force only)."""
    return current_user.can(HQ_SCOPE)


def _require_manage() -> None:
    if not current_user.can(MANAGE):
        raise Forbidden()


def _state(version: RuleVersion, current: RuleVersion | None, now) -> str:
    """draft, in_force, scheduled (published from a later moment) or superseded."""
    if version.status == "draft":
        return "draft"
    if current is not None and version.id == current.id:
        return "in_force"
    return "scheduled" if version.effective_from and version.effective_from > now else "superseded"


def _labels(current: RuleVersion | None = None) -> dict:
    """What every rule template needs: labels, the version in force, the user's powers."""
    now = utcnow()
    return {"mode_labels": MODE_LABELS, "base_labels": BASE_LABELS, "scope_labels": SCOPE_LABELS,
            "kind_labels": KIND_LABELS, "period_labels": PERIOD_LABELS, "state_labels": STATE_LABELS,
            "state_tags": STATE_TAGS, "level_label": level_label, "plain": plain, "current": current,
            "state_of": lambda v: _state(v, current, now), "manages": current_user.can(MANAGE), "hq": _hq(),
            "max_levels": MAX_LEVELS}


def _visible(version_id: int) -> RuleVersion:
    """A version the user may see: any for HQ staff, the one in force only for a distributor; else NotFound."""
    version = rules.get_version(version_id)
    if not _hq():
        current = rules.current_version()
        if current is None or current.id != version.id:
            raise NotFound()
    return version


# --- the list -------------------------------------------------------------------------------------

@bp.get("/commissions/rules")
@require_permission(VIEW)
def list_rules():
    """Every rule version, newest first (a distributor: the one in force), with the actions HQ may take."""
    current = rules.current_version()
    stmt = select(RuleVersion)
    if not _hq():
        stmt = stmt.where(RuleVersion.id == current.id) if current is not None else stmt.where(false())
    page = paginate_list(stmt, search=(RuleVersion.name, RuleVersion.note),
                         sorts={"number": RuleVersion.number, "effective": RuleVersion.effective_from},
                         default_sort="number", default_dir="desc",
                         filters={"status": lambda s, v: s.where(RuleVersion.status == v)})
    return render("commissions/rules/list.html", "commissions/rules/_table.html", page=page,
                  new_form=NewDraftForm(formdata=None), statuses=[("draft", _("Draft")), ("published", _("Published"))],
                  **_labels(current))


@bp.post("/commissions/rules/new")
@require_permission(VIEW)
def new_rules_draft():
    """Start a draft copying a version (the one in force by default) and open its form."""
    _require_manage()
    form = NewDraftForm()
    based_on_id = (form.based_on.data or "").strip()
    based_on = None
    if based_on_id:
        if not (based_on_id.isascii() and based_on_id.isdigit() and len(based_on_id) < 10):
            raise NotFound()
        based_on = rules.get_version(int(based_on_id))
    draft = submit(form, lambda: rules.create_draft(current_user, based_on))
    if not draft:
        flash(_("The draft could not be started. Please try again."), "error")
        return htmx_redirect(url_for("commissions.list_rules"))
    flash(_("Draft %(version)s started: change it, then publish it.", version=str(draft)), "success")
    return htmx_redirect(url_for("commissions.edit_rules", version_id=draft.id))


# --- a version's page, publish, discard ------------------------------------------------------------

def _version_page(version: RuleVersion, publish_form: PublishForm | None = None,
                  discard_form: DiscardForm | None = None):
    """A version read-only, with (for HQ managers) publish and discard on a draft, 'new draft from it' on any."""
    current = rules.current_version()
    failed = [f for f in (publish_form, discard_form) if f is not None]
    response = render("commissions/rules/show.html", "commissions/rules/_version.html",
                      status=form_status(*failed, invalid=422), version=version,
                      publish_form=publish_form or PublishForm(formdata=None),
                      discard_form=discard_form or DiscardForm(formdata=None), new_form=NewDraftForm(formdata=None),
                      based_on=db.session.get(RuleVersion, version.based_on_id) if version.based_on_id else None,
                      **_labels(current))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/commissions/rules/<int:version_id>")
@require_permission(VIEW)
def show_rules(version_id: int):
    """A version read-only: settings, levels, overrides, rewards, in plain words."""
    return _version_page(_visible(version_id))


@bp.post("/commissions/rules/<int:version_id>/publish")
@require_permission(VIEW)
def publish_rules(version_id: int):
    """Publish a draft from a moment (now when empty), confirmed by a tick; 409 once it is published."""
    version = _visible(version_id)
    _require_manage()
    form = PublishForm()

    def action():
        return rules.publish(current_user, version, publish_moment(form.effective_from.data))

    if submit(form, action):
        flash(_("%(version)s published: in force from %(moment)s.", version=str(version),
                moment=local_input(version.effective_from).replace("T", " ")), "success")
        return htmx_redirect(url_for("commissions.show_rules", version_id=version.id))
    return _version_page(_visible(version_id), publish_form=form)


@bp.post("/commissions/rules/<int:version_id>/discard")
@require_permission(VIEW)
def discard_rules(version_id: int):
    """Delete a draft, confirmed by a tick; 409 for a published version."""
    version = _visible(version_id)
    _require_manage()
    form = DiscardForm()
    name = str(version)
    if submit(form, lambda: rules.discard(current_user, version)):
        flash(_("Draft %(version)s deleted.", version=name), "success")
        return htmx_redirect(url_for("commissions.list_rules"))
    return _version_page(_visible(version_id), discard_form=form)


# --- the draft form --------------------------------------------------------------------------------

def _target_choices(overrides: list[OverrideRow]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The override targets, grouped by scope: products (on sale, or already chosen), categories, levels."""
    from dms.catalog.models import Product

    chosen = [int(r.target.split(":", 1)[1]) for r in overrides
              if r.target.startswith("product:") and r.target.split(":", 1)[1].isdigit()
              and len(r.target) < 20]
    products = db.session.scalars(select(Product).where((Product.status == "available")
                                                        | Product.id.in_(chosen or [-1]))
                                  .order_by(Product.name, Product.id))
    return [(str(SCOPE_LABELS["product"]), [(f"product:{p.id}", f"{p.name} ({p.sku})") for p in products]),
            (str(SCOPE_LABELS["category"]), [(f"category:{node.category.id}", " / ".join(node.path))
                                             for node in category_tree()]),
            (str(SCOPE_LABELS["distributor_level"]), [(f"distributor_level:{lv}", level_label(lv)) for lv in LEVELS])]


def _form_page(version: RuleVersion, form: RulesForm, levels: list[LevelRow], overrides: list[OverrideRow],
               rewards: list[RewardRow], status: int | None = None, fragment: str | None = None):
    """The draft's form with its rows (levels fitted to the levels chosen), or one table of it for htmx."""
    levels = fit_levels(levels, level_count(form, levels))
    redraw = {"hx-post": url_for("commissions.edit_rules", version_id=version.id), "hx-trigger": "change",
              "hx-include": "#rules-form", "hx-target": "#rules-levels", "hx-swap": "outerHTML",
              "hx-vals": '{"redraw_levels": "1"}'}
    form.mode.render_kw = form.max_levels.render_kw = redraw
    response = render("commissions/rules/edit.html", fragment, status=status or form_status(form, invalid=422),
                      version=version, form=form, levels=levels, overrides=overrides, rewards=rewards,
                      targets=_target_choices(overrides), max_rows=MAX_ROWS,
                      next_override=max((r.index for r in overrides), default=-1) + 1,
                      next_reward=max((r.index for r in rewards), default=-1) + 1,
                      row_errors=any(r.errors for r in (*levels, *overrides, *rewards)),
                      **_labels(rules.current_version()))
    response.headers["Cache-Control"] = "no-store"
    return response


def _pressed(names) -> bool:
    return any(request.form.get(name) for name in names)


def _redraw(version: RuleVersion, form: RulesForm, levels, overrides, rewards):
    """Apply an add / remove button to the rows and show the form again (for htmx, the table it changed)."""
    count = level_count(form, levels)
    if request.form.get("add_level") and count < MAX_LEVELS:
        form.mode.data, form.max_levels.data = "multi", str(count + 1)
    if request.form.get("remove_level") and count > 1:
        form.max_levels.data = str(count - 1)
    remove = (request.form.get("remove_override") or "").strip()
    overrides = [r for r in overrides if str(r.index) != remove]
    if request.form.get("add_override") and len(overrides) < MAX_ROWS:
        overrides.append(OverrideRow(max((r.index for r in overrides), default=-1) + 1))
    remove = (request.form.get("remove_reward") or "").strip()
    rewards = [r for r in rewards if str(r.index) != remove]
    if request.form.get("add_reward") and len(rewards) < MAX_ROWS:
        rewards.append(RewardRow(max((r.index for r in rewards), default=-1) + 1))
    fragment = ("commissions/rules/_levels.html" if _pressed(LEVEL_BUTTONS) else
                "commissions/rules/_overrides.html" if _pressed(OVERRIDE_BUTTONS) else
                "commissions/rules/_rewards.html")
    return _form_page(version, form, levels, overrides, rewards, status=200, fragment=fragment)


@bp.route("/commissions/rules/<int:version_id>/edit", methods=["GET", "POST"])
@require_permission(VIEW)
def edit_rules(version_id: int):
    """Change a draft: settings, a rate and a minimum per level, overrides, rewards; save, or save and publish."""
    version = _visible(version_id)
    _require_manage()
    if version.status != "draft":
        raise Conflict(_("A published version cannot be changed; make a new draft from it."))
    if request.method == "GET":
        form = RulesForm(formdata=None, data=rules_form_data(version))
        return _form_page(version, form, *rows_of(version), status=200)
    form = RulesForm()
    levels, overrides, rewards = read_rows(request.form)
    if _pressed(LEVEL_BUTTONS + OVERRIDE_BUTTONS + REWARD_BUTTONS):
        return _redraw(version, form, levels, overrides, rewards)
    levels = fit_levels(levels, level_count(form, levels))
    publishing = bool(request.form.get("publish"))
    if publishing and not form.confirm.data:
        form.confirm.errors = [_("Tick the box to confirm.")]
        return _form_page(version, form, levels, overrides, rewards, status=422)

    def action():
        saved = rules.set_rules(current_user, version, rules_payload(form, levels, overrides, rewards))
        if publishing:
            rules.publish(current_user, saved, publish_moment(form.effective_from.data))
        return saved

    def place(fields):
        placed = place_errors(fields, levels, overrides, rewards)
        if "levels" in fields:
            form.form_errors.extend(str(m) for m in fields["levels"])
            placed.append("levels")
        return placed

    if submit(form, action, place=place):
        if publishing:
            flash(_("%(version)s saved and published: in force from %(moment)s.", version=str(version),
                    moment=local_input(version.effective_from).replace("T", " ")), "success")
        else:
            flash(_("Draft %(version)s saved.", version=str(version)), "success")
        return htmx_redirect(url_for("commissions.show_rules", version_id=version.id))
    return _form_page(_visible(version_id), form, levels, overrides, rewards,
                      status=getattr(form, "error_status", None) or 422)


# --- the simulator ---------------------------------------------------------------------------------

LINE_FIELDS = {"product_id": _l("product"), "quantity": _l("quantity"), "discount": _l("discount")}


def _simulator_page(form: SimulatorForm, lines: list[SampleLine], result=None, error: str = "",
                    messages=(), status: int = 200, fragment: str | None = None):
    """The simulator: version, seller, sample lines, and the result (or what was wrong with the input)."""
    current = rules.current_version()
    now = utcnow()
    form.version_id.choices = [("", _("The version in force now (%(version)s)", version=str(current))
                                if current else _("The version in force now (none yet)"))]
    form.version_id.choices += [(str(v.id), f"{v} · {STATE_LABELS[_state(v, current, now)]}")
                                for v in simulator.version_choices(current_user)]
    sellers = simulator.seller_choices(current_user)
    if _hq():
        form.seller_id.choices = [("", _("Choose the seller"))] + [(str(i), name) for i, name in sellers]
    response = render("commissions/rules/simulator.html", fragment, status=status, form=form, lines=lines,
                      result=result, error=error, messages=list(messages), sellers=sellers,
                      products=simulator.product_choices(), max_lines=MAX_SAMPLE_LINES, **_labels(current))
    response.headers["Cache-Control"] = "no-store"
    return response


def _id(value) -> int | str | None:
    """An id from a select: an int when it is one, else the junk itself (the service names it)."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else (value or None)


def _input_errors(form: SimulatorForm, lines: list[SampleLine], exc: DomainError) -> list[tuple[str, str]]:
    """Put the simulator's field errors beside their inputs; return them all as (where, message) for the result."""
    place_line_errors(exc.fields, lines)
    filled = [n for n, row in enumerate(lines, start=1) if not row.blank]
    labels = {"seller_id": form.seller_id.label.text, "version_id": form.version_id.label.text,
              "lines": _("Sample order")}
    messages = []
    for name, found in exc.fields.items():
        if name in ("seller_id", "version_id"):
            field = getattr(form, name)
            field.errors = list(field.errors) + [str(m) for m in found]
        parts = name.split(".")
        if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(filled):
            where = _("Line %(n)s", n=filled[int(parts[1])])
            if len(parts) == 3 and parts[2] in LINE_FIELDS:
                where = f"{where} · {LINE_FIELDS[parts[2]]}"
        else:
            where = str(labels.get(name, name))
        messages.extend((where, str(m)) for m in found)
    return messages


@bp.route("/commissions/simulator", methods=["GET", "POST"])
@require_permission(VIEW)
def simulate():
    """Preview the commission of a sample order under the version in force, a draft or any version; saves nothing."""
    if request.method == "GET":
        form = SimulatorForm(formdata=None, data={"version_id": request.args.get("version", "")})
        return _simulator_page(form, read_sample_lines({}))
    form = SimulatorForm()
    lines = read_sample_lines(request.form, start_blank=0)
    remove = (request.form.get("remove_line") or "").strip()
    if remove or request.form.get("add_line"):
        lines = [row for row in lines if str(row.index) != remove]
        if request.form.get("add_line") and len(lines) < MAX_SAMPLE_LINES:
            lines.append(SampleLine(max((r.index for r in lines), default=-1) + 1))
        return _simulator_page(form, lines, fragment="commissions/rules/_sample_lines.html")
    seller_id = _id(form.seller_id.data) if _hq() else current_user.distributor_id
    try:
        result = simulator.simulate(current_user, seller_id, [row.payload() for row in lines if not row.blank],
                                    version_id=_id(form.version_id.data))
    except DomainError as exc:
        db.session.rollback()
        messages = _input_errors(form, lines, exc)
        return _simulator_page(form, lines, error="" if exc.fields else exc.message, messages=messages,
                               status=exc.status, fragment="commissions/rules/_simulation.html")
    return _simulator_page(form, lines, result=result, fragment="commissions/rules/_simulation.html")
