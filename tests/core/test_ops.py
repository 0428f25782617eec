"""Operations: /healthz, /metrics, request ids in responses and log lines."""

import logging
import re

from dms.core import jobs
from dms.core.models import Job
from dms.core.observability import LOG_FORMAT
from dms.extensions import db
from tests.core.conftest import CLOSED_REDIS_URL


def test_healthz_is_ok_with_the_database_up(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.get_json()
    assert data["status"] == "ok" and data["checks"]["database"] == "ok"
    assert data["checks"]["redis"].startswith("not configured")


def test_healthz_is_degraded_but_200_when_redis_is_unreachable(app, client, monkeypatch):
    """Without Redis pages and orders still work (jobs wait in the outbox): the node must stay in the pool."""
    monkeypatch.setitem(app.config, "REDIS_URL", CLOSED_REDIS_URL)
    db.session.add(Job(name="a.b", status="pending", queue="default"))
    jobs.commit()
    response = client.get("/healthz")
    assert response.status_code == 200
    data = response.get_json()
    assert data["status"] == "degraded"
    assert data["checks"]["database"] == "ok"
    assert data["checks"]["redis"].startswith("error: ")
    assert data["outbox"] == 1


def test_healthz_is_503_when_the_database_is_unreachable(app, client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    data = response.get_json()
    assert data["status"] == "unavailable" and data["checks"]["database"].startswith("error: ")


def test_metrics_expose_requests_latency_jobs_and_outbox(client):
    client.get("/login")
    client.get("/healthz")
    db.session.add_all([Job(name="a.b", status="pending", queue="default"),
                        Job(name="a.c", status="pending", queue="default"),
                        Job(name="a.d", status="failed", queue="reports")])
    jobs.commit()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert re.search(r'dms_http_requests_total\{endpoint="accounts\.login",method="GET",status="200"\} [1-9]', text)
    assert re.search(r'dms_http_requests_total\{endpoint="core\.healthz",method="GET",status="200"\} [1-9]', text)
    assert 'dms_http_request_duration_seconds_bucket{endpoint="accounts.login",le="0.005"}' in text
    assert 'dms_http_request_duration_seconds_count{endpoint="accounts.login"}' in text
    assert 'dms_jobs{queue="default",state="pending"} 2.0' in text
    assert 'dms_jobs{queue="reports",state="failed"} 1.0' in text
    assert "dms_outbox_backlog 2.0" in text


def test_metrics_token_when_configured(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-me")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).status_code == 200


def test_request_id_is_kept_or_generated_and_echoed(client):
    assert client.get("/healthz", headers={"X-Request-ID": "edge-4711"}).headers["X-Request-ID"] == "edge-4711"
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    # Anything that is not a plain token is not copied into the logs.
    replaced = client.get("/healthz", headers={"X-Request-ID": "evil id; drop"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)


def test_request_id_appears_in_log_lines(app, caplog):
    caplog.set_level(logging.INFO)
    with app.test_request_context("/healthz", headers={"X-Request-ID": "trace-42"}):
        app.preprocess_request()
        logging.getLogger("dms.test").info("inside the request")
    record = next(r for r in caplog.records if r.getMessage() == "inside the request")
    assert record.request_id == "trace-42"
    # The app's log format writes it into the line.
    assert "[trace-42] dms.test: inside the request" in logging.Formatter(LOG_FORMAT).format(record)
    logging.getLogger("dms.test").info("outside any request")
    assert caplog.records[-1].request_id == "-"
