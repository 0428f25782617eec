"""Request ids on every log line, and Prometheus metrics of requests, jobs and the outbox.

Every log record carries `request_id`: the X-Request-ID of the request (an incoming plain token is
kept, else one is generated; it is echoed in the response), `job-<id>` inside a background job, or
'-'. /metrics is open unless METRICS_TOKEN is set, then it wants `Authorization: Bearer <token>`.
"""

import hmac
import logging
import re
import sys
import time
import uuid

from flask import Response, abort, current_app, g, has_request_context, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
REGISTRY = CollectorRegistry()
REQUESTS = Counter("dms_http_requests_total", "HTTP requests", ["endpoint", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("dms_http_request_duration_seconds", "HTTP request latency", ["endpoint"], registry=REGISTRY)
JOBS = Gauge("dms_jobs", "Jobs by queue and state", ["queue", "state"], registry=REGISTRY)
OUTBOX = Gauge("dms_outbox_backlog", "Jobs waiting in the outbox (not yet in RQ)", registry=REGISTRY)


# An incoming id is kept only if it is a plain token: it is copied into every log line.
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def current_request_id() -> str:
    """The request id, `job-<id>` inside a background job, else '-'."""
    if has_request_context():
        return g.get("request_id", "-")
    jobs = sys.modules.get("dms.core.jobs")  # not imported yet means no job is running
    job_id = jobs.current_job_id() if jobs else None
    return f"job-{job_id}" if job_id is not None else "-"


class RequestIdFilter(logging.Filter):
    """Put the request id (or '-') on every log record."""

    def filter(self, record):
        record.request_id = current_request_id()
        return True


def _install_record_factory():
    # A record factory (not only a handler filter) so that every handler sees the id, pytest's too.
    previous = logging.getLogRecordFactory()
    if getattr(previous, "dms_request_id", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.request_id = current_request_id()
        return record

    factory.dms_request_id = True
    logging.setLogRecordFactory(factory)


def configure_logging(app):
    """One format for the app's and the libraries' logs, with the request id."""
    _install_record_factory()
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    if not any(isinstance(f, RequestIdFilter) for h in root.handlers for f in h.filters):
        root.addHandler(handler)
    root.setLevel(logging.INFO if not app.debug else logging.DEBUG)
    app.logger.handlers.clear()
    app.logger.propagate = True


def register(app):
    """Request ids, request metrics, and the /metrics endpoint."""
    configure_logging(app)

    @app.before_request
    def start_request():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def finish_request(response):
        endpoint = request.endpoint or "unknown"
        if "started" in g:
            LATENCY.labels(endpoint).observe(time.perf_counter() - g.started)
        REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response

    @app.get("/metrics")
    def metrics():
        """Prometheus text exposition: requests, latencies, jobs by queue and state, outbox backlog."""
        from dms.core.models import Job
        from dms.extensions import db

        token = current_app.config.get("METRICS_TOKEN")
        if token and not hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}"):
            abort(401)
        JOBS.clear()
        for queue, state, count in db.session.execute(
                select(Job.queue, Job.status, func.count()).group_by(Job.queue, Job.status)):
            JOBS.labels(queue, state).set(count)
        OUTBOX.set(db.session.scalar(select(func.count()).where(Job.status == "pending")) or 0)
        return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)


def health() -> tuple[dict, int]:
    """The health report and its HTTP status: `ok` 200, `degraded` 200 (Redis down), `unavailable` 503 (database).

    Without Redis the app still serves pages and takes orders: jobs wait in the outbox and the relay pushes
    them when Redis is back, so a load balancer must keep the node (200). Without the database nothing
    works: 503 takes the node out. `outbox` is the number of jobs waiting to be pushed (null when unknown).
    """
    from redis import Redis
    from sqlalchemy import text

    from dms.core.models import Job
    from dms.core.time import utcnow
    from dms.extensions import db

    checks, outbox = {}, None
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
        outbox = db.session.scalar(select(func.count()).where(Job.status == "pending")) or 0
    except Exception as exc:  # report, do not raise: this is the health endpoint
        db.session.rollback()
        checks["database"] = f"error: {exc.__class__.__name__}"
    url = current_app.config.get("REDIS_URL")
    if url:
        try:
            client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            try:
                client.ping()
            finally:
                client.close()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {exc.__class__.__name__}"
    else:
        checks["redis"] = "not configured (jobs run in-process)"
    if checks["database"] != "ok":
        status, code = "unavailable", 503
    elif checks["redis"].startswith("error"):
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return {"status": status, "checks": checks, "outbox": outbox, "time": utcnow().isoformat() + "Z"}, code
