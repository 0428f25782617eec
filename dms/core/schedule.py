"""Periodic jobs: the one registry the worker's cron scheduler reads.

An area adds its periodic work where create_app will import it (e.g. in its `init_app`):

    from dms.core.schedule import register
    register("dms.inventory.jobs.expiry_alerts", cron="0 8 * * *", queue="alerts")

Cron expressions are read in the worker's local time zone (rq.cron); run the scheduler with
TZ=Asia/Shanghai (DMS_TIMEZONE) so "08:00" means business hours. Periodic functions take no
argument, run inside an application context (`run_periodic`) and must be idempotent: a scheduler
restart may run one twice.
"""

from dataclasses import dataclass

from dms.core.jobs import QUEUES


@dataclass(frozen=True)
class Periodic:
    """A function (dotted name) run every `interval` seconds or on a `cron` schedule, on a queue."""

    func: str
    interval: int | None = None
    cron: str | None = None
    queue: str = "default"
    timeout: int | None = None


PERIODIC: list[Periodic] = []


def register(func: str, *, interval: int | None = None, cron: str | None = None, queue: str = "default",
             timeout: int | None = None) -> Periodic:
    """Add (or replace, by function name) a periodic job; exactly one of interval and cron."""
    if (interval is None) == (cron is None):
        raise ValueError("give exactly one of interval and cron")
    if interval is not None and interval < 1:
        raise ValueError("interval must be at least one second")
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    entry = Periodic(func, interval, cron, queue, timeout)
    # Registration happens at import time, which may run more than once (several apps in tests).
    PERIODIC[:] = [p for p in PERIODIC if p.func != func]
    PERIODIC.append(entry)
    return entry


def run_periodic(dotted_name: str):
    """Run one periodic function in an application context, commit its work and dispatch its jobs."""
    from dms.core import jobs
    from dms.extensions import db

    app = jobs._app()
    with app.app_context():
        try:
            result = jobs.resolve(dotted_name)()
            jobs.commit()
            return result
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()


def build_cron_scheduler(connection, name: str = ""):
    """An rq CronScheduler with every registered periodic job (not started)."""
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=connection, name=name)
    for periodic in PERIODIC:
        options = {"job_timeout": periodic.timeout} if periodic.timeout else {}
        scheduler.register(run_periodic, queue_name=periodic.queue, args=(periodic.func,),
                           interval=periodic.interval, cron=periodic.cron, name=periodic.func, **options)
    return scheduler


register("dms.core.jobs.relay_outbox", interval=30)
