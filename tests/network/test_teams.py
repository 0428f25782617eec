"""Teams: create and edit (unique name, active leader, level 1 to 9), members added, removed and moved with
audit rows, one team at a time, the month's figures and new members per month, who sees which team."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from dms.core.errors import Conflict, Forbidden, NotFound, ValidationError
from dms.core.jobs import commit
from dms.core.models import AuditLog
from dms.core.periods import current_month, month_bounds_utc, previous_month
from dms.core.time import utcnow
from dms.extensions import db
from dms.network import services
from dms.network.models import Team, TeamMember

D = Decimal


def team(actor, leader, name="华南先锋队", level=1, **extra):
    made = services.create_team(actor, {"name": name, "leader_id": leader.id, "level": level, **extra})
    commit()
    return made


def actions(record_type="team"):
    return [e.action for e in db.session.scalars(select(AuditLog).where(AuditLog.record_type == record_type)
                                                  .order_by(AuditLog.id))]


def test_creating_and_editing_a_team_is_audited(hq, tree):
    made = team(hq, tree["A"], note="省内", add_leader=True)
    assert (made.name, made.leader_id, made.level, made.note, made.created_by_id) == (
        "华南先锋队", tree["A"].id, 1, "省内", hq.id)
    assert [m.distributor_id for m in made.members] == [tree["A"].id]
    services.update_team(hq, made, {"name": "华南队", "leader_id": tree["B"].id, "level": "3", "note": "省内"})
    commit()
    assert (made.name, made.leader.id, made.level) == ("华南队", tree["B"].id, 3)
    assert actions() == ["team.create", "team.member_add", "team.update"]
    change = db.session.scalars(select(AuditLog).where(AuditLog.action == "team.update")).one().changes
    assert change == {"name": ["华南先锋队", "华南队"], "leader_id": [tree["A"].id, tree["B"].id], "level": [1, 3]}


def test_a_team_name_is_unique(hq, tree):
    team(hq, tree["A"])
    with pytest.raises(Conflict) as caught:
        services.create_team(hq, {"name": " 华南先锋队 ", "leader_id": tree["B"].id, "level": 1})
    assert "华南先锋队" in caught.value.fields["name"][0]


@pytest.mark.parametrize(("data", "fields"), [
    ({"name": "", "level": 1}, {"name"}),
    ({"name": "x" * 81, "level": 1}, {"name"}),
    ({"name": "队", "level": 0}, {"level"}),
    ({"name": "队", "level": 10}, {"level"}),
    ({"name": "队", "level": "junk"}, {"level"}),
    ({"name": "队", "level": 1, "leader_id": 999999}, {"leader_id"}),
])
def test_a_bad_team_is_refused_field_by_field(hq, tree, data, fields):
    data = {"leader_id": tree["A"].id, **data}
    with pytest.raises(ValidationError) as caught:
        services.create_team(hq, data)
    assert set(caught.value.fields) == fields


def test_the_leader_must_be_active(hq, tree):
    from dms.distributors import services as distributors

    distributors.set_status(None, tree["A"], "suspended", "对账逾期")
    commit()
    with pytest.raises(ValidationError) as caught:
        services.create_team(hq, {"name": "队", "leader_id": tree["A"].id, "level": 1})
    assert list(caught.value.fields) == ["leader_id"]


def test_a_distributor_belongs_to_one_team_at_a_time(hq, tree):
    south, east = team(hq, tree["A"]), team(hq, tree["E"], name="浙江之星")
    services.add_member(hq, south, tree["B"].id)
    commit()
    with pytest.raises(Conflict) as caught:
        services.add_member(hq, east, tree["B"].id)
    assert "华南先锋队" in caught.value.message and tree["B"].display_name in caught.value.message
    db.session.rollback()
    with pytest.raises(Conflict):
        services.add_member(hq, south, tree["B"].id)


def test_removing_and_moving_members(hq, tree):
    south, east = team(hq, tree["A"]), team(hq, tree["E"], name="浙江之星")
    for key in "BCD":
        services.add_member(hq, south, tree[key].id)
    commit()
    removed = services.remove_member(hq, south, tree["C"].id)
    moved = services.move_member(hq, south, tree["D"].id, east.id)
    commit()
    assert removed.left_at is not None
    old = db.session.scalar(select(TeamMember).where(TeamMember.team_id == south.id,
                                                     TeamMember.distributor_id == tree["D"].id))
    assert old.left_at == moved.joined_at and moved.team_id == east.id and moved.left_at is None
    assert [m.distributor_id for m in db.session.get(Team, south.id).members] == [tree["B"].id]
    assert [m.distributor_id for m in db.session.get(Team, east.id).members] == [tree["D"].id]
    assert services.team_of(tree["D"].id).id == east.id and services.team_of(tree["C"].id) is None
    services.add_member(hq, east, tree["C"].id)  # a removed member may join again, any team
    commit()
    assert actions().count("team.member_add") == 4
    assert actions()[-3:] == ["team.member_remove", "team.member_move", "team.member_add"]
    with pytest.raises(NotFound):
        services.remove_member(hq, south, tree["C"].id)
    with pytest.raises(ValidationError):
        services.move_member(hq, south, tree["B"].id, south.id)


def test_team_figures_for_a_month(hq, tree, order):
    first = current_month()
    start = month_bounds_utc(first)[0]
    south = team(hq, tree["A"], add_leader=True)
    services.add_member(hq, south, tree["C"].id)
    commit()
    order(tree["A"], "100.10", start + timedelta(hours=1))
    order(tree["C"], "20.05", start + timedelta(hours=2))
    order(tree["D"], "7.00", start + timedelta(hours=3))  # the leader's downline, not a member
    order(tree["C"], "999.00", start - timedelta(hours=1))  # last month
    figures = services.team_figures(db.session.get(Team, south.id), first)
    assert [(m.distributor_id, pv) for m, pv in figures.members] == [(tree["A"].id, D("100.10")),
                                                                     (tree["C"].id, D("20.05"))]
    assert figures.team_volume == D("120.15")
    assert figures.leader_team_volume == D("127.15")
    assert [m for m, _n in figures.new_members][-1] == first and len(figures.new_members) == 6
    assert figures.new_members[-1][1] == 2 and sum(n for _m, n in figures.new_members) == 2


def test_new_members_per_month(hq, tree):
    south = team(hq, tree["A"])
    this, last = current_month(), previous_month(current_month())
    services.add_member(hq, south, tree["B"].id, at=month_bounds_utc(last)[0] + timedelta(hours=5))
    services.add_member(hq, south, tree["C"].id, at=utcnow())
    commit()
    assert services.new_members_by_month(south.id, [last, this]) == [(last, 1), (this, 1)]


def test_team_changes_need_hq_and_a_distributor_sees_only_its_teams(hq, tree, make_user):
    south, east = team(hq, tree["A"]), team(hq, tree["E"], name="浙江之星")
    services.add_member(hq, south, tree["B"].id)
    commit()
    member = make_user("distributor", distributor_id=tree["B"].id)
    leader = make_user("distributor", distributor_id=tree["A"].id)
    outsider = make_user("distributor", distributor_id=tree["D"].id)
    assert [t.id for t in db.session.scalars(services.teams_query(member))] == [south.id]
    assert [t.id for t in db.session.scalars(services.teams_query(leader))] == [south.id]
    assert list(db.session.scalars(services.teams_query(outsider))) == []
    assert {t.id for t in db.session.scalars(services.teams_query(hq))} == {south.id, east.id}
    with pytest.raises(NotFound):
        services.get_team(member, east.id)
    with pytest.raises(Forbidden):
        services.add_member(member, south, tree["C"].id)
    with pytest.raises(Forbidden):
        services.create_team(leader, {"name": "自建", "leader_id": tree["A"].id, "level": 1})
