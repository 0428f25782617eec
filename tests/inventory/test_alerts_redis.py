"""The alerts job through a real Redis and a real RQ worker: on the alerts queue, run twice, notified once."""

import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import select, update

from dms.core import jobs
from dms.core.models import Job, Notification
from dms.extensions import db
from dms.inventory import alerts, services
from dms.inventory.models import StockAlert
from tests.core.conftest import burst, fresh, redis_url  # noqa: F401 - the Redis fixtures, shared

pytestmark = pytest.mark.redis


def test_the_alerts_job_runs_on_rq_twice_and_notifies_once(app, redis_url, burst, fresh, make_user,  # noqa: F811
                                                             make_product, hq_warehouse):
    admin = make_user("admin")
    product = make_product(low_stock_threshold=5)
    services.receive(None, hq_warehouse, [{"product": product, "quantity": 2}])
    jobs.commit()
    [job] = db.session.scalars(select(Job).where(Job.name == alerts.CHECK_JOB)).all()
    assert fresh(Job, job.id).status == "queued"
    assert Queue("alerts", connection=Redis.from_url(redis_url)).job_ids == [jobs.rq_job_id(job.id)]
    assert db.session.scalars(select(StockAlert)).all() == []  # nothing ran in the web process

    assert burst() is True
    row = fresh(Job, job.id)
    assert (row.status, row.attempts, row.result["raised"]) == ("finished", 1, 1)

    # Delivered again (a worker lost after its commit, the relay pushing it back): it runs a second time.
    db.session.execute(update(Job).where(Job.id == job.id).values(status="pending"))
    db.session.commit()
    assert jobs.push([job.id]) == 1
    burst()
    row = fresh(Job, job.id)
    assert (row.status, row.attempts, row.result["raised"]) == ("finished", 2, 0)
    # And a second check of the same warehouse the same day, its own job.
    jobs.enqueue(alerts.CHECK_JOB, hq_warehouse.id, product.id, queue="alerts")
    jobs.commit()
    burst()
    assert len(db.session.scalars(select(StockAlert)).all()) == 1
    assert len(db.session.scalars(select(Notification).where(Notification.user_id == admin.id)).all()) == 1
