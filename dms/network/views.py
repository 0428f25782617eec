"""Network pages: the expandable upline tree with each node's month figures, a distributor's network page
(upline history, chain, scheduled move, the move form), and teams (list, form, detail with members).

Every page needs network.view; routes with an id load the row through the services' scope first, so a
foreign or unknown one answers 404 before anything else (DESIGN.md §9). Changes need distributors.manage
with HQ scope (403 otherwise). A bad ?period= shows the page for this month with the error, status 400.
Forms are re-shown with their errors in place (400/422, 409 for a conflict); each request commits once.
"""

from datetime import date

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from dms.core.auth import require_permission
from dms.core.errors import BadRequest, ValidationError
from dms.core.forms import form_status, submit
from dms.core.listing import paginate_list
from dms.core.periods import current_month, month_name, parse_month
from dms.core.render import htmx_redirect, is_htmx, render
from dms.core.scope import HQ_SCOPE
from dms.core.time import business_today, utcnow
from dms.distributors.models import Distributor
from dms.distributors.services import level_label, status_label
from dms.network import bp, services
from dms.network.forms import ConfirmForm, MemberForm, MoveForm, MoveMemberForm, TeamForm
from dms.network.models import Team

VIEW = services.VIEW
STATUS_TAGS = {"active": "ok", "suspended": "retrying", "terminated": "off"}
# The selects the distributor search box may redraw: field -> (blank option, only free ones, only active ones).
OPTION_FIELDS = {"upline_id": ("none", False, False), "leader_id": ("choose", False, True),
                 "distributor_id": ("choose", True, False)}


def _period() -> tuple[date, str]:
    """The month of ?period= (this month by default) and the error message of a malformed one."""
    raw = request.args.get("period", "")
    if not raw.strip():
        return current_month(), ""
    try:
        return parse_month(raw), ""
    except ValidationError as exc:
        return current_month(), " ".join(str(m) for m in exc.fields.get("period", [exc.message]))


def _labels(first: date) -> dict:
    """What every network template needs: the month, labels and the user's powers."""
    return {"period": first, "period_name": month_name(first), "level_label": level_label,
            "status_label": status_label, "status_tags": STATUS_TAGS, "manages": services.can_manage(current_user),
            "hq": current_user.can(HQ_SCOPE)}


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the tree ---------------------------------------------------------------------------------------------

@bp.get("/network")
@require_permission(VIEW)
def tree():
    """The tree: HQ's roots (or a distributor's own node), a node's subtree with ?root=, a search with ?q=."""
    first, error = _period()
    q = (request.args.get("q") or "").strip()[:50]
    root = services.get_node(current_user, request.args["root"]) if request.args.get("root") else None
    return _tree_page(first, error, q, root)


def _tree_page(first: date, error: str, q: str = "", root: Distributor | None = None, fragment=None):
    """The tree page (or its #network-tree fragment): search results, a focused subtree, or the top."""
    results = services.search(current_user, q) if q else None
    expanded, chain = {}, []
    if root is not None:
        top = services.nodes([root], first)
        expanded[root.id] = services.nodes(services.children(current_user, root), first)
        chain = services.chain_of(current_user, root)[::-1]
    else:
        top = services.nodes(services.roots(current_user), first) if results is None else []
    return render("network/tree.html", fragment or "network/_tree.html", status=400 if error else 200,
                  period_error=error, q=q, results=results, top=top, expanded=expanded, root=root, chain=chain,
                  parent=root, kids=expanded.get(root.id, []) if root else [], **_labels(first))


@bp.get("/network/nodes/<int:distributor_id>/children")
@require_permission(VIEW)
def tree_children(distributor_id: int):
    """Fragment #children-<id>: a node's direct downlines with their figures (the page focused on it otherwise)."""
    parent = services.get_node(current_user, distributor_id)
    first, error = _period()
    if error and is_htmx():
        raise BadRequest(error)
    return _tree_page(first, error, root=parent, fragment="network/_children.html")


@bp.get("/network/distributor-options")
@require_permission(VIEW)
def distributor_options():
    """Fragment: a distributor select narrowed by ?q= (HQ's move and team forms); ?field= names the select."""
    services.require_manage(current_user)
    name = request.args.get("field", "")
    if name not in OPTION_FIELDS:
        raise BadRequest()
    blank, free, active = OPTION_FIELDS[name]
    exclude = request.args.get("exclude", "")
    options = services.distributor_choices(request.args.get("q", ""), free=free, active_only=active,
                                           exclude_id=int(exclude) if exclude.isascii() and exclude.isdigit()
                                           and len(exclude) < 10 else None)
    return render("network/_distributor_select.html", "network/_distributor_select.html", name=name,
                  options=options, blank=_blank_label(blank))


def _blank_label(kind: str) -> str:
    return _("No upline (top of the network)") if kind == "none" else _("Choose a distributor")


def _choices(options, blank: str | None) -> list[SelectChoice]:
    """Select options from (id, label) pairs, after a blank first option when `blank` is given."""
    return ([SelectChoice("", blank)] if blank is not None else []) + [SelectChoice(str(i), label)
                                                                        for i, label in options]


# --- a distributor's network page and moves ---------------------------------------------------------------

def _network_page(distributor: Distributor, move_form: MoveForm | None = None, cancel_form=None, status=None):
    """The distributor's network: chain of uplines, downlines, upline history, scheduled move, move form."""
    first, error = _period()
    move_form = move_form or MoveForm(formdata=None, effective_on=business_today(),
                                      upline_id=str(distributor.upline_id or ""))
    move_form.upline_id.choices = _choices(services.distributor_choices(exclude_id=distributor.id),
                                           _blank_label("none"))
    shown = [f for f in (move_form, cancel_form) if f is not None]
    node = services.nodes([distributor], first)[0]
    response = render(
        "network/distributor.html", status=status or (400 if error else form_status(*shown, invalid=422)),
        distributor=distributor, node=node, chain=services.chain_of(current_user, distributor),
        kids=services.nodes(services.children(current_user, distributor), first),
        links=services.history(current_user, distributor), scheduled=services.scheduled_move(distributor.id),
        team=services.team_of(distributor.id), move_form=move_form, now=utcnow(),
        visible=services.visible_ids(current_user),
        cancel_form=cancel_form or ConfirmForm(formdata=None), period_error=error, today=business_today(),
        **_labels(first))
    return _no_store(response)


@bp.get("/network/distributors/<int:distributor_id>")
@require_permission(VIEW)
def distributor_network(distributor_id: int):
    """A distributor's place in the network: uplines, downlines with figures, upline history, scheduled move."""
    return _network_page(services.get_node(current_user, distributor_id))


@bp.post("/network/distributors/<int:distributor_id>/move")
@require_permission(VIEW)
def move_distributor(distributor_id: int):
    """Move the distributor under a new upline from a day on (today or later), with the reason."""
    distributor = services.get_node(current_user, distributor_id)
    services.require_manage(current_user)
    form = MoveForm()
    form.upline_id.choices = _choices(services.distributor_choices(exclude_id=distributor.id), _blank_label("none"))
    link = submit(form, lambda: services.move_distributor(current_user, distributor, form.upline_id.data or None,
                                                          form.effective_on.data, form.reason.data))
    if link:
        if link.effective_from > utcnow():
            flash(_("The move is scheduled: it takes effect on %(day)s.",
                    day=form.effective_on.data.isoformat()), "success")
        else:
            flash(_("%(name)s has moved.", name=distributor.display_name), "success")
        return htmx_redirect(url_for("network.distributor_network", distributor_id=distributor.id))
    return _network_page(services.get_node(current_user, distributor_id), move_form=form)


@bp.post("/network/moves/<int:link_id>/cancel")
@require_permission(VIEW)
def cancel_move(link_id: int):
    """Cancel a scheduled move (confirmed in the browser); 409 once it has taken effect."""
    link = services.get_scheduled_move(current_user, link_id)
    services.require_manage(current_user)
    distributor_id = link.distributor_id
    form = ConfirmForm()
    if submit(form, lambda: services.cancel_scheduled_move(current_user, link)):
        flash(_("The scheduled move is cancelled."), "success")
        return htmx_redirect(url_for("network.distributor_network", distributor_id=distributor_id))
    return _network_page(services.get_node(current_user, distributor_id), cancel_form=form)


# --- teams ------------------------------------------------------------------------------------------------

@bp.get("/network/teams")
@require_permission(VIEW)
def list_teams():
    """Teams: search by team or leader name, sorted, paged (a distributor sees the teams it leads or is in)."""
    stmt = services.teams_query(current_user).join(Distributor, Distributor.id == Team.leader_id)
    page = paginate_list(stmt, search=(Team.name, Distributor.name, Distributor.company_name),
                         sorts={"name": Team.name, "level": Team.level, "created": Team.id}, default_sort="name")
    return render("network/teams.html", "network/_teams_table.html", page=page,
                  counts=services.member_counts([t.id for t in page.items]), **_labels(current_month()))


def _team_form_page(form: TeamForm, team: Team | None):
    form.leader_id.choices = _choices(services.distributor_choices(active_only=True), _("Choose a distributor"))
    return _no_store(render("network/team_form.html", status=form_status(form, invalid=422), form=form, team=team,
                            **_labels(current_month())))


def _team_data(form: TeamForm) -> dict:
    return {"name": form.name.data or "", "leader_id": form.leader_id.data, "level": form.level.data,
            "note": form.note.data or "", "add_leader": form.add_leader.data}


@bp.route("/network/teams/new", methods=["GET", "POST"])
@require_permission(VIEW)
def new_team():
    """Create a team: a unique name, an active leader, a level from 1 to 9."""
    services.require_manage(current_user)
    form = TeamForm()
    team = submit(form, lambda: services.create_team(current_user, _team_data(form)))
    if team:
        flash(_("Team %(name)s created.", name=team.name), "success")
        return htmx_redirect(url_for("network.show_team", team_id=team.id))
    return _team_form_page(form, None)


@bp.route("/network/teams/<int:team_id>/edit", methods=["GET", "POST"])
@require_permission(VIEW)
def edit_team(team_id: int):
    """Rename a team or change its leader, level or note."""
    team = services.get_team(current_user, team_id)
    services.require_manage(current_user)
    if request.method == "GET":
        form = TeamForm(formdata=None, name=team.name, leader_id=str(team.leader_id), level=str(team.level),
                        note=team.note)
    else:
        form = TeamForm()
    if submit(form, lambda: services.update_team(current_user, team, _team_data(form))):
        flash(_("Changes saved."), "success")
        return htmx_redirect(url_for("network.show_team", team_id=team.id))
    return _team_form_page(form, services.get_team(current_user, team_id))


def _team_page(team: Team, member_form=None, move_form=None, remove_form=None):
    """The team: members with their month's volume, team volume, the leader's downline volume, newcomers."""
    first, error = _period()
    shown = [f for f in (member_form, move_form, remove_form) if f is not None]
    figures = services.team_figures(team, first)
    member_form = member_form or MemberForm(formdata=None)
    member_form.distributor_id.choices = _choices(services.distributor_choices(free=True), _("Choose a distributor"))
    move_form = move_form or MoveMemberForm(formdata=None)
    move_form.distributor_id.choices = _choices([(m.distributor_id, m.distributor.display_name)
                                                 for m, _pv in figures.members], _("Choose a member"))
    move_form.to_team_id.choices = _choices(services.team_choices(exclude_id=team.id), _("Choose a team"))
    response = render("network/team.html", status=400 if error else form_status(*shown, invalid=422), team=team,
                      figures=figures, member_form=member_form, move_form=move_form,
                      remove_form=remove_form or ConfirmForm(formdata=None), period_error=error, **_labels(first))
    return _no_store(response)


@bp.get("/network/teams/<int:team_id>")
@require_permission(VIEW)
def show_team(team_id: int):
    """A team: leader, level, members with their personal volume for the month, volumes, new members."""
    return _team_page(services.get_team(current_user, team_id))


@bp.post("/network/teams/<int:team_id>/members")
@require_permission(VIEW)
def add_team_member(team_id: int):
    """Add a distributor to the team (409 naming its team when it belongs to another one)."""
    team = services.get_team(current_user, team_id)
    services.require_manage(current_user)
    form = MemberForm()
    if submit(form, lambda: services.add_member(current_user, team, form.distributor_id.data)):
        flash(_("Member added."), "success")
        return htmx_redirect(url_for("network.show_team", team_id=team.id))
    return _team_page(services.get_team(current_user, team_id), member_form=form)


@bp.post("/network/teams/<int:team_id>/members/<int:distributor_id>/remove")
@require_permission(VIEW)
def remove_team_member(team_id: int, distributor_id: int):
    """Remove a member from the team (confirmed in the browser); 404 for a distributor not in it."""
    team = services.get_team(current_user, team_id)
    services.require_manage(current_user)
    form = ConfirmForm()
    if submit(form, lambda: services.remove_member(current_user, team, distributor_id)):
        flash(_("Member removed."), "success")
        return htmx_redirect(url_for("network.show_team", team_id=team.id))
    return _team_page(services.get_team(current_user, team_id), remove_form=form)


@bp.post("/network/teams/<int:team_id>/members/move")
@require_permission(VIEW)
def move_team_member(team_id: int):
    """Move one of the team's members to another team in one step."""
    team = services.get_team(current_user, team_id)
    services.require_manage(current_user)
    form = MoveMemberForm()
    moved = submit(form, lambda: services.move_member(current_user, team, form.distributor_id.data,
                                                      form.to_team_id.data))
    if moved:
        flash(_("Member moved to %(team)s.", team=moved.team.name), "success")
        return htmx_redirect(url_for("network.show_team", team_id=team.id))
    return _team_page(services.get_team(current_user, team_id), move_form=form)
