"""Visits and communications: logging, planning, closing follow-ups, due buckets, reminders, compliance."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dms.core import schedule
from dms.core.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationError
from dms.core.jobs import commit
from dms.core.models import Notification
from dms.core.time import business_today, utcnow
from dms.customers import interaction_jobs, interactions
from dms.customers import services as customers
from dms.customers.models import Interaction
from dms.extensions import db
from tests.concurrency import race

WEDNESDAY = date(2026, 6, 10)
EARLY = date(2026, 6, 1)  # "today" when the follow-ups of the WEDNESDAY examples were logged


@pytest.fixture
def people(make_distributor, make_user):
    """Two distributors, each with a customer; two staff of the first, one of the second, an HQ admin."""
    return make_people(make_distributor, make_user)


def make_people(make_distributor, make_user) -> dict:
    """The `people` of these tests (a function, so that the view tests build the same)."""
    first, second = make_distributor("440113"), make_distributor("440106")
    mine = customers.create_customer(None, first.id, {"name": "王阿姨", "phone": "13800000001",
                                                      "region_code": "440113", "address": "1号"})
    theirs = customers.create_customer(None, second.id, {"name": "李老板", "phone": "13800000002",
                                                         "region_code": "440106", "address": "2号"})
    commit()
    return {"first": first, "second": second, "customer": mine, "foreign": theirs,
            "staff": make_user("distributor", distributor_id=first.id, locale="en"),
            "colleague": make_user("distributor", distributor_id=first.id),
            "other": make_user("distributor", distributor_id=second.id),
            "admin": make_user("admin")}


def log(actor, customer, today=None, **data):
    """Log an interaction through the service and commit (kind visit unless said)."""
    data.setdefault("kind", "visit")
    row = interactions.log_interaction(actor, customer, data, today=today)
    commit()
    return row


def notes_of(user) -> list[Notification]:
    return list(db.session.scalars(select(Notification).where(Notification.user_id == user.id)
                                   .order_by(Notification.id)))


# --- logging and validation -----------------------------------------------------------------------

def test_logging_a_visit_records_it_done_with_its_follow_up(people):
    staff, customer = people["staff"], people["customer"]
    tomorrow = business_today() + timedelta(days=1)
    row = log(staff, customer, kind="call", contact_person=" 王阿姨 ", outcome="想要两桶", notes="下午送",
              happened_at=datetime(2026, 1, 5, 9, 30), follow_up_on=tomorrow)
    assert (row.status, row.kind, row.contact_person, row.user_id, row.distributor_id) == \
        ("done", "call", "王阿姨", staff.id, people["first"].id)
    assert row.happened_at == datetime(2026, 1, 5, 1, 30)  # 09:30 in Asia/Shanghai, stored as UTC
    assert row.follow_up_on == tomorrow and row.follow_up_done_at is None and row.reminded_at is None


def test_happened_at_defaults_to_now(people):
    before = utcnow()
    row = log(people["staff"], people["customer"])
    assert before - timedelta(seconds=1) <= row.happened_at <= utcnow()


@pytest.mark.parametrize("data,field", [
    ({"kind": "email"}, "kind"),
    ({"kind": None}, "kind"),
    ({"follow_up_on": date(2026, 6, 9)}, "follow_up_on"),
    ({"follow_up_on": "2026-06-20"}, "follow_up_on"),
    ({"happened_at": datetime(2026, 6, 11, 12, 0)}, "happened_at"),
    ({"outcome": "x" * 256}, "outcome"),
    ({"contact_person": 5}, "contact_person"),
])
def test_bad_input_is_refused_per_field_and_nothing_is_saved(people, data, field, monkeypatch):
    # "Now" is pinned into the example's week so that a time the day after WEDNESDAY is in the future.
    monkeypatch.setattr(interactions, "utcnow", lambda: datetime(2026, 6, 10, 4, 0))
    data = {"kind": "visit", **data}
    with pytest.raises(ValidationError) as caught:
        interactions.log_interaction(people["staff"], people["customer"], data, today=WEDNESDAY)
    assert field in caught.value.fields
    db.session.rollback()
    assert db.session.scalar(select(func.count(Interaction.id))) == 0


def test_a_follow_up_today_is_allowed(people):
    row = log(people["staff"], people["customer"], today=WEDNESDAY, follow_up_on=WEDNESDAY)
    assert row.follow_up_on == WEDNESDAY


def test_only_staff_who_manage_customers_log(people, make_user):
    viewer = make_user("reviewer")  # customers.view without customers.manage
    with pytest.raises(Forbidden):
        interactions.log_interaction(viewer, people["customer"], {"kind": "visit"})


# --- closing follow-ups ---------------------------------------------------------------------------

def test_the_next_interaction_by_the_same_user_closes_their_open_follow_ups(people):
    staff, colleague, customer = people["staff"], people["colleague"], people["customer"]
    first = log(staff, customer, today=EARLY, follow_up_on=date(2026, 6, 5))
    theirs = log(colleague, customer, today=EARLY, follow_up_on=date(2026, 6, 6))
    assert first.follow_up_done_at is None  # a colleague's call is not my follow-up
    second = log(staff, customer, today=EARLY, kind="message", follow_up_on=date(2026, 6, 8))
    db.session.expire_all()
    assert first.follow_up_done_at is not None
    assert second.follow_up_done_at is None and theirs.follow_up_done_at is None


def test_a_follow_up_is_completed_explicitly_once(people):
    row = log(people["staff"], people["customer"], today=EARLY, follow_up_on=date(2026, 6, 5))
    interactions.complete_follow_up(people["staff"], row)
    commit()
    done_at = row.follow_up_done_at
    assert done_at is not None
    interactions.complete_follow_up(people["colleague"], row)  # a second click changes nothing
    commit()
    assert row.follow_up_done_at == done_at
    without = log(people["staff"], people["customer"])
    with pytest.raises(Conflict):
        interactions.complete_follow_up(people["staff"], without)


def test_someone_elses_follow_up_needs_customers_manage(people, make_user):
    row = log(people["staff"], people["customer"], today=EARLY, follow_up_on=date(2026, 6, 5))
    with pytest.raises(Forbidden):
        interactions.complete_follow_up(make_user("reviewer"), row)


# --- planned visits -------------------------------------------------------------------------------

def test_a_planned_visit_is_done_or_cancelled_once(people):
    staff, customer = people["staff"], people["customer"]
    plan = interactions.plan_visit(staff, customer, {"planned_on": WEDNESDAY, "notes": "送新品试饮"}, today=EARLY)
    open_one = log(staff, customer, today=EARLY, follow_up_on=date(2026, 6, 3))
    commit()
    assert (plan.status, plan.kind, plan.planned_on, plan.happened_at) == ("planned", "visit", WEDNESDAY, None)
    interactions.complete_visit(people["colleague"], plan, {"outcome": "订了10桶", "follow_up_on": date(2026, 6, 20)},
                                today=WEDNESDAY)
    commit()
    assert (plan.status, plan.outcome, plan.notes, plan.user_id) == ("done", "订了10桶", "送新品试饮",
                                                                     people["colleague"].id)
    assert plan.happened_at is not None and plan.follow_up_on == date(2026, 6, 20)
    assert open_one.follow_up_done_at is None  # the colleague made the visit: the staff's follow-up stays
    with pytest.raises(InvalidTransition):
        interactions.complete_visit(staff, plan, {})
    with pytest.raises(InvalidTransition):
        interactions.cancel_visit(staff, plan)
    other = interactions.plan_visit(staff, customer, {"planned_on": WEDNESDAY}, today=EARLY)
    interactions.cancel_visit(staff, other)
    assert other.status == "cancelled"


def test_a_visit_cannot_be_planned_in_the_past(people):
    with pytest.raises(ValidationError) as caught:
        interactions.plan_visit(people["staff"], people["customer"], {"planned_on": date(2026, 6, 9)}, today=WEDNESDAY)
    assert "planned_on" in caught.value.fields
    with pytest.raises(ValidationError):
        interactions.plan_visit(people["staff"], people["customer"], {"planned_on": "tomorrow"})


# --- scope ----------------------------------------------------------------------------------------

def test_interactions_of_another_distributor_are_not_found(people):
    theirs = log(people["other"], people["foreign"])
    with pytest.raises(NotFound):
        interactions.get_interaction(people["staff"], theirs.id)
    assert interactions.get_interaction(people["admin"], theirs.id) is not None
    for bad in (0, -1, 2**31, True, "1"):
        with pytest.raises(NotFound):
            interactions.get_interaction(people["admin"], bad)


# --- due buckets ----------------------------------------------------------------------------------

def test_due_follow_ups_fall_into_overdue_today_and_this_week(people):
    staff, colleague, first = people["staff"], people["colleague"], people["first"]
    one, two, three = (customers.create_customer(None, first.id, {"name": f"客户{n}", "phone": f"1390000000{n}",
                                                                  "region_code": "440113"}) for n in (1, 2, 3))
    commit()
    overdue = log(staff, one, today=EARLY, follow_up_on=date(2026, 6, 8))
    today = log(colleague, one, today=EARLY, follow_up_on=WEDNESDAY)  # a colleague's: not "mine" for staff
    sunday = log(staff, two, today=EARLY, kind="call", follow_up_on=date(2026, 6, 14))
    log(colleague, two, today=EARLY, kind="call", follow_up_on=date(2026, 6, 15))  # next week: not yet
    done = log(staff, three, today=EARLY, kind="message", follow_up_on=date(2026, 6, 9))
    interactions.complete_follow_up(staff, done)
    commit()
    log(people["other"], people["foreign"], today=EARLY, follow_up_on=date(2026, 6, 8))

    def ids(buckets):
        return {k: [r.id for r in v] for k, v in buckets.items()}

    assert ids(interactions.due_follow_ups(staff, today=WEDNESDAY)) == \
        {"overdue": [overdue.id], "today": [], "week": [sunday.id]}
    assert ids(interactions.due_follow_ups(staff, "team", today=WEDNESDAY)) == \
        {"overdue": [overdue.id], "today": [today.id], "week": [sunday.id]}
    everyone = ids(interactions.due_follow_ups(people["admin"], "team", today=WEDNESDAY))
    assert len(everyone["overdue"]) == 2 and everyone["today"] == [today.id]
    only_second = ids(interactions.due_follow_ups(people["admin"], "team", people["second"].id, today=WEDNESDAY))
    assert only_second["today"] == only_second["week"] == [] and len(only_second["overdue"]) == 1
    # On Sunday the week ends today; on the Monday after, the Sunday one is overdue.
    assert ids(interactions.due_follow_ups(staff, today=date(2026, 6, 14)))["today"] == [sunday.id]
    assert ids(interactions.due_follow_ups(staff, today=date(2026, 6, 15)))["overdue"] == [overdue.id, sunday.id]


def test_due_buckets_follow_the_business_time_zone(people, app, monkeypatch):
    # UTC+14 and UTC-11 are 25 hours apart: their dates always differ, by one or two days.
    monkeypatch.setitem(app.config, "DMS_TIMEZONE", "Pacific/Kiritimati")
    kiritimati_today = business_today()
    row = log(people["staff"], people["customer"], follow_up_on=kiritimati_today)
    assert [r.id for r in interactions.due_follow_ups(people["staff"])["today"]] == [row.id]
    monkeypatch.setitem(app.config, "DMS_TIMEZONE", "Pacific/Pago_Pago")
    assert business_today() < kiritimati_today
    buckets = interactions.due_follow_ups(people["staff"])
    assert buckets["today"] == buckets["overdue"] == []
    assert interaction_jobs.send_follow_up_reminders() == {"reminded": 0}  # not due yet over there


# --- reminders ------------------------------------------------------------------------------------

def _due_example(people):
    """An overdue and a today follow-up of the staff, plus ones that must not be reminded."""
    staff, customer = people["staff"], people["customer"]
    today = business_today()
    overdue = log(staff, customer, today=today - timedelta(days=10), outcome="要报价",
                  follow_up_on=today - timedelta(days=2))
    due = log(people["colleague"], customer, today=today - timedelta(days=10), follow_up_on=today)
    closed = log(people["other"], people["foreign"], today=today - timedelta(days=10),
                 follow_up_on=today - timedelta(days=1))
    interactions.complete_follow_up(people["other"], closed)
    commit()
    log(people["other"], people["foreign"], follow_up_on=today + timedelta(days=1))  # not yet due
    return overdue, due


def test_reminders_are_sent_once_per_follow_up_in_the_owners_language(people):
    overdue, due = _due_example(people)
    assert any(p.func == "dms.customers.interaction_jobs.send_follow_up_reminders" and p.cron
               for p in schedule.PERIODIC)
    assert schedule.run_periodic("dms.customers.interaction_jobs.send_follow_up_reminders") == {"reminded": 2}
    db.session.expire_all()
    staff_notes, colleague_notes = notes_of(people["staff"]), notes_of(people["colleague"])
    assert [n.title for n in staff_notes] == ["Follow-up overdue: 王阿姨"]  # the staff reads English
    assert "要报价" in staff_notes[0].body and staff_notes[0].link == "/follow-ups"
    assert len(colleague_notes) == 1 and "王阿姨" in colleague_notes[0].title
    assert notes_of(people["other"]) == []
    assert db.session.get(Interaction, overdue.id).reminded_at is not None

    # A retry, a scheduler restart, the next day: nobody is reminded twice.
    assert schedule.run_periodic("dms.customers.interaction_jobs.send_follow_up_reminders") == {"reminded": 0}
    assert len(notes_of(people["staff"])) == len(notes_of(people["colleague"])) == 1


def test_an_inactive_owner_is_not_reminded(people):
    _due_example(people)
    people["colleague"].active = False
    commit()
    assert interaction_jobs.send_follow_up_reminders() == {"reminded": 1}
    commit()
    assert notes_of(people["colleague"]) == []


def test_concurrent_reminder_runs_remind_each_follow_up_once(app, people):
    _due_example(people)
    results = race(app, 4, lambda n: interaction_jobs.send_follow_up_reminders(), {})
    assert all(outcome == "won" for outcome, _value in results), results
    assert sum(value["reminded"] for _outcome, value in results) == 2
    db.session.expire_all()
    assert len(notes_of(people["staff"])) == len(notes_of(people["colleague"])) == 1


# --- compliance -----------------------------------------------------------------------------------

def test_visit_compliance_on_a_worked_example(people):
    staff, customer = people["staff"], people["customer"]
    may = date(2026, 5, 1)

    def plan(day):
        row = interactions.plan_visit(staff, customer, {"planned_on": day}, today=may)
        commit()
        return row

    def done(row):
        interactions.complete_visit(staff, row, {"outcome": "ok"}, today=may)
        commit()

    done(plan(date(2026, 5, 31)))           # before the period
    done(plan(date(2026, 6, 1)))            # in: done (first day counts)
    done(plan(date(2026, 6, 3)))            # in: done
    interactions.cancel_visit(staff, plan(date(2026, 6, 15)))  # in (last day counts): cancelled, not done
    commit()
    plan(date(2026, 6, 16))                 # after the period
    log(staff, customer)                    # a visit without a plan: not counted
    log(staff, customer, kind="call")
    foreign = interactions.plan_visit(people["other"], people["foreign"], {"planned_on": date(2026, 6, 2)}, today=may)
    commit()
    interactions.complete_visit(people["other"], foreign, {}, today=may)
    commit()

    assert interactions.visit_compliance(people["first"].id, date(2026, 6, 1), date(2026, 6, 15)) == \
        {"planned": 3, "done": 2, "rate": Decimal("0.6667")}
    assert interactions.visit_compliance(people["second"].id, date(2026, 6, 1), date(2026, 6, 15)) == \
        {"planned": 1, "done": 1, "rate": Decimal("1.0000")}
    assert interactions.visit_compliance(people["first"].id, date(2026, 7, 1), date(2026, 7, 31)) == \
        {"planned": 0, "done": 0, "rate": None}
