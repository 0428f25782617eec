"""Dispatch queries against a real database: grouping by area, couriers' loads, scope of boards and deliveries."""

from datetime import timedelta

import pytest
from sqlalchemy import update

from dms.core.errors import NotFound
from dms.core.jobs import commit
from dms.core.time import utcnow
from dms.delivery import services
from dms.extensions import db
from dms.orders import transitions
from dms.orders.models import Order


def test_paid_orders_are_grouped_by_county_then_street(shop, order):
    first = order("440113", "市桥街道")
    order("440113", "", status="pending")  # not paid: not on the board
    second = order("440106", "石牌街道")
    third = order("440113", "市桥街道")
    nowhere = order("440113", "")
    other_street = order("440113", "大石街道")
    order("440113", "市桥街道", status="assigned")  # assigned: in the other list

    groups = services.group_by_area(services.awaiting_courier(None, shop["distributor"]))

    assert [g.label for g in groups] == ["广州市 天河区", "广州市 番禺区"]
    tianhe, panyu = groups
    assert [(s.street, [o.id for o in s.orders]) for s in tianhe.streets] == [("石牌街道", [second.id])]
    assert [(s.street, [o.id for o in s.orders]) for s in panyu.streets] == [
        ("大石街道", [other_street.id]), ("市桥街道", [first.id, third.id]), ("", [nowhere.id])]
    assert panyu.count == 4


def test_assigned_orders_are_listed_apart_for_reassignment(shop, order):
    order("440113", "市桥街道")
    assigned = order("440113", "市桥街道", status="assigned", courier=shop["bob"])
    order("440113", "市桥街道", status="shipped")

    assert [o.id for o in services.assigned_not_shipped(None, shop["distributor"])] == [assigned.id]


def test_each_couriers_load_counts_open_orders_and_those_delivered_today(shop, order):
    ann, bob = shop["ann"], shop["bob"]
    order(status="assigned", courier=ann)
    order(status="assigned", courier=ann)
    order(status="shipped", courier=ann)
    order(status="delivered", courier=ann)
    yesterday = order(status="delivered", courier=ann)
    cancelled = order(status="assigned", courier=bob)
    transitions.cancel(None, cancelled, "客户取消")
    db.session.execute(update(Order).where(Order.id == yesterday.id)
                       .values(delivered_at=utcnow() - timedelta(days=2)))
    commit()
    order(status="paid")  # nobody's yet

    loads = {load.courier.username: load for load in services.courier_loads(shop["distributor"])}

    ann_load = loads["ann"]
    assert (ann_load.assigned, ann_load.shipped, ann_load.delivered_today, ann_load.total) == (2, 1, 1, 4)
    assert loads["bob"].total == 0
    assert services.suggested_courier(list(loads.values())) == bob.id


def test_a_distributor_sees_only_its_own_board(shop, make_user, make_distributor):
    own = make_user("distributor", distributor_id=shop["distributor"].id)
    other = make_distributor("440106")
    assert services.board_distributor(own, None).id == shop["distributor"].id
    assert services.board_distributor(own, shop["distributor"].id).id == shop["distributor"].id
    with pytest.raises(NotFound):
        services.board_distributor(own, other.id)
    admin = make_user("admin")
    assert services.board_distributor(admin, None) is None
    assert services.board_distributor(admin, other.id).id == other.id
    with pytest.raises(NotFound):
        services.board_distributor(admin, 999999)
    assert services.board_distributors(own) == []
    assert {d.id for d in services.board_distributors(admin)} == {shop["distributor"].id, other.id}


def test_board_queries_keep_to_the_actors_scope(shop, order, make_distributor, make_user):
    from dms.inventory import services as inventory

    other = make_distributor("440106")
    inventory.receive(None, other.warehouse, [{"product": shop["water"], "quantity": 5}])
    commit()
    theirs = order(distributor=other)
    ours = order()
    own_user = make_user("distributor", distributor_id=shop["distributor"].id)
    their_user = make_user("distributor", distributor_id=other.id)

    assert [o.id for o in services.awaiting_courier(own_user, shop["distributor"])] == [ours.id]
    assert [o.id for o in services.awaiting_courier(their_user, other)] == [theirs.id]
    # Even handed the other distributor, the query finds nothing outside the actor's scope.
    assert services.awaiting_courier(their_user, shop["distributor"]) == []


def test_a_courier_finds_only_the_orders_assigned_to_them(shop, order):
    ann, bob = shop["ann"], shop["bob"]
    late = order(status="shipped", courier=ann)
    early_bob = order(status="assigned", courier=bob)
    waiting = order(status="assigned", courier=ann)
    done = order(status="delivered", courier=ann)
    order(status="paid")

    assert [o.id for o in services.my_open_deliveries(ann)] == [late.id, waiting.id]
    assert [o.id for o in services.my_delivered_today(ann)] == [done.id]
    assert services.my_delivery(ann, waiting.id).id == waiting.id
    for foreign in (early_bob.id, 999999, 0, "1", True):
        with pytest.raises(NotFound):
            services.my_delivery(ann, foreign)
