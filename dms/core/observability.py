"""Request ids on every log line, and Prometheus metrics of requests, jobs and the outbox."""

import logging
import time
import uuid

from flask import Response, g, has_request_context, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import func, select

REGISTRY = CollectorRegistry()
REQUESTS = Counter("dms_http_requests_total", "HTTP requests", ["endpoint", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("dms_http_request_duration_seconds", "HTTP request latency", ["endpoint"], registry=REGISTRY)
JOBS = Gauge("dms_jobs", "Jobs by queue and state", ["queue", "state"], registry=REGISTRY)
OUTBOX = Gauge("dms_outbox_backlog", "Jobs waiting in the outbox (not yet in RQ)", registry=REGISTRY)


class RequestIdFilter(logging.Filter):
    """Put the request id (or '-') on every log record."""

    def filter(self, record):
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


def configure_logging(app):
    """One format for the app's and the libraries' logs, with the request id."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
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
        g.request_id = incoming[:64] if incoming.isascii() and incoming.strip() else uuid.uuid4().hex
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

        JOBS.clear()
        for queue, state, count in db.session.execute(
                select(Job.queue, Job.status, func.count()).group_by(Job.queue, Job.status)):
            JOBS.labels(queue, state).set(count)
        OUTBOX.set(db.session.scalar(select(func.count()).where(Job.status == "pending")) or 0)
        return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)
