"""The DMS background worker: an RQ worker on the queues, plus the periodic-job scheduler.

    python worker.py                 # worker on default, alerts, reports + the cron scheduler beside it
    python worker.py --no-cron       # worker only (run as many of these as the load needs)
    python worker.py --cron-only     # the cron scheduler only (run exactly one per deployment)
    python worker.py --queues reports --no-cron   # a worker dedicated to one queue
    python worker.py --burst         # work until the queues are empty, then exit (no cron)

REDIS_URL must be set (without it the web app runs jobs in-process and there is nothing to do).
The worker runs RQ's own scheduler (with_scheduler=True), which moves jobs whose Retry interval has
elapsed back onto their queue. Periodic jobs come from dms/core/schedule.py (PERIODIC); a second
cron scheduler would enqueue each periodic job twice, which is harmless (they are idempotent) but
wasteful, hence one `--cron-only` process and many `--no-cron` workers when scaling out.

A worker killed mid-job (SIGKILL, a lost machine) stops renewing its job's heartbeat; RQ counts the job
abandoned 60 s after the last heartbeat (renewed every --job-monitoring-interval seconds), and the outbox
relay (every 30 s) then pushes it again for a live worker (dms.core.jobs.relay_outbox).
"""

import argparse
import multiprocessing
import sys

from dms.core.jobs import QUEUES

MAINTENANCE_INTERVAL = 60  # seconds between RQ's maintenance rounds (registry cleanup, scheduler restart)


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description="DMS background worker (RQ) and periodic-job scheduler.")
    parser.add_argument("--queues", nargs="+", choices=QUEUES, default=list(QUEUES),
                        help="queues to work on, in priority order (default: all)")
    cron = parser.add_mutually_exclusive_group()
    cron.add_argument("--no-cron", action="store_true", help="do not run the periodic-job scheduler")
    cron.add_argument("--cron-only", action="store_true", help="run only the periodic-job scheduler")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty (implies --no-cron)")
    parser.add_argument("--simple", action="store_true",
                        help="run jobs in the worker process instead of a forked child (debugging, macOS)")
    parser.add_argument("--job-monitoring-interval", type=int, default=30, metavar="SECONDS",
                        help="how often a running job's heartbeat is renewed; a job whose worker died is seen "
                             "abandoned 60 s after its last heartbeat (default: 30, RQ's)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def _connection(app):
    from redis import Redis

    return Redis.from_url(app.config["REDIS_URL"])


def run_cron(log_level: str = "INFO"):
    """Run the cron scheduler until stopped (the target of the scheduler's own process)."""
    from dms import create_app
    from dms.core.schedule import build_cron_scheduler

    app = create_app()
    with app.app_context():
        scheduler = build_cron_scheduler(_connection(app))
        scheduler.log.setLevel(log_level)
        scheduler.start()


def build_worker(app, queues, simple: bool = False, job_monitoring_interval: int = 30):
    """An RQ worker for the queues on the app's Redis."""
    from rq import SimpleWorker, Worker
    from sqlalchemy.orm import configure_mappers

    # Configure the ORM once here: every work horse RQ forks inherits it, instead of paying ~0.5 s per job.
    configure_mappers()
    connection = _connection(app)
    worker_class = SimpleWorker if simple else Worker
    # RQ restarts its scheduler (delayed retries) only in its maintenance round, every 10 minutes by default:
    # after a Redis outage killed it, or a dead worker held its lock, retries waited that long. Every minute.
    return worker_class(list(queues), connection=connection, job_monitoring_interval=max(1, job_monitoring_interval),
                        maintenance_interval=MAINTENANCE_INTERVAL)


def main(argv=None) -> int:
    """Start the worker and/or the cron scheduler as the options say."""
    args = parse_args(argv)
    from flask_babel import gettext as _

    from dms import create_app

    app = create_app()
    with app.app_context():
        if not app.config.get("REDIS_URL"):
            print(_("REDIS_URL is not set: the worker needs Redis (without it jobs run inside the web process)."),
                  file=sys.stderr)
            return 2
        if args.cron_only:
            run_cron(args.log_level)
            return 0
        cron_process = None
        if not (args.no_cron or args.burst):
            # Its own process: the cron loop blocks and installs its own signal handlers.
            cron_process = multiprocessing.Process(target=run_cron, args=(args.log_level,), name="dms-cron",
                                                   daemon=True)
            cron_process.start()
        try:
            worker = build_worker(app, args.queues, simple=args.simple,
                                  job_monitoring_interval=args.job_monitoring_interval)
            worker.work(burst=args.burst, with_scheduler=True, logging_level=args.log_level)
        finally:
            if cron_process is not None and cron_process.is_alive():
                cron_process.terminate()
                cron_process.join(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
