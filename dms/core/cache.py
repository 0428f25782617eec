"""A read-through cache in Redis that nothing depends on: without Redis, or while it fails, every read computes.

Invalidation by table versions. A cached value is stored under a key that includes the current version of
every table it was computed from; a commit that wrote one of those tables bumps that table's version (one
INCR per table, after the commit, from the session events below), so the next read misses and computes
afresh. The services need not remember anything: whatever the ORM flushes or an ORM-enabled UPDATE/DELETE/
INSERT executes is seen. SQL that bypasses the session (raw connections, COPY) is not seen, which is why
every entry also has a TTL (DMS_CACHE_TTL seconds): a bound on staleness, not the invalidation itself.

Redis down: the first failure turns the cache off for DMS_CACHE_RETRY_AFTER seconds in this process (so a
request never waits for Redis timeouts one after another), then it tries again. Errors are logged, never
raised. Values are JSON (numbers, strings, lists, dicts; Decimal and date kept as such), never pickles.
"""

import hashlib
import json
import logging
import time
from datetime import date, datetime
from decimal import Decimal

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

PREFIX = "dms:cache:"
_PENDING_KEY = "dms_cache_written"
_clients: dict[str, object] = {}
_down_until: dict[str, float] = {}


def _url() -> str | None:
    if not has_app_context():
        return None
    config = current_app.config
    if not config.get("DMS_CACHE", True):
        return None
    return config.get("REDIS_URL") or None


def _prefix() -> str:
    """dms:cache:<database>: — one Redis may serve several databases (staging, tests) without mixing them."""
    database = hashlib.sha256(str(current_app.config.get("SQLALCHEMY_DATABASE_URI")).encode()).hexdigest()[:8]
    return f"{PREFIX}{database}:"


def _version_key(table: str) -> str:
    return _prefix() + "v:" + table  # an integer bumped by every commit that wrote the table


def _client():
    """The Redis client of the configured URL, or None (no Redis, cache off, or down a moment ago)."""
    url = _url()
    if url is None or _down_until.get(url, 0) > time.monotonic():
        return None
    client = _clients.get(url)
    if client is None:
        from redis import Redis

        # Short timeouts: a cache is worth a few milliseconds, never a hanging request.
        client = _clients[url] = Redis.from_url(url, socket_connect_timeout=0.2, socket_timeout=0.2)
    return client


def _failed(exc: Exception) -> None:
    url = _url()
    if url:
        _down_until[url] = time.monotonic() + float(current_app.config.get("DMS_CACHE_RETRY_AFTER", 30))
    log.warning("cache off for a while: %s", exc)


def _encode(value):
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"not cacheable: {type(value).__name__}")


def _decode(found: dict):
    if "$decimal" in found:
        return Decimal(found["$decimal"])
    if "$datetime" in found:
        return datetime.fromisoformat(found["$datetime"])
    if "$date" in found:
        return date.fromisoformat(found["$date"])
    return found


def dumps(value) -> str:
    """The JSON a value is cached as (tuples come back as lists)."""
    return json.dumps(value, default=_encode)


def loads(raw):
    """The value of cached JSON."""
    return json.loads(raw, object_hook=_decode)


def available() -> bool:
    """True when Redis answers (the cache is on)."""
    client = _client()
    if client is None:
        return False
    try:
        return bool(client.ping())
    except Exception as exc:  # noqa: BLE001 - any Redis failure means "no cache"
        _failed(exc)
        return False


def cached(name: str, tables, args, compute, ttl: int | None = None):
    """compute(), remembered under (name, args) until a commit writes one of `tables` or `ttl` passes.

    `args` must identify the value fully (scope, day, ...): it is part of the key, as str().
    """
    client = _client()
    if client is None:
        return compute()
    tables = sorted(tables)
    try:
        versions = client.mget([_version_key(t) for t in tables])
        key = f"{_prefix()}{name}:{args}:" + ",".join(f"{t}={(v or b'0').decode()}" for t, v in zip(tables, versions,
                                                                                               strict=True))
        raw = client.get(key)
    except Exception as exc:  # noqa: BLE001
        _failed(exc)
        return compute()
    if raw is not None:
        try:
            return loads(raw)
        except Exception:  # noqa: BLE001 - a value of an older code version: compute it again
            log.info("cache: unreadable value under %s", key)
    value = compute()
    try:
        client.set(key, dumps(value), ex=ttl or int(current_app.config.get("DMS_CACHE_TTL", 300)))
    except Exception as exc:  # noqa: BLE001
        _failed(exc)
    return value


def bump(*tables: str) -> None:
    """Invalidate every cached value computed from these tables (their versions go up)."""
    client = _client()
    if client is None or not tables:
        return
    try:
        pipe = client.pipeline(transaction=False)
        for table in tables:
            pipe.incr(_version_key(table))
        pipe.execute()
    except Exception as exc:  # noqa: BLE001
        _failed(exc)


def clear() -> None:
    """Forget every cached value and version of this database (benchmarks, tests)."""
    client = _client()
    if client is None:
        return
    try:
        keys = list(client.scan_iter(_prefix() + "*", count=1000))
        if keys:
            client.delete(*keys)
    except Exception as exc:  # noqa: BLE001
        _failed(exc)


# --- which tables a transaction wrote: bumped after it commits, forgotten if it rolls back ------------

def _note(session: Session, tables) -> None:
    session.info.setdefault(_PENDING_KEY, set()).update(tables)


@event.listens_for(Session, "after_flush")
def _written_by_flush(session, flush_context):
    tables = {getattr(obj, "__tablename__", None) for obj in (*session.new, *session.dirty, *session.deleted)}
    _note(session, {t for t in tables if t})


@event.listens_for(Session, "do_orm_execute")
def _written_by_statement(state):
    if state.is_update or state.is_delete or state.is_insert:
        table = getattr(state.statement, "table", None)
        name = getattr(table, "name", None)
        if name:
            _note(state.session, {name})


@event.listens_for(Session, "after_commit")
def _bump_after_commit(session):
    tables = session.info.pop(_PENDING_KEY, None)
    if tables:
        bump(*tables)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    session.info.pop(_PENDING_KEY, None)
