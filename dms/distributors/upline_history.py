"""The effective-dated upline tree: record a distributor's upline from a moment on, read it as of any moment."""

from datetime import datetime

from sqlalchemy import and_, or_, select

from dms.core.time import utcnow
from dms.distributors.models import Distributor, UplineLink
from dms.extensions import db


def in_force(at: datetime):
    """The SQL condition of a link in force at `at`."""
    return and_(UplineLink.effective_from <= at,
                or_(UplineLink.effective_to.is_(None), UplineLink.effective_to > at))


def link_upline(distributor: Distributor, upline_id: int | None, at: datetime | None = None, actor=None,
                note: str = "") -> UplineLink:
    """From `at` (now) on, `upline_id` is the distributor's upline: the link in force then ends there.

    The caller has checked the move (no loop); a link starting later than `at` is left alone.
    """
    at = at or utcnow()
    current = db.session.scalar(select(UplineLink).where(UplineLink.distributor_id == distributor.id, in_force(at)))
    if current is not None:
        current.effective_to = at
    later = db.session.scalar(select(UplineLink.effective_from).where(
        UplineLink.distributor_id == distributor.id, UplineLink.effective_from > at)
        .order_by(UplineLink.effective_from))
    link = UplineLink(distributor_id=distributor.id, upline_id=upline_id, effective_from=at, effective_to=later,
                      note=note[:255], created_by_id=getattr(actor, "id", None))
    db.session.add(link)
    if at <= utcnow():
        distributor.upline_id = upline_id
    db.session.flush()
    return link


def upline_at(distributor_id: int, at: datetime) -> int | None:
    """The distributor's upline at `at` (None for a root)."""
    return db.session.scalar(select(UplineLink.upline_id).where(UplineLink.distributor_id == distributor_id,
                                                                in_force(at)))


def upline_chain(distributor_id: int, at: datetime, limit: int = 50) -> list[int]:
    """The distributor and its uplines at `at`, nearest first, at most `limit` ids (a loop stops it)."""
    chain = [distributor_id]
    while len(chain) < limit:
        upline = upline_at(chain[-1], at)
        if upline is None or upline in chain:
            break
        chain.append(upline)
    return chain


def uplines_at(at: datetime) -> dict[int, int | None]:
    """{distributor id: upline id} for every link in force at `at`, in one query."""
    return dict(db.session.execute(select(UplineLink.distributor_id, UplineLink.upline_id).where(in_force(at))).all())


def loop_moment(distributor_id: int, upline_id: int | None, start: datetime, end: datetime | None = None):
    """The first moment at which `upline_id` as the distributor's upline over [start, end) makes a loop —
    at `start` or when any later scheduled link begins (the tree then, with this link) — or None."""
    if upline_id is None:
        return None
    later = select(UplineLink.effective_from).where(UplineLink.effective_from > start).distinct()
    if end is not None:
        later = later.where(UplineLink.effective_from < end)
    for moment in [start, *sorted(db.session.scalars(later))]:
        ups = uplines_at(moment)
        ups[distributor_id] = upline_id
        node, seen = upline_id, set()
        while node is not None and node not in seen:
            if node == distributor_id:
                return moment
            seen.add(node)
            node = ups.get(node)
    return None
