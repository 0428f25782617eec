"""Background work through an outbox (DESIGN.md convention 8).

`enqueue(...)` adds a Job row in the caller's transaction. When that transaction commits, the new
rows are dispatched: pushed to RQ when REDIS_URL is set, otherwise run in-process at once. A
rolled-back transaction leaves no row and so enqueues nothing; a row that could not be pushed
(Redis down) stays `pending` and `relay_outbox` pushes it later. Job functions take ids, and the
runner skips a job that already finished, so a duplicate push changes nothing.
"""

import importlib
import logging
import traceback

from flask import current_app, has_app_context
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from dms.core.models import Job
from dms.core.time import utcnow
from dms.extensions import db

log = logging.getLogger(__name__)
QUEUES = ("default", "alerts", "reports")
_PENDING_KEY = "dms_new_jobs"


def job_name(func) -> str:
    """The dotted name a job is stored under."""
    return func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"


def enqueue(func, *ids, queue: str = "default", key: str | None = None, owner_id: int | None = None) -> Job:
    """Record a job in the current transaction; with a business `key` an existing job is reused."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    if key is not None:
        existing = db.session.scalar(select(Job).where(Job.key == key))
        if existing is not None:
            return existing
    job = Job(name=job_name(func), args=list(ids), queue=queue, key=key, owner_id=owner_id)
    db.session.add(job)
    db.session.flush()
    db.session.info.setdefault(_PENDING_KEY, []).append(job.id)
    return job


@event.listens_for(Session, "after_commit")
def _remember_committed(session):
    new = session.info.pop(_PENDING_KEY, None)
    if new:
        session.info.setdefault("dms_committed_jobs", []).extend(new)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction):
    session.info.pop(_PENDING_KEY, None)


def commit():
    """Commit the unit of work, then dispatch the jobs it enqueued."""
    db.session.commit()
    ids = db.session.info.pop("dms_committed_jobs", None)
    if ids:
        dispatch(ids)


def _redis():
    from redis import Redis

    return Redis.from_url(current_app.config["REDIS_URL"])


def rq_queue(name: str, connection=None):
    """The RQ queue of that name on the configured Redis."""
    from rq import Queue

    return Queue(name, connection=connection or _redis())


def dispatch(ids: list[int]):
    """Push committed jobs to RQ, or run them in-process when no Redis is configured."""
    if current_app.config.get("REDIS_URL"):
        push(ids)
    else:
        for job_id in ids:
            run_in_process(job_id)


def push(ids: list[int]) -> int:
    """Push pending jobs to RQ; leave them pending if Redis is unreachable. Return how many went."""
    from redis.exceptions import RedisError
    from rq import Retry

    pushed = 0
    try:
        conn = _redis()
        for job in db.session.scalars(select(Job).where(Job.id.in_(ids), Job.status == "pending")):
            rq_queue(job.queue, conn).enqueue(
                "dms.core.jobs.execute", job.id, job_id=f"dms-job-{job.id}-{job.attempts}",
                retry=Retry(max=current_app.config["JOB_MAX_ATTEMPTS"] - 1, interval=[5, 30, 120]),
                description=job.name,
            )
            job.status, job.enqueued_at = "queued", utcnow()
            pushed += 1
    except RedisError as exc:
        log.warning("redis unavailable, %d job(s) stay in the outbox: %s", len(ids) - pushed, exc)
    db.session.commit()
    return pushed


def run_in_process(job_id: int):
    """Run one job now, in a fresh application context (its own session and transaction)."""
    app = current_app._get_current_object()
    with app.app_context():
        try:
            _run(job_id, reraise=False)
        finally:
            db.session.remove()


def execute(job_id: int):
    """The RQ entry point: run a job inside an application context of the worker's app."""
    if has_app_context():
        return _run(job_id, reraise=True)
    from dms import create_app

    with create_app().app_context():
        try:
            return _run(job_id, reraise=True)
        finally:
            db.session.remove()


def _resolve(name: str):
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _run(job_id: int, reraise: bool):
    # Claim the job atomically: a duplicate delivery of a running or finished job does nothing.
    claimed = db.session.execute(
        update(Job).where(Job.id == job_id, Job.status.in_(("pending", "queued", "retrying")))
        .values(status="running", started_at=utcnow(), attempts=Job.attempts + 1)
    ).rowcount
    db.session.commit()
    if not claimed:
        log.info("job %s already taken or done; skipped", job_id)
        return None
    job = db.session.get(Job, job_id)
    try:
        result = _resolve(job.name)(*job.args)
        db.session.commit()
    except Exception as exc:  # the job's own work is rolled back; its status survives
        db.session.rollback()
        job = db.session.get(Job, job_id)
        final = job.attempts >= current_app.config["JOB_MAX_ATTEMPTS"] or not reraise
        job.status = "failed" if final else "retrying"
        job.error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
        job.finished_at = utcnow() if final else None
        db.session.commit()
        log.exception("job %s (%s) failed", job_id, job.name)
        if reraise:
            raise
        return None
    job = db.session.get(Job, job_id)
    job.status, job.progress, job.finished_at = "finished", 100, utcnow()
    if isinstance(result, dict):
        job.result = result
    db.session.commit()
    return result


def set_progress(job_id: int, progress: int, message: str = ""):
    """Report progress from inside a job (committed at once so the status fragment shows it)."""
    db.session.execute(update(Job).where(Job.id == job_id)
                       .values(progress=max(0, min(progress, 100)), message=message[:255]))
    db.session.commit()


def relay_outbox() -> int:
    """Periodic: push jobs still pending after OUTBOX_RELAY_AFTER_SECONDS (e.g. Redis was down)."""
    from datetime import timedelta

    if not current_app.config.get("REDIS_URL"):
        return 0
    cutoff = utcnow() - timedelta(seconds=current_app.config["OUTBOX_RELAY_AFTER_SECONDS"])
    ids = list(db.session.scalars(select(Job.id).where(Job.status == "pending", Job.created_at <= cutoff).limit(500)))
    return push(ids) if ids else 0
