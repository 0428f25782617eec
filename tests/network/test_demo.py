"""The demo teams: made from the demo network, members joined over the last months, idempotent."""

from sqlalchemy import func, select

from dms.core.jobs import commit
from dms.extensions import db
from dms.network.models import Team, TeamMember


def test_the_demo_teams_are_made_once(app):
    from dms.core.cli import DEMO_SEEDERS
    from dms.distributors.cli import seed_demo_network
    from dms.network.demo import seed_demo_teams

    assert seed_demo_teams in DEMO_SEEDERS
    assert seed_demo_teams() == []  # no demo network yet: nothing to do
    seed_demo_network()
    lines = seed_demo_teams()
    commit()
    assert lines and "3" in lines[0]
    teams = db.session.scalars(select(Team).order_by(Team.name)).all()
    assert len(teams) == 3 and all(len(t.members) == 3 for t in teams)
    assert all(t.leader_id in {m.distributor_id for m in t.members} for t in teams)
    months = {m.joined_at.strftime("%Y-%m") for t in teams for m in t.members}
    assert len(months) > 2  # spread over the last months
    assert seed_demo_teams() == []
    commit()
    assert db.session.scalar(select(func.count(TeamMember.id))) == 9
