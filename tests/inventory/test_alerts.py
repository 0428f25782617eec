"""Stock alerts: low stock and near expiry, once per product, warehouse, kind and day; closing; the jobs."""

import smtplib

import pytest
from sqlalchemy import func, select, update

from dms.core import jobs, schedule
from dms.core.models import Job, Notification
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import alerts, services, thresholds
from dms.inventory import jobs as alert_jobs
from dms.inventory.models import StockAlert
from tests.concurrency import race

CHECK = alerts.CHECK_JOB


def warehouse_of(distributor) -> Warehouse:
    return db.session.scalar(select(Warehouse).where(Warehouse.distributor_id == distributor.id))


def rows() -> list[tuple]:
    db.session.expire_all()
    return [(a.warehouse_id, a.product_id, a.kind, a.status) for a in
            db.session.scalars(select(StockAlert).order_by(StockAlert.id))]


def titles(user) -> list[str]:
    return list(db.session.scalars(select(Notification.title).where(Notification.user_id == user.id)
                                   .order_by(Notification.id)))


def check_jobs() -> list[Job]:
    db.session.expire_all()
    return list(db.session.scalars(select(Job).where(Job.name == CHECK).order_by(Job.id)))


def receive(warehouse, product, quantity, code="", expiry=None):
    return services.receive(None, warehouse, [{"product": product, "quantity": quantity, "batch_code": code,
                                               "expiry_date": expiry}])


@pytest.fixture
def people(make_user, make_distributor):
    """A distributor with its staff, another distributor's staff, HQ's admin, a reviewer and a courier."""
    distributor, other = make_distributor(), make_distributor()
    return {"distributor": distributor, "warehouse": warehouse_of(distributor),
            "staff": make_user("distributor", distributor_id=distributor.id),
            "stranger": make_user("distributor", distributor_id=other.id),
            "other_warehouse": warehouse_of(other),
            "admin": make_user("admin"), "reviewer": make_user("reviewer"),
            "courier": make_user("courier", distributor_id=distributor.id)}


# --- raising, dedupe, recipients ------------------------------------------------------------------

def test_low_stock_is_raised_once_and_notifies_the_distributor_and_hq(people, make_product, stock, days):
    warehouse = people["warehouse"]
    product = make_product(low_stock_threshold=10)
    stock(product, 3, warehouse=warehouse)
    raised, closed = alerts.check(warehouse)
    jobs.commit()  # also runs the after-movement check the receipt enqueued: it must add nothing
    assert [(a.kind, a.quantity, a.threshold, a.day) for a in raised] == [("low_stock", 3, 10, days(0))]
    assert closed == []
    for who in ("staff", "admin"):
        [title] = titles(people[who])
        assert product.name in title
    # No inventory.manage (reviewer), no inventory.view (courier), another distributor: not told.
    assert titles(people["reviewer"]) == titles(people["courier"]) == titles(people["stranger"]) == []

    assert alerts.check(warehouse) == ([], [])  # the same check again
    jobs.enqueue(CHECK, warehouse.id, product.id, queue="alerts")  # and as a job, the same day
    jobs.commit()
    assert rows() == [(warehouse.id, product.id, "low_stock", "open")]
    assert len(titles(people["staff"])) == len(titles(people["admin"])) == 1


def test_hq_warehouse_alerts_go_to_hq_only(people, make_product, stock, hq_warehouse):
    product = make_product(low_stock_threshold=4)
    stock(product, 1)
    alerts.check(hq_warehouse)
    jobs.commit()
    assert len(titles(people["admin"])) == 1
    assert titles(people["staff"]) == titles(people["stranger"]) == []


def test_a_retried_job_notifies_once(people, make_product, stock):
    warehouse = people["warehouse"]
    product = make_product(low_stock_threshold=5)
    receive(warehouse, product, 2)
    jobs.commit()  # the receipt's own alerts job runs in-process
    [job] = check_jobs()
    assert (job.status, job.result["raised"]) == ("finished", 1)
    # The message delivered again (a worker died after the commit): the job runs a second time.
    db.session.execute(update(Job).where(Job.id == job.id).values(status="retrying"))
    db.session.commit()
    jobs.run_in_process(job.id)
    db.session.expire_all()
    assert (job.status, job.attempts, job.result["raised"]) == ("finished", 2, 0)
    assert len(rows()) == 1 and len(titles(people["staff"])) == len(titles(people["admin"])) == 1


def test_an_alert_open_since_an_earlier_day_stays_open_without_a_new_one(people, make_product, stock, days):
    warehouse = people["warehouse"]
    product = make_product(low_stock_threshold=5)
    stock(product, 2, warehouse=warehouse)
    [alert], _ = alerts.check(warehouse, on=days(0))
    jobs.commit()
    assert alerts.check(warehouse, on=days(1)) == ([], [])
    jobs.commit()
    assert rows() == [(warehouse.id, product.id, "low_stock", "open")]
    assert db.session.get(StockAlert, alert.id).day == days(0)
    assert len(titles(people["staff"])) == 1


def test_concurrent_checks_raise_and_notify_once(app, people, make_product, stock):
    warehouse_id = people["warehouse"].id
    product = make_product(low_stock_threshold=5)
    stock(product, 1, warehouse=people["warehouse"])

    def work(_n):
        raised, _closed = alerts.check(db.session.get(Warehouse, warehouse_id))
        return len(raised)

    results = [value for _outcome, value in race(app, 4, work, {})]
    assert sorted(results, key=str) == [0, 0, 0, 1], results
    assert len(rows()) == 1
    assert len(titles(people["staff"])) == len(titles(people["admin"])) == 1


# --- closing --------------------------------------------------------------------------------------

def test_an_alert_closes_when_stock_recovers_and_reopens_quietly_the_same_day(people, make_product, stock):
    warehouse = people["warehouse"]
    product = make_product(low_stock_threshold=5)
    stock(product, 2, warehouse=warehouse)
    [alert], _ = alerts.check(warehouse)
    jobs.commit()

    receive(warehouse, product, 10)
    raised, closed = alerts.check(warehouse, [product])
    jobs.commit()
    assert raised == [] and [a.id for a in closed] == [alert.id]
    db.session.expire_all()
    assert alert.status == "closed" and alert.closed_at is not None

    services.issue(None, warehouse, product, 10, "test", 1, from_reserved=False)
    assert alerts.check(warehouse, [product.id]) == ([], [])  # today's alert opens again, no second notice
    jobs.commit()
    db.session.expire_all()
    assert (alert.status, alert.closed_at) == ("open", None)
    assert len(titles(people["staff"])) == 1


def test_near_expiry_closes_once_the_batch_is_written_off(people, make_product, stock, days):
    warehouse = people["warehouse"]
    product = make_product(tracking="batch")
    batch = stock(product, 4, "SOON", days(3), warehouse=warehouse)
    stock(product, 6, "LATER", days(300), warehouse=warehouse)
    [alert], _ = alerts.check(warehouse)
    assert (alert.kind, alert.quantity, alert.expiry_date) == ("near_expiry", 4, days(3))
    jobs.commit()
    services.write_off(None, warehouse, product, batch, 4, "damaged")
    raised, closed = alerts.check(warehouse)
    assert raised == [] and [a.id for a in closed] == [alert.id]


def test_removing_the_threshold_closes_the_alert_on_the_daily_check(people, make_product, stock):
    warehouse = people["warehouse"]
    product = make_product()
    thresholds.set_threshold(None, warehouse, product, 8)
    stock(product, 2, warehouse=warehouse)
    [alert], _ = alerts.check(warehouse)
    thresholds.set_threshold(None, warehouse, product, None)
    raised, closed = alerts.check(warehouse)
    assert raised == [] and [a.id for a in closed] == [alert.id]


# --- the conditions -------------------------------------------------------------------------------

def test_a_warehouse_threshold_overrides_the_products(people, make_product, stock, hq_warehouse):
    warehouse = people["warehouse"]
    watched, silenced, never_received = make_product(), make_product(low_stock_threshold=10), make_product()
    thresholds.set_threshold(None, warehouse, watched, 5)
    thresholds.set_threshold(None, warehouse, silenced, 0)
    thresholds.set_threshold(None, warehouse, never_received, 4)
    for warehouse_ in (warehouse, hq_warehouse):
        stock(watched, 3, warehouse=warehouse_)
        stock(silenced, 1, warehouse=warehouse_)
    raised, _ = alerts.check(warehouse)
    assert sorted((a.product_id, a.quantity, a.threshold) for a in raised) == sorted(
        [(watched.id, 3, 5), (never_received.id, 0, 4)])
    raised, _ = alerts.check(hq_warehouse)  # HQ has no override: the products' own thresholds
    assert [(a.product_id, a.threshold) for a in raised] == [(silenced.id, 10)]


def test_expired_and_reserved_stock_is_not_available(people, make_product, stock, days):
    warehouse = people["warehouse"]
    product = make_product(tracking="batch", low_stock_threshold=5)
    stock(product, 10, "OLD", days(-1), warehouse=warehouse)
    stock(product, 6, "NEW", days(200), warehouse=warehouse)
    services.reserve(None, warehouse, product, 2, "order", 1)
    found = alerts.conditions(warehouse)
    assert found == {(product.id, "low_stock"): alerts.Condition(product.id, "low_stock", 4, 5)}
    # An expired batch is not "near expiry" either (it is past it): no near-expiry alert.


def test_the_near_expiry_window_is_configurable(app, people, make_product, stock, days, monkeypatch):
    warehouse = people["warehouse"]
    product = make_product(tracking="batch")
    stock(product, 5, "A", days(20), warehouse=warehouse)
    stock(product, 1, "B", days(0), warehouse=warehouse)  # expires today: not expired yet
    monkeypatch.setitem(app.config, "NEAR_EXPIRY_DAYS", 10)
    assert alerts.conditions(warehouse) == {
        (product.id, "near_expiry"): alerts.Condition(product.id, "near_expiry", 1, None, days(0))}
    monkeypatch.setitem(app.config, "NEAR_EXPIRY_DAYS", 30)
    assert alerts.conditions(warehouse) == {
        (product.id, "near_expiry"): alerts.Condition(product.id, "near_expiry", 6, None, days(0))}
    assert app.config["NEAR_EXPIRY_DAYS"] == 30 and alerts.near_expiry_days() == 30


def test_the_default_window_comes_from_the_environment(monkeypatch):
    from dms.config import Config

    assert Config().NEAR_EXPIRY_DAYS == 30
    monkeypatch.setenv("DMS_NEAR_EXPIRY_DAYS", "45")
    assert Config().NEAR_EXPIRY_DAYS == 45


def test_unavailable_products_do_not_run_short(people, make_product, stock):
    warehouse = people["warehouse"]
    product = make_product(low_stock_threshold=5)
    stock(product, 1, warehouse=warehouse)
    product.status = "unavailable"
    db.session.commit()
    assert alerts.conditions(warehouse) == {}


# --- after movements and daily --------------------------------------------------------------------

def test_a_receipt_enqueues_one_alerts_job_per_warehouse_touched(people, make_product, hq_warehouse, make_user):
    warehouse = people["warehouse"]
    first, second = make_product(low_stock_threshold=5), make_product()
    receive(hq_warehouse, first, 2)
    receive(hq_warehouse, second, 1)
    receive(warehouse, first, 1)
    jobs.commit()  # no Redis: the jobs run in-process right after the commit
    found = check_jobs()
    assert sorted(j.args for j in found) == sorted([[hq_warehouse.id, first.id, second.id], [warehouse.id, first.id]])
    assert {(j.queue, j.status) for j in found} == {("alerts", "finished")}
    assert sorted((w, p) for w, p, _kind, _status in rows()) == sorted([(hq_warehouse.id, first.id),
                                                                          (warehouse.id, first.id)])
    assert len(titles(people["staff"])) == 1 and len(titles(people["admin"])) == 2

    make_user("admin")  # a transaction that moved nothing
    receive(warehouse, first, 1)
    db.session.rollback()  # a rolled-back receipt
    jobs.commit()
    assert len(check_jobs()) == 2  # and the jobs' own commits enqueued no further check


def test_a_movement_undone_by_a_savepoint_is_not_checked(people, make_product, hq_warehouse):
    product = make_product(low_stock_threshold=5)
    receive(hq_warehouse, product, 3)
    services.begin_stock_write()
    nested = db.session.begin_nested()
    receive(people["warehouse"], product, 1)
    nested.rollback()
    jobs.commit()
    assert [j.args for j in check_jobs()] == [[hq_warehouse.id, product.id]]


def test_the_daily_job_checks_every_active_warehouse_once_a_day(people, make_product, stock, hq_warehouse):
    product = make_product(low_stock_threshold=5)
    for warehouse in (hq_warehouse, people["warehouse"], people["other_warehouse"]):
        stock(product, 1, warehouse=warehouse)
    people["other_warehouse"].active = False
    db.session.commit()
    assert any(p.func == "dms.inventory.jobs.check_all_stock_alerts" and p.cron and p.queue == "alerts"
               for p in schedule.PERIODIC)

    assert schedule.run_periodic("dms.inventory.jobs.check_all_stock_alerts") == {"warehouses": 2}
    assert sorted(w for w, _p, _k, _s in rows()) == sorted([hq_warehouse.id, people["warehouse"].id])
    daily = [j for j in check_jobs() if j.key]
    assert len(daily) == 2 and all(j.status == "finished" and j.args == [j.args[0]] for j in daily)

    schedule.run_periodic("dms.inventory.jobs.check_all_stock_alerts")  # a scheduler restart: again
    assert len([j for j in check_jobs() if j.key]) == 2 and len(rows()) == 2
    assert len(titles(people["admin"])) == 2 and len(titles(people["staff"])) == 1


def test_a_check_of_a_deleted_warehouse_does_nothing():
    assert alert_jobs.check_stock_alerts(999999) == {"warehouse": 999999, "raised": 0, "closed": 0}


# --- mail -----------------------------------------------------------------------------------------

def test_alerts_are_mailed_once_when_mail_is_configured(app, make_user, make_distributor, make_product, stock,
                                                        monkeypatch):
    sent = []

    class FakeSMTP:  # the SMTP transport only: what is sent, and how often, is what is tested
        def __init__(self, host, port, timeout=None):
            assert host == "mail.example.com"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def send_message(self, message):
            sent.append(message)

    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    distributor = make_distributor()
    staff = make_user("distributor", distributor_id=distributor.id, email="stock@agent.example.com")
    make_user("distributor", distributor_id=distributor.id)  # no address: notified, not mailed
    make_user("admin", email="hq@example.com")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "mail.example.com")
    warehouse = warehouse_of(distributor)
    product = make_product(low_stock_threshold=5)
    stock(product, 1, warehouse=warehouse)
    alerts.check(warehouse)
    jobs.commit()
    alerts.check(warehouse)
    jobs.commit()
    assert sorted(m["To"] for m in sent) == ["hq@example.com", "stock@agent.example.com"]
    assert all(product.name in m["Subject"] for m in sent)
    mails = db.session.scalars(select(Job).where(Job.name == alerts.MAIL_JOB)).all()
    assert len(mails) == 2 and {j.status for j in mails} == {"finished"}
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.user_id == staff.id)) == 1
