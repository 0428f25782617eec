"""Background work through an outbox (DESIGN.md convention 8).

`enqueue(...)` adds a Job row in the caller's transaction. When that transaction commits through
`commit()`, the new rows are dispatched: pushed to RQ when REDIS_URL is set, otherwise run
in-process at once. A rolled-back transaction (or savepoint) leaves no row and so enqueues nothing;
a row that could not be pushed (Redis down) stays `pending` and `relay_outbox` pushes it later.
Delivery is at least once: job functions take ids, and the runner claims a job atomically and skips
one that is running or over, so a duplicate push changes nothing.

Statuses: pending (outbox) -> queued (in RQ) -> running -> finished | retrying -> ... | failed.
A job that raises under RQ is retried by RQ's Retry until JOB_MAX_ATTEMPTS, then ends `failed`;
in-process there is no one to retry later, so a failure is final at once.

Always end a unit of work with `dms.core.jobs.commit()`: a plain `db.session.commit()` stores the
rows but leaves dispatching to the next `commit()` of that session or to the relay.
"""

import importlib
import logging
import os
import traceback
from contextvars import ContextVar
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import and_, event, inspect, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from dms.core.models import Job
from dms.core.rows import get_or_insert
from dms.core.time import utcnow
from dms.extensions import db

log = logging.getLogger(__name__)
QUEUES = ("default", "alerts", "reports")
_PENDING_KEY = "dms_new_jobs"  # Job objects added in the open transaction
_COMMITTED_KEY = "dms_committed_jobs"  # ids committed and not yet dispatched
_current_job: ContextVar[int | None] = ContextVar("dms_current_job", default=None)
_engine_pid = os.getpid()
_worker_app = None


def job_name(func) -> str:
    """The dotted name a job is stored under."""
    return func if isinstance(func, str) else f"{func.__module__}.{func.__qualname__}"


def rq_job_id(job_id: int) -> str:
    """The id of a job's message in RQ (stable, so a re-push replaces rather than multiplies)."""
    return f"dms-job-{job_id}"


def current_job_id() -> int | None:
    """The id of the job being run in this context, for set_progress; None outside a job."""
    return _current_job.get()


def enqueue(func, *ids, queue: str = "default", key: str | None = None, owner_id: int | None = None) -> Job:
    """Record a job in the current transaction; with a business `key` an existing job is reused."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    job = Job(name=job_name(func), args=list(ids), queue=queue, key=key, owner_id=owner_id)
    if key is None:
        db.session.add(job)
        db.session.flush()
    else:
        job, inserted = get_or_insert(job, Job.key == key)
        if not inserted:
            return job  # the business key's job exists (or a concurrent transaction just added it)
    db.session.info.setdefault(_PENDING_KEY, []).append(job)
    return job


@event.listens_for(Session, "after_commit")
def _remember_committed(session):
    # Releasing a savepoint also fires after_commit; only the outermost commit makes rows durable.
    if session.in_nested_transaction():
        return
    new = session.info.pop(_PENDING_KEY, None)
    if new:
        # The identity key needs no SQL (none may be emitted here).
        ids = [inspect(job).identity[0] for job in new if inspect(job).persistent]
        session.info.setdefault(_COMMITTED_KEY, []).extend(ids)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session, previous_transaction):
    # A rollback turns the rows it undid back into transient objects: a savepoint's rollback keeps
    # the jobs enqueued before it, the outermost rollback leaves none.
    pending = session.info.get(_PENDING_KEY)
    if pending:
        session.info[_PENDING_KEY] = [job for job in pending if inspect(job).persistent]


def commit():
    """Commit the unit of work, then dispatch the jobs it enqueued."""
    db.session.commit()
    dispatch_committed()


def dispatch_committed():
    """Dispatch the jobs this session has committed but not yet dispatched."""
    ids = db.session.info.pop(_COMMITTED_KEY, None)
    if ids:
        dispatch(ids)


_redis_clients: dict[str, object] = {}  # REDIS_URL -> client: its pool keeps connections across requests


def _redis():
    from redis import Redis

    url = current_app.config["REDIS_URL"]
    client = _redis_clients.get(url)
    if client is None:
        # Short timeouts: a request that just committed must not hang on an unreachable Redis. One client
        # per URL and process (redis-py's pool is thread-safe and reconnects after a fork), so a request
        # pushing its jobs does not open a new connection each time.
        client = _redis_clients[url] = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    return client


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


def _retry():
    from rq import Retry

    retries = current_app.config["JOB_MAX_ATTEMPTS"] - 1
    if retries < 1:
        return None  # Retry(max=0) is an error in RQ
    return Retry(max=retries, interval=list(current_app.config.get("JOB_RETRY_INTERVALS", [5, 30, 120])))


def push(ids: list[int]) -> int:
    """Push pending jobs to RQ and mark them queued; never raises. Return how many went to RQ.

    Called right after a commit, so a failure here must not look like a failure of the caller's
    (already committed) work: Redis or database trouble is logged and the jobs stay pending for
    the relay. The message goes to RQ before the row says `queued` (a crash in between means a
    second push, which the runner skips, rather than a lost job), and the row is marked only while
    still pending, so a fast worker's `running` or `finished` is never overwritten.
    """
    from redis.exceptions import RedisError

    if not ids:
        return 0
    pushed: list[int] = []
    try:
        rows = db.session.execute(select(Job.id, Job.queue, Job.name)
                                  .where(Job.id.in_(ids), Job.status == "pending")).all()
        if rows:
            conn = _redis()
            for row in rows:
                rq_queue(row.queue, conn).enqueue(
                    "dms.core.jobs.execute", row.id, job_id=rq_job_id(row.id), retry=_retry(),
                    job_timeout=current_app.config.get("JOB_TIMEOUT", 1800), description=row.name)
                pushed.append(row.id)
    except RedisError as exc:
        log.warning("redis unavailable, %d job(s) stay in the outbox: %s", len(ids) - len(pushed), exc)
    except Exception:  # the caller's work is committed; the relay will try these again
        log.exception("pushing jobs %s failed; they stay in the outbox", ids)
    try:
        if pushed:
            db.session.execute(update(Job).where(Job.id.in_(pushed), Job.status == "pending")
                               .values(status="queued", enqueued_at=utcnow()))
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("marking jobs %s queued failed; the relay may push them again", pushed)
    return len(pushed)


def run_in_process(job_id: int):
    """Run one job now, in a fresh application context (its own session and transaction)."""
    app = current_app._get_current_object()
    with app.app_context():
        try:
            _run(job_id, reraise=False)
        finally:
            db.session.remove()


def _app():
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        from dms import create_app

        _worker_app = create_app()
    return _worker_app


def execute(job_id: int):
    """The RQ entry point: run a job in its own application context and session."""
    global _engine_pid
    app = _app()
    with app.app_context():
        if os.getpid() != _engine_pid:
            # A forked work horse must not share the parent's pooled database connections.
            db.engine.dispose(close=False)
            _engine_pid = os.getpid()
        try:
            return _run(job_id, reraise=True)
        finally:
            db.session.remove()


def resolve(name: str):
    """The function a dotted name stands for."""
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _stale_running():
    """A job `running` for longer than JOB_TIMEOUT: RQ would have stopped it, so its worker died."""
    cutoff = utcnow() - timedelta(seconds=current_app.config.get("JOB_TIMEOUT", 1800) + 60)
    return and_(Job.status == "running", Job.started_at <= cutoff)


def _abandoned(conn) -> list[tuple[int, object]]:
    """(id, started_at) of `running` jobs that RQ no longer runs: their worker died (SIGKILL, lost machine).

    RQ's own abandoned-job handling decides: StartedJobRegistry.cleanup() ends every execution whose
    heartbeat expired (its worker stopped beating ~60-90 s before; see worker.py --job-monitoring-interval).
    A job is abandoned when RQ still knows it but holds no live execution of it. The rows are read before
    the registry: a row claimed later cannot be mistaken, and the caller matches started_at, so a row
    claimed again in between is left alone. A job RQ has forgotten (Redis lost its data) is not judged
    here; it waits for the JOB_TIMEOUT rule of _stale_running.
    """
    from rq.job import Job as RQJob
    from rq.registry import StartedJobRegistry

    rows = db.session.execute(select(Job.id, Job.queue, Job.started_at).where(Job.status == "running")
                              .order_by(Job.id).limit(500)).all()
    if not rows:
        return []
    live: set[str] = set()
    for name in sorted({row.queue for row in rows}):
        registry = StartedJobRegistry(name, connection=conn)
        registry.cleanup()
        live.update(job_id for job_id, _execution in registry.get_job_and_execution_ids(cleanup=False))
    return [(row.id, row.started_at) for row in rows
            if rq_job_id(row.id) not in live and RQJob.exists(rq_job_id(row.id), connection=conn)]


def _run(job_id: int, reraise: bool):
    # Claim the job atomically: a duplicate delivery of a running or finished job does nothing,
    # but a job whose worker died mid-run may be taken again (its work was rolled back with it).
    claimable = or_(Job.status.in_(("pending", "queued", "retrying")), _stale_running())
    claimed = db.session.execute(
        update(Job).where(Job.id == job_id, claimable)
        .values(status="running", started_at=utcnow(), attempts=Job.attempts + 1, error=None)
    ).rowcount
    db.session.commit()
    if not claimed:
        log.info("job %s already taken or done; skipped", job_id)
        return None
    job = db.session.get(Job, job_id)
    name, args = job.name, list(job.args or [])
    token = _current_job.set(job_id)
    try:
        result = resolve(name)(*args)
        # The job's work and its `finished` commit together: never one without the other.
        job = db.session.get(Job, job_id)
        job.status, job.progress, job.finished_at = "finished", 100, utcnow()
        if isinstance(result, dict):
            job.result = result
        db.session.commit()
    except Exception as exc:  # the job's own work is rolled back; its status survives
        db.session.rollback()
        job = db.session.get(Job, job_id)
        final = job.attempts >= current_app.config["JOB_MAX_ATTEMPTS"] or not reraise
        job.status = "failed" if final else "retrying"
        job.error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
        job.finished_at = utcnow() if final else None
        db.session.commit()
        log.exception("job %s (%s) failed on attempt %s%s", job_id, name, job.attempts,
                      "" if final else ", will be retried")
        if reraise:
            raise
        return None
    finally:
        _current_job.reset(token)
    dispatch_committed()  # jobs the job itself enqueued
    # Only a dict result is kept (on the row); RQ would otherwise pickle whatever came back, ORM rows included.
    return result if isinstance(result, dict) else None


def set_progress(job_id: int | None, progress: int, message: str = ""):
    """Report a job's progress (0-100) and a short message for its status fragment.

    On PostgreSQL it is written in its own transaction, so pollers see it at once while the job's
    work stays uncommitted. SQLite has a single writer, and the job holds the write lock, so there
    it rides in the job's transaction and shows when the job ends.
    """
    job_id = job_id if job_id is not None else current_job_id()
    if job_id is None:
        return
    stmt = update(Job).where(Job.id == job_id).values(progress=max(0, min(int(progress), 100)),
                                                       message=message[:255])
    if db.engine.dialect.name == "sqlite":
        db.session.execute(stmt)
    else:
        with db.engine.begin() as connection:
            connection.execute(stmt)


def relay_outbox() -> int:
    """Periodic: push jobs still pending after OUTBOX_RELAY_AFTER_SECONDS, and lost ones again.

    Pending jobs are those whose push failed (Redis was down). A job `queued` or `retrying` for
    longer than OUTBOX_REQUEUE_AFTER_SECONDS whose RQ message no longer exists (Redis lost its data)
    goes back to pending and is pushed again. So does a job `running` whose worker died: RQ holds no
    live execution of it (`_abandoned`), or it has been running for longer than JOB_TIMEOUT; its
    partial work was rolled back with the dead worker's transaction, or is skipped by the job's
    business keys. Return how many jobs went to RQ.
    """
    if not current_app.config.get("REDIS_URL"):
        return 0
    from redis.exceptions import RedisError
    from rq.job import Job as RQJob

    now = utcnow()
    requeue_cutoff = now - timedelta(seconds=current_app.config.get("OUTBOX_REQUEUE_AFTER_SECONDS", 3600))
    stale = list(db.session.scalars(select(Job.id).where(
        Job.status.in_(("queued", "retrying")), Job.enqueued_at <= requeue_cutoff).limit(500)))
    if stale:
        try:
            conn = _redis()
            lost = [i for i in stale if not RQJob.exists(rq_job_id(i), connection=conn)]
        except RedisError as exc:
            log.warning("redis unavailable, cannot look for lost jobs: %s", exc)
            lost = []
        if lost:
            log.warning("jobs %s were lost by Redis; back to the outbox", lost)
            db.session.execute(update(Job).where(Job.id.in_(lost), Job.status.in_(("queued", "retrying")))
                               .values(status="pending"))
        db.session.commit()
    # Jobs whose worker died mid-run (RQ found their execution abandoned, or they outlived JOB_TIMEOUT):
    # back to the outbox, or failed once they have had every attempt.
    try:
        abandoned = _abandoned(_redis())
    except RedisError as exc:
        log.warning("redis unavailable, cannot look for abandoned jobs: %s", exc)
        abandoned = []
    if abandoned:
        log.warning("jobs %s were abandoned by a worker that stopped; back to the outbox", [i for i, _ in abandoned])
    dead = or_(_stale_running(), *[and_(Job.id == i, Job.status == "running", Job.started_at == started)
                                   for i, started in abandoned])
    max_attempts = current_app.config["JOB_MAX_ATTEMPTS"]
    db.session.execute(update(Job).where(dead, Job.attempts >= max_attempts).values(
        status="failed", finished_at=now, error="the worker running this job stopped before it finished"))
    db.session.execute(update(Job).where(dead, Job.attempts < max_attempts).values(status="pending"))
    db.session.commit()
    cutoff = now - timedelta(seconds=current_app.config["OUTBOX_RELAY_AFTER_SECONDS"])
    ids = list(db.session.scalars(select(Job.id).where(Job.status == "pending", Job.created_at <= cutoff)
                                  .order_by(Job.id).limit(500)))
    return push(ids) if ids else 0
