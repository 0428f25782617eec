"""Moving a distributor: effective-dated links, no backdating, loops refused now and against scheduled moves,
one scheduled move at a time, cancelling, the daily job that brings the cached upline up to date."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from dms.core.errors import Conflict, Forbidden, ValidationError
from dms.core.jobs import commit
from dms.core.models import AuditLog
from dms.core.periods import utc_start
from dms.core.schedule import PERIODIC
from dms.core.time import business_today, utcnow
from dms.distributors.models import Distributor, UplineLink
from dms.distributors.upline_history import upline_at, upline_chain
from dms.extensions import db
from dms.network import services


def day(offset: int):
    return business_today() + timedelta(days=offset)


def move(actor, distributor, upline, offset=0, reason="调整区域"):
    link = services.move_distributor(actor, distributor, upline.id if upline else None, day(offset), reason)
    commit()
    return link


def audits(action):
    return list(db.session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def test_a_move_today_takes_effect_now_and_keeps_the_past(hq, tree, order):
    a, b, c, d = (tree[k] for k in "ABCD")
    sold = order(d, "80.00", utcnow() - timedelta(hours=2))  # completed under B
    link = move(hq, d, c)
    assert link.effective_from <= utcnow() and link.effective_to is None
    assert db.session.get(Distributor, d.id).upline_id == c.id
    # Commissions read the tree as it stood when the order completed: D was then under B (and A).
    assert upline_at(d.id, sold.completed_at) == b.id
    assert upline_chain(d.id, sold.completed_at) == [d.id, b.id, a.id]
    assert upline_chain(d.id, utcnow()) == [d.id, c.id, a.id]
    entry = audits("network.move")[-1]
    assert entry.record_id == str(d.id) and entry.changes["upline_id"] == [b.id, c.id]
    assert entry.actor_id == hq.id and "调整区域" in entry.summary


def test_a_later_move_takes_effect_at_the_start_of_its_day_and_the_job_caches_it(hq, tree):
    b, c, d = tree["B"], tree["C"], tree["D"]
    link = move(hq, d, c, offset=3)
    start = utc_start(day(3))
    assert link.effective_from == start
    assert upline_at(d.id, start - timedelta(seconds=1)) == b.id
    assert upline_at(d.id, start) == c.id
    assert db.session.get(Distributor, d.id).upline_id == b.id  # not yet
    assert services.scheduled_move(d.id).id == link.id
    assert services.apply_due_moves() == 0  # nothing due today
    assert services.apply_due_moves(now=start + timedelta(minutes=1)) == 1
    commit()
    assert db.session.get(Distributor, d.id).upline_id == c.id
    assert services.apply_due_moves(now=start + timedelta(minutes=2)) == 0  # idempotent
    assert [e.changes["upline_id"] for e in audits("network.move_applied")] == [[b.id, c.id]]


def test_the_job_is_registered_daily_and_runs(hq, tree):
    from dms.network import jobs

    entry = next(p for p in PERIODIC if p.func == "dms.network.jobs.apply_due_moves")
    assert entry.cron and entry.cron.split()[2:] == ["*", "*", "*"]
    db.session.get(Distributor, tree["D"].id).upline_id = None  # a stale cache
    commit()
    assert jobs.apply_due_moves() == 1
    commit()
    assert db.session.get(Distributor, tree["D"].id).upline_id == tree["B"].id


def test_no_backdating_and_a_reason_is_required(hq, tree):
    with pytest.raises(ValidationError) as caught:
        services.move_distributor(hq, tree["D"], tree["C"].id, day(-1), "")
    assert set(caught.value.fields) == {"effective_on", "reason"}


@pytest.mark.parametrize("problem", ["unknown", "terminated", "itself", "same"])
def test_the_new_upline_must_exist_and_not_be_terminated(hq, tree, problem):
    from dms.distributors import services as distributors

    d = tree["D"]
    upline = {"unknown": 999999, "itself": d.id, "same": tree["B"].id, "terminated": tree["E"].id}[problem]
    if problem == "terminated":
        distributors.set_status(None, tree["E"], "terminated", "合同终止")
        commit()
    with pytest.raises(ValidationError) as caught:
        services.move_distributor(hq, d, upline, day(0), "换上级")
    assert list(caught.value.fields) == ["upline_id"]


def test_a_loop_is_refused_now(hq, tree):
    with pytest.raises(ValidationError) as caught:
        services.move_distributor(hq, tree["A"], tree["D"].id, day(0), "错误")
    assert "循环" in caught.value.fields["upline_id"][0]  # "loop", in the default locale
    with pytest.raises(ValidationError):
        services.move_distributor(hq, tree["B"], tree["D"].id, day(2), "错误")  # D is still below B then


def test_a_loop_is_refused_against_a_scheduled_move(hq, tree):
    """A moves under E on day 2; moving E under D today is fine now, but on day 2 E -> D -> B -> A -> E."""
    a, d, e = tree["A"], tree["D"], tree["E"]
    move(hq, a, e, offset=2)
    with pytest.raises(ValidationError) as caught:
        services.move_distributor(hq, e, d.id, day(0), "错误")
    message = caught.value.fields["upline_id"][0]
    assert "循环" in message and day(2).isoformat() in message
    db.session.rollback()
    with pytest.raises(ValidationError):  # scheduled after A's move: a loop from its own start
        services.move_distributor(hq, e, d.id, day(4), "错误")


def test_a_distributor_has_one_scheduled_move_at_a_time(hq, tree):
    c, d, e = tree["C"], tree["D"], tree["E"]
    move(hq, d, c, offset=2)
    with pytest.raises(Conflict) as caught:
        services.move_distributor(hq, d, e.id, day(5), "再调")
    assert day(2).isoformat() in caught.value.message
    db.session.rollback()
    link = move(hq, d, e, offset=0)  # a move today is allowed: the scheduled one still follows it
    assert link.effective_to == utc_start(day(2))
    assert upline_at(d.id, utc_start(day(2))) == c.id


def test_cancelling_a_scheduled_move(hq, tree):
    b, c, d = tree["B"], tree["C"], tree["D"]
    link = move(hq, d, c, offset=2)
    services.cancel_scheduled_move(hq, db.session.get(UplineLink, link.id))
    commit()
    assert db.session.get(UplineLink, link.id) is None
    assert services.scheduled_move(d.id) is None
    assert upline_at(d.id, utc_start(day(5))) == b.id
    open_links = db.session.scalars(select(UplineLink).where(UplineLink.distributor_id == d.id,
                                                             UplineLink.effective_to.is_(None))).all()
    assert [x.upline_id for x in open_links] == [b.id]
    assert audits("network.move_cancel")[-1].changes["upline_id"] == [c.id, b.id]


def test_a_move_in_force_cannot_be_cancelled(hq, tree):
    link = move(hq, tree["D"], tree["C"])
    with pytest.raises(Conflict):
        services.cancel_scheduled_move(hq, link)


def test_cancelling_is_refused_when_going_back_makes_a_loop(hq, tree):
    """B leaves A on day 1 (a root); A moves under B on day 2; cancelling B's move would loop A and B."""
    a, b = tree["A"], tree["B"]
    leave = move(hq, b, None, offset=1)
    move(hq, a, b, offset=2)
    with pytest.raises(Conflict) as caught:
        services.cancel_scheduled_move(hq, leave)
    assert "循环" in caught.value.message


def test_moves_need_hq(make_user, tree):
    user = make_user("distributor", distributor_id=tree["A"].id)
    with pytest.raises(Forbidden):
        services.move_distributor(user, tree["D"], tree["C"].id, day(0), "越权")
    with pytest.raises(Forbidden):
        services.cancel_scheduled_move(user, move(None, tree["D"], tree["C"], offset=1))


def test_the_scope_of_a_distributor_is_its_own_subtree(make_user, tree):
    from dms.core.errors import NotFound

    user = make_user("distributor", distributor_id=tree["B"].id)
    assert services.visible_ids(user) == {tree["B"].id, tree["D"].id}
    assert [d.id for d in services.roots(user)] == [tree["B"].id]
    assert services.get_node(user, tree["D"].id).id == tree["D"].id
    for foreign in ("A", "C", "E"):
        with pytest.raises(NotFound):
            services.get_node(user, tree[foreign].id)
    assert services.chain_of(user, tree["D"]) == [tree["B"]]  # what lies above B is not B's to see
    assert [f.distributor.id for f in services.search(user, "网络")] == [tree["B"].id, tree["D"].id]


def test_hq_sees_the_roots_and_finds_a_distributor_with_its_path(hq, tree):
    assert {d.id for d in services.roots(hq)} == {tree["A"].id, tree["E"].id}
    found = services.search(hq, "网络D")
    assert [(f.distributor.id, [p.id for p in f.path]) for f in found] == [(tree["D"].id, [tree["A"].id, tree["B"].id])]
    assert [d.id for d in services.children(hq, tree["A"])] == [tree["B"].id, tree["C"].id]
