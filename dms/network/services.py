"""The network (public interface of the area): reading the upline tree within the actor's scope, moving a
distributor under a new upline from a date on, and teams (团队) with their members.

The tree is effective-dated (`dms.distributors.upline_history`): a move never rewrites the past, so a
commission computed for an order reads the upline in force when the order completed. A move takes effect
now (today) or at the start of a later business day; `apply_due_moves` (daily) then brings the cached
`Distributor.upline_id` up to date. Loops are refused at the move's moment and at every later scheduled one.

Reading needs network.view: HQ (scope.all_distributors) sees every distributor and team, a distributor's
user its own node and its downline as of now, and the teams it leads or belongs to; anything else is
NotFound. Changes need distributors.manage with HQ scope. Services flush, never commit.
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from dms.core import audit
from dms.core.errors import Conflict, Forbidden, NotFound, ValidationError
from dms.core.listing import contains_pattern
from dms.core.locks import lock_subject
from dms.core.periods import business_date, month_bounds_utc, month_of, previous_month, utc_start
from dms.core.rows import is_row_id
from dms.core.scope import HQ_SCOPE
from dms.core.time import business_today, utcnow
from dms.distributors.models import Distributor, UplineLink
from dms.distributors.upline_history import in_force, link_upline, loop_moment, upline_at, uplines_at
from dms.extensions import db
from dms.network import volumes
from dms.network.models import Team, TeamMember

VIEW = "network.view"
MANAGE = "distributors.manage"
MAX_LEVEL = 9
REASON_LIMIT = 255
SEARCH_LIMIT = 20


def _require_view(actor) -> None:
    """Forbidden unless the actor (None: the system) may view the network."""
    if actor is not None and not actor.can(VIEW):
        raise Forbidden()


def require_manage(actor) -> None:
    """Forbidden unless the actor (None: the system) is HQ staff holding distributors.manage."""
    if actor is not None and not (actor.can(MANAGE) and actor.can(HQ_SCOPE)):
        raise Forbidden()


def can_manage(actor) -> bool:
    """Whether the actor may move distributors and change teams."""
    return actor.can(MANAGE) and actor.can(HQ_SCOPE)


def _id(value) -> int | None:
    """A positive 32-bit id from an int or a string of digits, else None."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value.strip()) < 11:
        value = int(value.strip())
    return value if is_row_id(value) else None


# --- scope: who sees which part of the tree --------------------------------------------------------------

def visible_ids(actor) -> set[int] | None:
    """The distributor ids the actor may see in the network: None for all (HQ, the system), else its own
    node and its downline as of now (empty for a user of no distributor)."""
    _require_view(actor)
    if actor is None or actor.can(HQ_SCOPE):
        return None
    own = getattr(actor, "distributor_id", None)
    if own is None:
        return set()
    return {own, *volumes.downline_ids(own, utcnow())}


def by_name(distributors) -> list[Distributor]:
    """Distributors in the order people read them: by the name shown (a company's name for a company)."""
    return sorted(distributors, key=lambda d: (d.display_name, d.id))


def get_node(actor, distributor_id) -> Distributor:
    """A distributor in the actor's part of the network; NotFound for an unknown or foreign one."""
    visible = visible_ids(actor)
    distributor_id = _id(distributor_id)
    if distributor_id is None or (visible is not None and distributor_id not in visible):
        raise NotFound()
    distributor = db.session.get(Distributor, distributor_id)
    if distributor is None:
        raise NotFound()
    return distributor


# --- reading the tree -------------------------------------------------------------------------------------

@dataclass
class Node:
    """One distributor of a tree level with its figures for a month."""

    distributor: Distributor
    personal_volume: Decimal
    team_volume: Decimal
    direct_downlines: int
    downlines: int


def period_bounds(first: date) -> tuple[datetime, datetime, datetime]:
    """[start, end) of the month and the moment its team volumes read the tree at (its end, or now if sooner)."""
    start, end = month_bounds_utc(first)
    return start, end, min(end, utcnow())


def nodes(distributors: list[Distributor], first: date) -> list[Node]:
    """The distributors with their month's figures, in four queries whatever their number."""
    start, end, at = period_bounds(first)
    ids = [d.id for d in distributors]
    personal = volumes.personal_volumes(ids, start, end)
    team = volumes.team_volumes(ids, start, end, at=at)
    direct = volumes.direct_downline_counts(ids, utcnow())
    below = volumes.downline_counts(ids, utcnow())
    return [Node(d, personal[d.id], team[d.id], direct[d.id], below[d.id]) for d in distributors]


def roots(actor) -> list[Distributor]:
    """The top of the actor's tree now: for HQ the distributors without an upline, for a distributor itself."""
    visible = visible_ids(actor)
    if visible is not None:
        own = getattr(actor, "distributor_id", None)
        return [d for d in [db.session.get(Distributor, own)] if d is not None] if own else []
    with_upline = select(UplineLink.distributor_id).where(in_force(utcnow()), UplineLink.upline_id.is_not(None))
    return by_name(db.session.scalars(select(Distributor).where(Distributor.id.not_in(with_upline))))


def children(actor, parent: Distributor) -> list[Distributor]:
    """The direct downlines of a node the actor may see, now, by name (the parent is checked first)."""
    get_node(actor, parent.id)
    stmt = (select(Distributor).join(UplineLink, UplineLink.distributor_id == Distributor.id)
            .where(UplineLink.upline_id == parent.id, in_force(utcnow())))
    return by_name(db.session.scalars(stmt))


def chain_of(actor, distributor: Distributor, at: datetime | None = None) -> list[Distributor]:
    """The distributor's uplines at `at` (now), nearest first, in two queries; for a distributor's user the
    chain stops at its own node (what lies above is not its to see)."""
    visible = visible_ids(actor)
    ups = uplines_at(at or utcnow())
    chain: list[int] = []
    node = ups.get(distributor.id)
    while node is not None and node not in chain and node != distributor.id and len(chain) < volumes.MAX_DEPTH:
        if visible is not None and node not in visible:
            break
        chain.append(node)
        node = ups.get(node)
    found = {d.id: d for d in db.session.scalars(select(Distributor).where(Distributor.id.in_(chain or [-1])))}
    return [found[i] for i in chain if i in found]


@dataclass
class Found:
    """A distributor found by a search, with the path to it from the top of the actor's tree."""

    distributor: Distributor
    path: list[Distributor] = field(default_factory=list)


def search(actor, text: str, limit: int = SEARCH_LIMIT) -> list[Found]:
    """Distributors of the actor's tree whose name or company name contains `text`, each with its path."""
    visible = visible_ids(actor)
    text = (text or "").strip()[:50]
    if not text:
        return []
    pattern = contains_pattern(text)
    stmt = select(Distributor).where(or_(Distributor.name.ilike(pattern, escape="\\"),
                                         Distributor.company_name.ilike(pattern, escape="\\")))
    if visible is not None:
        stmt = stmt.where(Distributor.id.in_(visible or [-1]))
    found = by_name(db.session.scalars(stmt.order_by(Distributor.name, Distributor.id).limit(limit)))
    ups = uplines_at(utcnow())
    paths = {d.id: _path(d.id, ups, visible) for d in found}
    wanted = {i for path in paths.values() for i in path}
    names = {d.id: d for d in db.session.scalars(select(Distributor).where(Distributor.id.in_(wanted or [-1])))}
    return [Found(d, [names[i] for i in paths[d.id] if i in names]) for d in found]


def _path(distributor_id: int, ups: dict, visible: set | None) -> list[int]:
    """The uplines from the top of the visible tree down to (not including) the distributor."""
    path: list[int] = []
    node = ups.get(distributor_id)
    while node is not None and node not in path and node != distributor_id and len(path) < volumes.MAX_DEPTH:
        if visible is not None and node not in visible:
            break
        path.append(node)
        node = ups.get(node)
    return path[::-1]


# --- the upline history and moves -------------------------------------------------------------------------

def history(actor, distributor: Distributor) -> list[UplineLink]:
    """The distributor's upline links, latest first (scheduled ones included)."""
    get_node(actor, distributor.id)
    return list(db.session.scalars(select(UplineLink).where(UplineLink.distributor_id == distributor.id)
                                   .order_by(UplineLink.effective_from.desc(), UplineLink.id.desc())))


def scheduled_move(distributor_id: int, now: datetime | None = None) -> UplineLink | None:
    """The distributor's move that has not taken effect yet, if one is scheduled."""
    return db.session.scalar(select(UplineLink).where(UplineLink.distributor_id == distributor_id,
                                                      UplineLink.effective_from > (now or utcnow()))
                             .order_by(UplineLink.effective_from).limit(1))


def _refuse_loops(distributor_id: int, upline_id: int | None, start: datetime, end: datetime | None,
                  message) -> None:
    """ValidationError when `upline_id` over [start, end) would make a loop (see upline_history.loop_moment)."""
    moment = loop_moment(distributor_id, upline_id, start, end)
    if moment is not None:
        raise ValidationError(message(moment), fields={"upline_id": [message(moment)]})


def _day(moment: datetime) -> str:
    """The business day of a moment, as people read it (2026-05-01)."""
    return business_date(moment).isoformat()


def _clean_move(distributor: Distributor, upline_id, effective_on, reason) -> tuple[Distributor | None, str]:
    """The new upline (None: a root) and the reason; ValidationError naming every bad field at once."""
    errors: dict[str, list] = {}
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        errors["reason"] = [_("Give the reason for the move.")]
    elif len(reason) > REASON_LIMIT:
        errors["reason"] = [_("At most %(n)d characters.", n=REASON_LIMIT)]
    if not isinstance(effective_on, date) or isinstance(effective_on, datetime):
        errors["effective_on"] = [_("A date such as 2026-05-01.")]
    elif effective_on < business_today():
        errors["effective_on"] = [_("A move takes effect today or later: commissions already accrued used the "
                                    "network as it stood.")]
    upline = None
    if upline_id not in (None, ""):
        upline = db.session.get(Distributor, _id(upline_id)) if _id(upline_id) else None
        if upline is None:
            errors["upline_id"] = [_("Choose an existing distributor.")]
        elif upline.status == "terminated":
            errors["upline_id"] = [_("A terminated distributor cannot be an upline.")]
        elif upline.id == distributor.id:
            errors["upline_id"] = [_("A distributor cannot be its own upline.")]
    if errors:
        raise ValidationError(fields=errors)
    return upline, reason


def move_distributor(actor, distributor: Distributor, upline_id, effective_on: date, reason: str) -> UplineLink:
    """Put the distributor under `upline_id` (None: make it a root) from `effective_on` on: today takes effect
    now, a later day at that business day's start. Raises ValidationError (reason, date, upline, a loop then
    or at a later scheduled move), Conflict (terminated, or a move already scheduled), Forbidden."""
    require_manage(actor)
    upline, reason = _clean_move(distributor, upline_id, effective_on, reason)
    if distributor.status == "terminated":
        raise Conflict(_("A terminated distributor cannot be moved."))
    lock_subject("upline_links", 0)  # moves serialise: two concurrent ones could close a loop together
    now = utcnow()
    at = now if effective_on == business_today() else utc_start(effective_on)
    pending = scheduled_move(distributor.id, now)
    if pending is not None and at > now:
        message = _("A move of %(name)s is already scheduled for %(day)s: cancel it first.",
                    name=distributor.display_name, day=_day(pending.effective_from))
        raise Conflict(message, fields={"effective_on": [message]})
    new_id = upline.id if upline else None
    before = upline_at(distributor.id, at)
    if before == new_id:
        raise ValidationError(fields={"upline_id": [_("This is already the upline on that day.")]})
    name = upline.display_name if upline else ""

    def loop(moment):
        if moment == at:
            return _("This would make a loop: %(upline)s is in the downline of %(name)s.", upline=name,
                     name=distributor.display_name)
        return _("This would make a loop on %(day)s, when a move scheduled for that day takes effect.",
                 day=_day(moment))

    _refuse_loops(distributor.id, new_id, at, pending.effective_from if pending else None, loop)
    link = link_upline(distributor, new_id, at=at, actor=actor, note=reason)
    if at <= now:
        distributor.upline = upline
    db.session.flush()
    audit.record("network.move", "distributor", distributor.id,
                 _("Moved from %(day)s on: %(reason)s", day=effective_on.isoformat(), reason=reason),
                 {"upline_id": [before, new_id], "effective_from": [None, link.effective_from.isoformat()]},
                 actor=actor)
    return link


def get_scheduled_move(actor, link_id) -> UplineLink:
    """A link (a move) of a distributor the actor may see; NotFound otherwise."""
    link = db.session.get(UplineLink, _id(link_id)) if _id(link_id) else None
    if link is None:
        raise NotFound()
    get_node(actor, link.distributor_id)
    return link


def cancel_scheduled_move(actor, link: UplineLink) -> None:
    """Cancel a move that has not taken effect: the link before it runs on. Conflict once it is in force, or
    when going back would make a loop with a move scheduled later."""
    require_manage(actor)
    lock_subject("upline_links", 0)
    if link.effective_from <= utcnow():
        raise Conflict(_("This move has taken effect already: move the distributor again instead."))
    previous = db.session.scalar(select(UplineLink).where(UplineLink.distributor_id == link.distributor_id,
                                                          UplineLink.effective_to == link.effective_from))
    restored = previous.upline_id if previous else None

    def loop(moment):
        return _("Cancelling would make a loop on %(day)s with a move scheduled later: cancel that one first.",
                 day=_day(moment))

    try:
        _refuse_loops(link.distributor_id, restored, link.effective_from, link.effective_to, loop)
    except ValidationError as exc:
        raise Conflict(exc.message) from None
    if previous is not None:
        previous.effective_to = link.effective_to
    audit.record("network.move_cancel", "distributor", link.distributor_id,
                 _("Cancelled the move scheduled for %(day)s", day=_day(link.effective_from)),
                 {"upline_id": [link.upline_id, restored], "effective_from": [link.effective_from.isoformat(), None]},
                 actor=actor)
    db.session.delete(link)
    db.session.flush()


def apply_due_moves(now: datetime | None = None) -> int:
    """Set every distributor's cached upline to the link in force now (idempotent); the number changed."""
    now = now or utcnow()
    rows = db.session.execute(select(Distributor, UplineLink.upline_id)
                              .join(UplineLink, UplineLink.distributor_id == Distributor.id)
                              .where(in_force(now), Distributor.upline_id.is_distinct_from(UplineLink.upline_id)))
    changed = 0
    for distributor, upline_id in rows.all():
        before = distributor.upline_id
        distributor.upline = db.session.get(Distributor, upline_id) if upline_id else None
        audit.record("network.move_applied", "distributor", distributor.id, _("A scheduled move took effect"),
                     {"upline_id": [before, upline_id]}, actor=None)
        changed += 1
    db.session.flush()
    return changed


# --- teams ------------------------------------------------------------------------------------------------

def teams_query(actor):
    """A select of the teams the actor may see: all for HQ, else those its distributor leads or belongs to."""
    _require_view(actor)
    stmt = select(Team)
    if actor is None or actor.can(HQ_SCOPE):
        return stmt
    own = getattr(actor, "distributor_id", None)
    if own is None:
        return stmt.where(Team.id.is_(None))
    member_of = select(TeamMember.team_id).where(TeamMember.distributor_id == own, TeamMember.left_at.is_(None))
    return stmt.where(or_(Team.leader_id == own, Team.id.in_(member_of)))


def get_team(actor, team_id) -> Team:
    """One team the actor may see; NotFound otherwise."""
    team_id = _id(team_id)
    team = db.session.scalar(teams_query(actor).where(Team.id == team_id)) if team_id else None
    if team is None:
        raise NotFound()
    return team


def member_counts(team_ids) -> dict[int, int]:
    """{team id: number of current members}, in one query."""
    ids = list(team_ids)
    counts = dict.fromkeys(ids, 0)
    if ids:
        counts.update(dict(db.session.execute(
            select(TeamMember.team_id, func.count()).where(TeamMember.team_id.in_(ids), TeamMember.left_at.is_(None))
            .group_by(TeamMember.team_id)).all()))
    return counts


def team_of(distributor_id: int) -> Team | None:
    """The team the distributor belongs to now, if any."""
    return db.session.scalar(select(Team).join(TeamMember, TeamMember.team_id == Team.id)
                             .where(TeamMember.distributor_id == distributor_id, TeamMember.left_at.is_(None)))


def team_choices(exclude_id: int | None = None) -> list[tuple[int, str]]:
    """(id, name) of every team, by name, for the move-member select."""
    return [(t.id, t.name) for t in db.session.scalars(select(Team).order_by(Team.name)) if t.id != exclude_id]


def distributor_choices(text: str = "", *, exclude_id: int | None = None, free: bool = False,
                        active_only: bool = False, limit: int = 200) -> list[tuple[int, str]]:
    """(id, name) of distributors that are not terminated, matching `text`, for HQ's selects: `free` leaves out
    those already in a team, `active_only` the suspended ones."""
    stmt = select(Distributor).where(Distributor.status != "terminated")
    if active_only:
        stmt = stmt.where(Distributor.status == "active")
    text = (text or "").strip()[:50]
    if text:
        pattern = contains_pattern(text)
        stmt = stmt.where(or_(Distributor.name.ilike(pattern, escape="\\"),
                              Distributor.company_name.ilike(pattern, escape="\\")))
    if free:
        stmt = stmt.where(Distributor.id.not_in(select(TeamMember.distributor_id).where(TeamMember.left_at.is_(None))))
    if exclude_id is not None:
        stmt = stmt.where(Distributor.id != exclude_id)
    rows = db.session.scalars(stmt.order_by(Distributor.name, Distributor.id).limit(limit))
    return [(d.id, d.display_name) for d in by_name(rows)]


def _clean_team(data: dict, team: Team | None = None) -> dict:
    """Name (unique), leader (an active distributor), level (1 to 9) and note; ValidationError or Conflict."""
    errors: dict[str, list] = {}
    name = data.get("name")
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 80:
        errors["name"] = [_("A name of 1 to 80 characters.")]
    leader = db.session.get(Distributor, _id(data.get("leader_id"))) if _id(data.get("leader_id")) else None
    if leader is None or leader.status != "active":
        errors["leader_id"] = [_("Choose an active distributor as the leader.")]
    level = _id(data.get("level"))
    if level is None or level > MAX_LEVEL:
        errors["level"] = [_("A level from 1 to %(n)d.", n=MAX_LEVEL)]
    note = data.get("note")
    note = note.strip() if isinstance(note, str) else ""
    if len(note) > 255:
        errors["note"] = [_("At most %(n)d characters.", n=255)]
    if errors:
        raise ValidationError(fields=errors)
    taken = db.session.scalar(select(Team).where(func.lower(Team.name) == name.lower(),
                                                 Team.id != (team.id if team else -1)))
    if taken is not None:
        message = _("A team named %(name)s already exists.", name=taken.name)
        raise Conflict(message, fields={"name": [message]}, code="duplicate")
    return {"name": name, "leader_id": leader.id, "level": level, "note": note}


def _snapshot(team: Team) -> dict:
    """The audited fields of a team."""
    return {"name": team.name, "leader_id": team.leader_id, "level": team.level, "note": team.note}


def _flush_unique(message: str, field_name: str) -> None:
    """Flush; a unique index that a concurrent transaction filled first becomes a Conflict (the request then
    rolls back whole, so no savepoint is needed)."""
    try:
        db.session.flush()
    except IntegrityError as exc:
        raise Conflict(message, fields={field_name: [message]}, code="duplicate") from exc


def create_team(actor, data: dict) -> Team:
    """Create a team; with `add_leader` the leader also joins it as its first member (raises like add_member)."""
    require_manage(actor)
    cleaned = _clean_team(data)
    team = Team(**cleaned, created_by_id=getattr(actor, "id", None))
    db.session.add(team)
    _flush_unique(_("A team named %(name)s already exists.", name=cleaned["name"]), "name")
    audit.record("team.create", "team", team.id, team.name, audit.diff({}, _snapshot(team)), actor=actor)
    if data.get("add_leader"):
        add_member(actor, team, team.leader_id)
    return team


def update_team(actor, team: Team, data: dict) -> Team:
    """Rename a team, change its leader, level or note; raises ValidationError or Conflict (a taken name)."""
    require_manage(actor)
    cleaned = _clean_team(data, team)
    before = _snapshot(team)
    for key, value in cleaned.items():
        setattr(team, key, value)
    _flush_unique(_("A team named %(name)s already exists.", name=cleaned["name"]), "name")
    db.session.expire(team, ["leader"])
    changes = audit.diff(before, _snapshot(team))
    if changes:
        audit.record("team.update", "team", team.id, team.name, changes, actor=actor)
    return team


def _member(distributor_id) -> Distributor:
    """The distributor to add or move; ValidationError naming distributor_id for an unknown one."""
    distributor = db.session.get(Distributor, _id(distributor_id)) if _id(distributor_id) else None
    if distributor is None:
        raise ValidationError(fields={"distributor_id": [_("Choose an existing distributor.")]})
    return distributor


def _open_membership(distributor_id: int) -> TeamMember | None:
    """The distributor's current membership of any team."""
    return db.session.scalar(select(TeamMember).where(TeamMember.distributor_id == distributor_id,
                                                      TeamMember.left_at.is_(None)))


def add_member(actor, team: Team, distributor_id, at: datetime | None = None) -> TeamMember:
    """Add a distributor to the team; Conflict naming its team when it already belongs to one."""
    require_manage(actor)
    distributor = _member(distributor_id)
    if distributor.status == "terminated":
        raise ValidationError(fields={"distributor_id": [_("A terminated distributor cannot join a team.")]})
    current = _open_membership(distributor.id)
    if current is not None:
        if current.team_id == team.id:
            message = _("%(name)s is already a member of this team.", name=distributor.display_name)
        else:
            message = _("%(name)s is already a member of the team %(team)s: move them from there instead.",
                        name=distributor.display_name, team=current.team.name)
        raise Conflict(message, fields={"distributor_id": [message]})
    member = TeamMember(team_id=team.id, distributor_id=distributor.id, joined_at=at or utcnow())
    db.session.add(member)
    _flush_unique(_("%(name)s joined another team at the same time.", name=distributor.display_name),
                  "distributor_id")
    audit.record("team.member_add", "team", team.id, _("%(name)s joined", name=distributor.display_name),
                 {"member": [None, distributor.id]}, actor=actor)
    db.session.expire(team, ["members"])
    return member


def _membership_in(team: Team, distributor_id) -> TeamMember:
    """The distributor's current membership of this team; NotFound when it is not a member."""
    member = db.session.scalar(select(TeamMember).where(TeamMember.team_id == team.id,
                                                        TeamMember.distributor_id == _id(distributor_id),
                                                        TeamMember.left_at.is_(None))) if _id(distributor_id) else None
    if member is None:
        raise NotFound(_("This distributor is not a member of the team."))
    return member


def remove_member(actor, team: Team, distributor_id) -> TeamMember:
    """End a distributor's membership of the team now; NotFound when it is not a member."""
    require_manage(actor)
    member = _membership_in(team, distributor_id)
    member.left_at = utcnow()
    db.session.flush()
    audit.record("team.member_remove", "team", team.id, _("%(name)s left", name=member.distributor.display_name),
                 {"member": [member.distributor_id, None]}, actor=actor)
    db.session.expire(team, ["members"])
    return member


def move_member(actor, team: Team, distributor_id, to_team_id) -> TeamMember:
    """Move a member to another team in one step (leaves this one and joins that one at the same moment)."""
    require_manage(actor)
    member = _membership_in(team, distributor_id)
    target = db.session.get(Team, _id(to_team_id)) if _id(to_team_id) else None
    if target is None or target.id == team.id:
        raise ValidationError(fields={"to_team_id": [_("Choose another team.")]})
    now = utcnow()
    member.left_at = now
    db.session.flush()
    moved = TeamMember(team_id=target.id, distributor_id=member.distributor_id, joined_at=now)
    db.session.add(moved)
    _flush_unique(_("%(name)s joined another team at the same time.", name=member.distributor.display_name),
                  "distributor_id")
    audit.record("team.member_move", "team", target.id,
                 _("%(name)s moved from %(old)s to %(new)s", name=member.distributor.display_name, old=team.name,
                   new=target.name), {"member": [None, member.distributor_id], "team": [team.id, target.id]},
                 actor=actor)
    db.session.expire(team, ["members"])
    db.session.expire(target, ["members"])
    return moved


@dataclass
class TeamFigures:
    """A team's month: each member's personal volume, their sum, the leader's downline volume, newcomers."""

    members: list[tuple[TeamMember, Decimal]]
    team_volume: Decimal
    leader_team_volume: Decimal
    new_members: list[tuple[date, int]]


def new_members_by_month(team_id: int, months: list[date]) -> list[tuple[date, int]]:
    """[(month, number of members who joined the team in it)] for consecutive months, in one query."""
    if not months:
        return []
    start, end = month_bounds_utc(months[0])[0], month_bounds_utc(months[-1])[1]
    joined = db.session.scalars(select(TeamMember.joined_at).where(
        TeamMember.team_id == team_id, TeamMember.joined_at >= start, TeamMember.joined_at < end))
    counts = dict.fromkeys(months, 0)
    for moment in joined:
        counts[month_of(moment)] = counts.get(month_of(moment), 0) + 1
    return [(m, counts[m]) for m in months]


def last_months(first: date, n: int = 6) -> list[date]:
    """The `n` months ending with the month starting on `first`, oldest first."""
    months = [first]
    while len(months) < n:
        months.insert(0, previous_month(months[0]))
    return months


def team_figures(team: Team, first: date) -> TeamFigures:
    """The team's figures for the month starting on `first`, in a fixed number of queries."""
    start, end, at = period_bounds(first)
    members = list(team.members)
    personal = volumes.personal_volumes([m.distributor_id for m in members], start, end)
    leader = volumes.team_volumes([team.leader_id], start, end, at=at)[team.leader_id]
    total = sum((personal[m.distributor_id] for m in members), volumes.ZERO)
    return TeamFigures(members=[(m, personal[m.distributor_id]) for m in members], team_volume=total,
                       leader_team_volume=leader, new_members=new_members_by_month(team.id, last_months(first)))

