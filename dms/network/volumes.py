"""Sales volumes over the network: personal volume (a distributor's own completed orders) and team volume
(its own and every downline's, down the tree as it stood at a moment — a recursive CTE, on PostgreSQL and
SQLite alike).

Volume is the orders' total (net of discounts) of orders completed in [start, end) and not refunded as
of `as_of` (by default the end), so a figure for a past moment never changes later.
"""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Integer, func, literal, or_, select

from dms.distributors.models import Distributor, UplineLink
from dms.distributors.upline_history import in_force
from dms.extensions import db
from dms.orders.models import Order

ZERO = Decimal("0.00")
MAX_DEPTH = 50  # a guard: the tree refuses loops, but a CTE must never run away


def _counted(start: datetime, end: datetime, as_of: datetime | None):
    as_of = as_of or end
    return (Order.completed_at >= start, Order.completed_at < end,
            or_(Order.refunded_at.is_(None), Order.refunded_at > as_of))


def personal_volume(distributor_id: int, start: datetime, end: datetime, as_of: datetime | None = None) -> Decimal:
    """The distributor's own volume in [start, end)."""
    total = db.session.scalar(select(func.coalesce(func.sum(Order.total), 0))
                              .where(Order.distributor_id == distributor_id, *_counted(start, end, as_of)))
    return Decimal(str(total)).quantize(ZERO)


def subtree(root_id: int, at: datetime):
    """A recursive CTE (id, depth) of the root and its downlines, all levels, in the tree at `at`."""
    tree = select(literal(root_id, Integer).label("id"), literal(0, Integer).label("depth")).cte(
        "tree", recursive=True)
    below = (select(UplineLink.distributor_id, tree.c.depth + 1)
             .join(tree, UplineLink.upline_id == tree.c.id)
             .where(in_force(at), tree.c.depth < MAX_DEPTH))
    return tree.union_all(below)


def downline_ids(root_id: int, at: datetime) -> list[int]:
    """Every downline of the root (not the root itself) at `at`, nearest levels first."""
    tree = subtree(root_id, at)
    return list(db.session.scalars(select(tree.c.id).where(tree.c.depth > 0).order_by(tree.c.depth, tree.c.id)))


def team_volume(root_id: int, start: datetime, end: datetime, at: datetime | None = None,
                as_of: datetime | None = None) -> Decimal:
    """The volume of the root and all its downlines in [start, end), down the tree as it stood at `at` (end)."""
    tree = subtree(root_id, at or end)
    total = db.session.scalar(select(func.coalesce(func.sum(Order.total), 0))
                              .join(tree, Order.distributor_id == tree.c.id)
                              .where(*_counted(start, end, as_of)))
    return Decimal(str(total)).quantize(ZERO)


# --- bulk figures: a tree level or a team page in a fixed number of queries ------------------------------

def _as_decimal(value) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(ZERO)


def personal_volumes(distributor_ids, start: datetime, end: datetime,
                     as_of: datetime | None = None) -> dict[int, Decimal]:
    """{id: personal volume in [start, end)} for many distributors in one query (0.00 for those without)."""
    ids = list(dict.fromkeys(distributor_ids))
    figures = dict.fromkeys(ids, ZERO)
    if ids:
        rows = db.session.execute(select(Order.distributor_id, func.sum(Order.total))
                                  .where(Order.distributor_id.in_(ids), *_counted(start, end, as_of))
                                  .group_by(Order.distributor_id))
        figures.update({distributor_id: _as_decimal(total) for distributor_id, total in rows})
    return figures


def subtrees(root_ids, at: datetime):
    """A recursive CTE (root, id, depth) of many roots and their downlines at `at`: each row carries its root."""
    anchor = select(Distributor.id.label("root"), Distributor.id.label("id"), literal(0, Integer).label("depth")) \
        .where(Distributor.id.in_(list(root_ids)))
    tree = anchor.cte("trees", recursive=True)
    below = (select(tree.c.root, UplineLink.distributor_id, tree.c.depth + 1)
             .join(tree, UplineLink.upline_id == tree.c.id)
             .where(in_force(at), tree.c.depth < MAX_DEPTH))
    return tree.union_all(below)


def team_volumes(root_ids, start: datetime, end: datetime, at: datetime | None = None,
                 as_of: datetime | None = None) -> dict[int, Decimal]:
    """{root id: team volume in [start, end)} of many roots in one query, down the tree as it stood at `at` (end)."""
    ids = list(dict.fromkeys(root_ids))
    figures = dict.fromkeys(ids, ZERO)
    if ids:
        tree = subtrees(ids, at or end)
        rows = db.session.execute(select(tree.c.root, func.sum(Order.total))
                                  .join(Order, Order.distributor_id == tree.c.id)
                                  .where(*_counted(start, end, as_of)).group_by(tree.c.root))
        figures.update({root: _as_decimal(total) for root, total in rows})
    return figures


def downline_counts(root_ids, at: datetime) -> dict[int, int]:
    """{root id: number of downlines on every level below it at `at`}, in one query."""
    ids = list(dict.fromkeys(root_ids))
    counts = dict.fromkeys(ids, 0)
    if ids:
        tree = subtrees(ids, at)
        rows = db.session.execute(select(tree.c.root, func.count()).where(tree.c.depth > 0).group_by(tree.c.root))
        counts.update(dict(rows.all()))
    return counts


def direct_downline_counts(distributor_ids, at: datetime) -> dict[int, int]:
    """{id: number of direct downlines at `at`}, in one query."""
    ids = list(dict.fromkeys(distributor_ids))
    counts = dict.fromkeys(ids, 0)
    if ids:
        rows = db.session.execute(select(UplineLink.upline_id, func.count())
                                  .where(UplineLink.upline_id.in_(ids), in_force(at)).group_by(UplineLink.upline_id))
        counts.update(dict(rows.all()))
    return counts
