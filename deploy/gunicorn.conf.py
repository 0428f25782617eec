"""Example gunicorn configuration for a DMS web node (an example: adapt it, see docs/deploy.md).

    gunicorn -c deploy/gunicorn.conf.py wsgi:app

Every setting can be overridden from the environment, so one file serves the container, the systemd
unit and the scale-out test (tests/scaleout), which starts two nodes with it:

    GUNICORN_BIND      where to listen (default 0.0.0.0:8000; behind a load balancer on a private network)
    WEB_CONCURRENCY    worker processes (default 2 x CPU cores, the figure the order benchmark uses)
    GUNICORN_THREADS   threads per worker (default 1: sync workers; each request holds one DB connection)
    GUNICORN_TIMEOUT   seconds before a silent worker is killed and replaced (default 60)
    FORWARDED_ALLOW_IPS  addresses of the load balancer whose X-Forwarded-* headers are trusted
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    """An integer setting from the environment."""
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = _int("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count())
threads = _int("GUNICORN_THREADS", 1)
# Requests are short (the PDFs and the settlement run in RQ workers): a minute is generous.
timeout = _int("GUNICORN_TIMEOUT", 60)
# SIGTERM lets requests in flight finish: a rolling restart drops nothing.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Recycle workers now and then, so a slow leak never grows without bound; jitter avoids all at once.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = max_requests // 10
# Not preloaded: each worker builds its own app and its own database pool after the fork.
preload_app = False
# The heartbeat file lives in memory (containers often mount /tmp on an overlay that can stall).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - gunicorn's own advice
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Logs to standard error (journald / docker collect them); the app logs its own request ids.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%({x-request-id}o)s"'
proc_name = "dms-web"
