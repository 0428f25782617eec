"""Teams (团队): named groups of distributors with a leader and a level; membership is dated."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dms.core.time import utcnow
from dms.distributors.models import Distributor
from dms.extensions import db


class Team(db.Model):
    """A team: a name, a leading distributor, a level (1 = top) and its members."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("distributors.id"), index=True)
    level: Mapped[int] = mapped_column(default=1)
    note: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    leader: Mapped[Distributor] = relationship(lazy="joined")
    members: Mapped[list["TeamMember"]] = relationship(
        back_populates="team", primaryjoin="and_(Team.id == TeamMember.team_id, TeamMember.left_at.is_(None))",
        viewonly=True, order_by="TeamMember.joined_at")

    def __str__(self) -> str:
        return self.name


class TeamMember(db.Model):
    """A distributor's membership of a team from `joined_at` until `left_at` (open while it lasts).

    A distributor belongs to at most one team at a time (a partial unique index on the open rows);
    moving a member closes one row and opens another, so "new members in a period" can be counted.
    """

    __tablename__ = "team_members"
    __table_args__ = (
        Index("uq_team_members_open", "distributor_id", unique=True,
              sqlite_where=db.text("left_at IS NULL"), postgresql_where=db.text("left_at IS NULL")),
        UniqueConstraint("team_id", "distributor_id", "joined_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id", ondelete="CASCADE"))
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column()

    team: Mapped[Team] = relationship(back_populates="members")
    distributor: Mapped[Distributor] = relationship(lazy="joined")
