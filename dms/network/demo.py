"""Demo teams for `flask dms seed-demo`: three teams (团队) made from the demo network of
dms/distributors/cli.py, their members joined over the last months so "new members per month" shows some.

Distributors are found by their region (one demo agent per region); a team is found again by its name, and
a distributor already in a team is left where it is, so a second run changes nothing.
"""

from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from dms.core.cli import DEMO_SEEDERS

# name, level, note, leader's region, [(member's region, joined this many days ago)]
TEAMS = [
    ("华南先锋队", 1, "广东省内市县代理", "440100", [("440100", 150), ("440605", 95), ("440606", 20)]),
    ("浙江之星", 2, "杭州及温州片区", "330100", [("330100", 120), ("330302", 60), ("330381", 5)]),
    ("西南拓展队", 2, "成都及周边县区", "510100", [("510100", 80), ("510603", 40), ("510681", 10)]),
]


def _distributor(region_code: str):
    from dms.distributors.models import Distributor
    from dms.extensions import db

    return db.session.scalars(select(Distributor).where(Distributor.region_code == region_code,
                                                        Distributor.status != "terminated")
                              .order_by(Distributor.id)).first()


def seed_demo_teams() -> list[str]:
    """The demo teams with their leaders and members (made once; members joined over the last months)."""
    from dms.core.time import utcnow
    from dms.extensions import db
    from dms.network import services
    from dms.network.models import Team, TeamMember

    made = joined = 0
    now = utcnow()
    for name, level, note, leader_region, members in TEAMS:
        leader = _distributor(leader_region)
        if leader is None or leader.status != "active":
            continue
        team = db.session.scalar(select(Team).where(Team.name == name))
        if team is None:
            team = services.create_team(None, {"name": name, "leader_id": leader.id, "level": level, "note": note})
            team.created_at = now - timedelta(days=max(days for _region, days in members) + 1)
            made += 1
        for region, days in members:
            member = _distributor(region)
            in_team = member is not None and db.session.scalar(select(TeamMember.id).where(
                TeamMember.distributor_id == member.id, TeamMember.left_at.is_(None)))
            if member is None or in_team:
                continue
            services.add_member(None, team, member.id, at=now - timedelta(days=days))
            joined += 1
    db.session.flush()
    if not (made or joined):
        return []
    return [_("Demo teams: %(made)d teams, %(joined)d members.", made=made, joined=joined)]


DEMO_SEEDERS.append(seed_demo_teams)
