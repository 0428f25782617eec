"""Volumes on a small worked tree: exact Decimal figures, the month's edges, refunds, the tree at a moment,
and bulk figures for a tree level in a fixed number of queries."""

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from dms.core.periods import current_month, month_bounds_utc, parse_month
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.network import services, volumes
from tests.sql_recorder import recorded_statements

D = Decimal
OCTOBER = parse_month("2026-10")  # in Asia/Shanghai: [2026-09-30 16:00, 2026-10-31 16:00) UTC


def worked_orders(tree, order):
    """Orders in and out of October 2026 (business time zone), one refunded in the month, one after it."""
    a, b, c, d, e = (tree[k] for k in "ABCDE")
    order(a, "100.10", datetime(2026, 10, 5, 2))
    order(a, "999.00", datetime(2026, 9, 30, 15, 59))  # 23:59 on 30 September in Shanghai: not October
    order(b, "200.20", datetime(2026, 9, 30, 16, 0))  # 00:00 on 1 October in Shanghai: October
    order(b, "50.00", datetime(2026, 10, 6), refunded_at=datetime(2026, 10, 20))  # refunded within the month
    order(c, "300.30", datetime(2026, 10, 31, 15, 59))
    order(c, "70.00", datetime(2026, 10, 31, 16, 0))  # November in Shanghai
    order(d, "400.40", datetime(2026, 10, 12), refunded_at=datetime(2026, 11, 5))  # refunded after October
    order(e, "5000.00", datetime(2026, 10, 12))  # another tree


def test_personal_and_team_volumes_of_the_worked_tree(tree, order):
    worked_orders(tree, order)
    start, end = month_bounds_utc(OCTOBER)
    a, b, c, d, e = (tree[k] for k in "ABCDE")
    assert volumes.personal_volume(a.id, start, end) == D("100.10")
    assert volumes.personal_volume(b.id, start, end) == D("200.20")
    assert volumes.personal_volume(c.id, start, end) == D("300.30")
    assert volumes.personal_volume(d.id, start, end) == D("400.40")
    assert volumes.team_volume(a.id, start, end) == D("1001.00")
    assert volumes.team_volume(b.id, start, end) == D("600.60")
    assert volumes.team_volume(c.id, start, end) == D("300.30")
    assert volumes.team_volume(e.id, start, end) == D("5000.00")
    # As of a later moment, D's refund counts too.
    assert volumes.team_volume(a.id, start, end, as_of=datetime(2026, 11, 6)) == D("600.60")


def test_bulk_figures_equal_the_single_ones(tree, order):
    worked_orders(tree, order)
    start, end = month_bounds_utc(OCTOBER)
    ids = [tree[k].id for k in "ABCDE"]
    personal = volumes.personal_volumes(ids, start, end)
    team = volumes.team_volumes(ids, start, end)
    assert personal == {i: volumes.personal_volume(i, start, end) for i in ids}
    assert team == {i: volumes.team_volume(i, start, end) for i in ids}
    assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -2 for v in [*personal.values(), *team.values()])
    assert volumes.direct_downline_counts(ids, end) == {ids[0]: 2, ids[1]: 1, ids[2]: 0, ids[3]: 0, ids[4]: 0}
    assert volumes.downline_counts(ids, end) == {ids[0]: 3, ids[1]: 1, ids[2]: 0, ids[3]: 0, ids[4]: 0}
    assert volumes.personal_volumes([], start, end) == {} and volumes.team_volumes([], start, end) == {}


def test_team_volume_follows_the_tree_as_it_stood(tree, order, link):
    """D moves from B to C on 15 October: October's team volumes read the tree at the month's end."""
    worked_orders(tree, order)
    link(tree["D"], tree["C"], at=datetime(2026, 10, 15))
    start, end = month_bounds_utc(OCTOBER)
    team = volumes.team_volumes([tree[k].id for k in "ABC"], start, end)
    assert team == {tree["A"].id: D("1001.00"), tree["B"].id: D("200.20"), tree["C"].id: D("700.70")}
    before = volumes.team_volumes([tree["B"].id], start, end, at=datetime(2026, 10, 14))
    assert before == {tree["B"].id: D("600.60")}


def test_the_nodes_of_a_tree_level_take_a_fixed_number_of_queries(make_distributor, link, order):
    """Four queries for a level (personal, team, direct and all downlines), whether it has 2 nodes or 6."""
    first = current_month()

    def level(n):
        top = make_distributor()
        below = [make_distributor() for _ in range(n)]
        for d in below:
            link(d, top)
            link(make_distributor(), d)
            order(d, "10.00", month_bounds_utc(first)[0] + timedelta(hours=30))
        return [d.id for d in below]

    def loaded(ids):  # the rows of a level as a view has them: loaded, not expired by a commit
        return list(db.session.scalars(select(Distributor).where(Distributor.id.in_(ids)).order_by(Distributor.id)))

    small_ids, large_ids = level(2), level(6)
    small, large = loaded(small_ids), loaded(large_ids)
    with recorded_statements() as few:
        services.nodes(small, first)
    with recorded_statements() as many:
        nodes = services.nodes(large, first)
    assert len(few) == len(many) == 4, many
    assert [(n.direct_downlines, n.downlines, n.personal_volume) for n in nodes] == [(1, 1, D("10.00"))] * 6
