"""The outbox with a real Redis and a real RQ worker: queued, run, retried, relayed, never lost."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select, update

from dms.core import jobs, schedule
from dms.core.models import Job
from dms.extensions import db
from tests.core.conftest import CLOSED_REDIS_URL
from tests.core.job_functions import PREFIX

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.redis


def test_commit_puts_the_job_on_its_rq_queue_and_a_worker_runs_it(app, redis_url, burst, make_user, fresh,
                                                                     notifications):
    user = make_user("admin")
    job = jobs.enqueue(PREFIX + "notify_user", user.id, "via redis", queue="alerts")
    jobs.commit()
    row = fresh(Job, job.id)
    assert row.status == "queued" and row.enqueued_at is not None
    assert Queue("alerts", connection=Redis.from_url(redis_url)).job_ids == [jobs.rq_job_id(job.id)]
    assert notifications(user.id) == []  # nothing ran in the web process

    assert burst() is True
    row = fresh(Job, job.id)
    assert (row.status, row.attempts, row.result) == ("finished", 1, {"notified": user.id})
    assert notifications(user.id) == ["via redis"]


def test_rolled_back_job_never_reaches_redis(redis_url, make_user):
    user = make_user("admin")
    jobs.enqueue(PREFIX + "notify_user", user.id)
    db.session.rollback()
    jobs.commit()
    connection = Redis.from_url(redis_url)
    assert all(Queue(name, connection=connection).count == 0 for name in jobs.QUEUES)


def test_transient_failure_is_retried_then_succeeds(redis_url, burst, make_user, fresh, notifications):
    user = make_user("admin")
    job = jobs.enqueue(PREFIX + "flaky", user.id)
    jobs.commit()

    burst(max_jobs=1)
    row = fresh(Job, job.id)
    assert row.status == "retrying" and row.attempts == 1
    assert "ConnectionError: transient failure on attempt 1" in row.error
    assert notifications(user.id) == []  # the failed attempt's write was rolled back

    burst()
    row = fresh(Job, job.id)
    assert (row.status, row.attempts, row.error) == ("finished", 2, None)
    assert notifications(user.id) == ["succeeded on attempt 2"]


def test_a_job_that_keeps_failing_ends_failed_after_max_attempts(app, redis_url, burst, make_user, fresh):
    user = make_user("admin")
    job = jobs.enqueue(PREFIX + "always_fails", user.id)
    jobs.commit()
    burst()
    row = fresh(Job, job.id)
    assert row.status == "failed"
    assert row.attempts == app.config["JOB_MAX_ATTEMPTS"] == 3
    assert f"ValueError: permanent failure for user {user.id}" in row.error
    failed = FailedJobRegistry("default", connection=Redis.from_url(redis_url))
    assert jobs.rq_job_id(job.id) in failed.get_job_ids()


def test_single_attempt_configuration_pushes_without_retry(app, redis_url, burst, make_user, fresh):
    app.config["JOB_MAX_ATTEMPTS"] = 1
    user = make_user("admin")
    job = jobs.enqueue(PREFIX + "always_fails", user.id)
    jobs.commit()
    assert fresh(Job, job.id).status == "queued"
    burst()
    row = fresh(Job, job.id)
    assert (row.status, row.attempts) == ("failed", 1)


def test_redis_outage_loses_nothing(app, redis_url, burst, make_user, fresh, notifications):
    user = make_user("admin")
    app.config["REDIS_URL"] = CLOSED_REDIS_URL
    job = jobs.enqueue(PREFIX + "notify_user", user.id, "after the outage")
    jobs.commit()  # must not raise: the business change is committed whatever Redis does
    row = fresh(Job, job.id)
    assert row.status == "pending" and row.enqueued_at is None
    assert jobs.relay_outbox() == 0  # still down

    app.config["REDIS_URL"] = redis_url
    app.config["OUTBOX_RELAY_AFTER_SECONDS"] = 0
    assert jobs.relay_outbox() == 1
    assert fresh(Job, job.id).status == "queued"
    assert jobs.relay_outbox() == 0  # pushed once only
    burst()
    assert fresh(Job, job.id).status == "finished"
    assert notifications(user.id) == ["after the outage"]


def test_job_lost_by_redis_is_pushed_again(app, redis_url, burst, make_user, fresh, notifications):
    user = make_user("admin")
    job = jobs.enqueue(PREFIX + "notify_user", user.id, "lost and found")
    jobs.commit()
    assert fresh(Job, job.id).status == "queued"
    Redis.from_url(redis_url).flushdb()  # Redis restarted without its data
    app.config["OUTBOX_REQUEUE_AFTER_SECONDS"] = 0
    app.config["OUTBOX_RELAY_AFTER_SECONDS"] = 0
    assert jobs.relay_outbox() == 1
    burst()
    assert fresh(Job, job.id).status == "finished"
    assert notifications(user.id) == ["lost and found"]


def test_job_whose_worker_died_is_run_again_then_given_up(app, redis_url, burst, make_user, fresh, notifications):
    from datetime import timedelta

    from dms.core.time import utcnow

    user = make_user("admin")
    job = jobs.enqueue(PREFIX + "notify_user", user.id, "survived a dead worker")
    jobs.commit()
    # A worker claimed it and was killed: the row says running, long past the job timeout.
    long_ago = utcnow() - timedelta(seconds=app.config.get("JOB_TIMEOUT", 1800) + 120)
    db.session.execute(update(Job).where(Job.id == job.id).values(status="running", started_at=long_ago,
                                                                      attempts=1))
    db.session.commit()
    app.config["OUTBOX_RELAY_AFTER_SECONDS"] = 0
    assert jobs.relay_outbox() == 1
    burst()
    assert fresh(Job, job.id).status == "finished" and fresh(Job, job.id).attempts == 2
    assert notifications(user.id) == ["survived a dead worker"]

    spent = jobs.enqueue(PREFIX + "notify_user", user.id, "never")
    jobs.commit()
    db.session.execute(update(Job).where(Job.id == spent.id).values(
        status="running", started_at=long_ago, attempts=app.config["JOB_MAX_ATTEMPTS"]))
    db.session.commit()
    jobs.relay_outbox()
    assert fresh(Job, spent.id).status == "failed" and "stopped" in fresh(Job, spent.id).error


def test_duplicate_push_of_a_finished_job_changes_nothing(redis_url, burst, make_user, fresh, notifications):
    user = make_user("admin")
    job = jobs.enqueue(PREFIX + "notify_user", user.id, "once")
    jobs.commit()
    burst()
    finished_at = fresh(Job, job.id).finished_at
    assert jobs.push([job.id]) == 0  # not pending any more
    # A message delivered twice by RQ (e.g. a relay racing a slow push) is skipped by the runner.
    jobs.rq_queue("default").enqueue("dms.core.jobs.execute", job.id)
    burst()
    row = fresh(Job, job.id)
    assert (row.status, row.attempts, row.finished_at) == ("finished", 1, finished_at)
    assert notifications(user.id) == ["once"]


def test_push_skips_a_job_that_is_no_longer_pending(redis_url, make_user, fresh):
    user = make_user("admin")
    job = jobs.enqueue(PREFIX + "notify_user", user.id)
    db.session.commit()  # committed without dispatch: still pending
    db.session.info.pop("dms_committed_jobs", None)
    jobs.run_in_process(job.id)  # a worker got there first
    assert jobs.push([job.id]) == 0
    assert fresh(Job, job.id).status == "finished"


# --- periodic jobs and worker.py ---------------------------------------------------------------

def test_periodic_registry_builds_the_cron_scheduler(redis_url):
    import worker

    schedule.register(PREFIX + "periodic_ping", cron="0 8 * * *", queue="alerts")
    try:
        scheduler = schedule.build_cron_scheduler(Redis.from_url(redis_url))
        registered = {job.name: job for job in scheduler.get_jobs()}
        relay = registered["dms.core.jobs.relay_outbox"]
        assert (relay.interval, relay.queue_name, relay.args) == (30, "default", ("dms.core.jobs.relay_outbox",))
        assert relay.func is schedule.run_periodic
        ping = registered[PREFIX + "periodic_ping"]
        assert (ping.cron, ping.queue_name) == ("0 8 * * *", "alerts")
    finally:
        schedule.PERIODIC[:] = [p for p in schedule.PERIODIC if p.func != PREFIX + "periodic_ping"]
    with pytest.raises(ValueError):
        schedule.register(PREFIX + "periodic_ping")
    with pytest.raises(ValueError):
        schedule.register(PREFIX + "periodic_ping", interval=5, queue="nope")

    args = worker.parse_args(["--no-cron", "--queues", "reports"])
    assert args.no_cron and args.queues == ["reports"] and not args.cron_only


def test_cron_enqueued_relay_runs_in_the_worker(app, redis_url, burst, make_user, fresh, notifications):
    user = make_user("admin")
    job = jobs.enqueue(PREFIX + "notify_user", user.id, "relayed by cron")
    db.session.commit()  # as if the push had been lost: the row is pending
    db.session.info.pop("dms_committed_jobs", None)
    app.config["OUTBOX_RELAY_AFTER_SECONDS"] = 0
    scheduler = schedule.build_cron_scheduler(Redis.from_url(redis_url))
    due = scheduler.enqueue_jobs()
    assert "dms.core.jobs.relay_outbox" in [j.name for j in due]
    burst()  # runs the relay, which queues the job, which the same burst then runs
    assert fresh(Job, job.id).status == "finished"
    assert notifications(user.id) == ["relayed by cron"]


def test_run_periodic_commits_in_its_own_context(make_user, notifications):
    user = make_user("admin")
    assert schedule.run_periodic(PREFIX + "periodic_ping") == user.id
    assert notifications(user.id) == ["periodic ping"]


def test_worker_help_and_missing_redis_url():
    env = {**os.environ, "DMS_ENV": "testing"}
    shown = subprocess.run([sys.executable, "worker.py", "--help"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=60)
    assert shown.returncode == 0 and "--cron-only" in shown.stdout and "--no-cron" in shown.stdout
    refused = subprocess.run([sys.executable, "worker.py", "--burst"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 2 and "REDIS_URL" in refused.stderr  # in the default locale (zh_CN)


def test_worker_script_runs_jobs_in_forked_work_horses(app, redis_url, make_user, fresh, notifications):
    user = make_user("admin")
    job = jobs.enqueue(PREFIX + "notify_user", user.id, "from worker.py")
    jobs.commit()
    assert fresh(Job, job.id).status == "queued"
    env = {**os.environ, "DMS_ENV": "development", "REDIS_URL": redis_url,
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "worker-test",
           "DMS_FIELD_KEYS": ",".join(app.config["DMS_FIELD_KEYS"])}
    ran = subprocess.run([sys.executable, "worker.py", "--burst", "--log-level", "WARNING"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert fresh(Job, job.id).status == "finished"
    assert notifications(user.id) == ["from worker.py"]
    assert db.session.scalar(select(func.count()).select_from(Job)) == 1
