"""Core fixtures: a real Redis for the RQ tests, a burst worker, fresh reads of rows."""

import os

import pytest

from tests.conftest import require_service

REDIS_TEST_URL = os.environ.get("DMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CLOSED_REDIS_URL = "redis://127.0.0.1:6390/0"  # nothing listens there: a Redis outage


@pytest.fixture
def redis_url(app):
    """Point the app at the test Redis database (emptied) for one test; in-process again after."""
    from redis import Redis

    require_service("Redis", REDIS_TEST_URL, 6379)
    connection = Redis.from_url(REDIS_TEST_URL)
    connection.flushdb()
    saved = {k: app.config.get(k) for k in ("REDIS_URL", "JOB_RETRY_INTERVALS", "OUTBOX_RELAY_AFTER_SECONDS",
                                            "OUTBOX_REQUEUE_AFTER_SECONDS", "JOB_MAX_ATTEMPTS")}
    app.config["REDIS_URL"] = REDIS_TEST_URL
    app.config["JOB_RETRY_INTERVALS"] = [0]  # retries go straight back on the queue
    yield REDIS_TEST_URL
    for key, value in saved.items():
        if value is None:
            app.config.pop(key, None)
        else:
            app.config[key] = value
    connection.flushdb()


@pytest.fixture
def burst(redis_url):
    """burst(max_jobs=None): a real rq.SimpleWorker works the queues in this process until empty."""
    from redis import Redis
    from rq import SimpleWorker

    from dms.core.jobs import QUEUES

    def run(max_jobs=None):
        worker = SimpleWorker(list(QUEUES), connection=Redis.from_url(redis_url))
        return worker.work(burst=True, max_jobs=max_jobs, logging_level="WARNING")

    return run


@pytest.fixture
def fresh():
    """fresh(Model, id): the row as the database has it now (another session may have changed it)."""
    from dms.extensions import db

    def get(model, ident):
        db.session.rollback()
        db.session.expire_all()
        return db.session.get(model, ident)

    return get


@pytest.fixture
def notifications():
    """notifications(user_id): the titles of the user's notifications, oldest first."""
    from sqlalchemy import select

    from dms.core.models import Notification
    from dms.extensions import db

    def titles(user_id):
        db.session.rollback()
        return list(db.session.scalars(select(Notification.title).where(Notification.user_id == user_id)
                                       .order_by(Notification.id)))

    return titles


@pytest.fixture(autouse=True)
def _loggers_enabled():
    """Re-enable the app's loggers: alembic's fileConfig in migrations/env.py disables existing ones."""
    import logging

    for name, logger in logging.Logger.manager.loggerDict.items():
        if isinstance(logger, logging.Logger) and name.startswith(("dms", "rq")):
            logger.disabled = False
