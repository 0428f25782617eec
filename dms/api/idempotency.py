"""Idempotency-Key for creating POSTs (API.md "Conventions").

The key is claimed ("in_progress") in its own short transaction on a separate connection, so a
concurrent duplicate sees it at once and answers 409. The final response is written into the same
record inside the request's own transaction, just before it commits, so the business change and
the stored answer commit (or vanish) together. When the request fails, or answers 409 or 5xx, the
marker is deleted so the client can retry with the same key.
"""

import hashlib
import json
from datetime import timedelta

from flask import Response, current_app, make_response, request
from flask_babel import gettext as _
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from dms.api.models import IdempotencyRecord
from dms.core.errors import BadRequest, Conflict, DomainError
from dms.core.jobs import commit
from dms.core.time import utcnow
from dms.extensions import db

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
# A marker older than this is taken to belong to a request that died (crash, killed worker).
STALE_AFTER = timedelta(minutes=10)

RECORDS = IdempotencyRecord.__table__


class KeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"


class InFlight(Conflict):
    code = "idempotency_in_flight"


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """A hash of what the request asks for; JSON bodies are compared by content, not by spelling."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query, canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def request_key() -> str | None:
    """The request's Idempotency-Key, None when absent; BadRequest when empty, too long or not printable."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key or len(key) > MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in key):
        raise BadRequest(_("The Idempotency-Key header must be 1 to %(n)d printable characters.", n=MAX_KEY_LENGTH),
                         fields={"Idempotency-Key": [_("1 to %(n)d printable characters.", n=MAX_KEY_LENGTH)]})
    return key


def _claim(subject: str, key: str, request_hash: str):
    """Mark the key in progress (committed at once); return ((record id, claimed at), None) or (None, row)."""
    now = utcnow()
    with db.engine.connect() as conn:
        try:
            with conn.begin():
                result = conn.execute(insert(RECORDS).values(
                    subject=subject, key=key, method=request.method, path=request.path[:500],
                    request_hash=request_hash, status="in_progress", created_at=now))
            return (result.inserted_primary_key[0], now), None
        except IntegrityError:
            pass
        with conn.begin():
            row = conn.execute(select(RECORDS).where(RECORDS.c.subject == subject, RECORDS.c.key == key)).first()
            if row is None:  # released between our insert and this read: the client may simply retry
                return None, None
            if (row.status == "in_progress" and row.request_hash == request_hash
                    and row.created_at < now - current_app.config.get("API_IDEMPOTENCY_STALE_AFTER", STALE_AFTER)):
                taken = conn.execute(update(RECORDS).where(
                    RECORDS.c.id == row.id, RECORDS.c.status == "in_progress",
                    RECORDS.c.created_at == row.created_at).values(created_at=now)).rowcount
                if taken:
                    return (row.id, now), None
        return None, row


def _release(claim):
    """Delete our unfinished marker so the same key can be sent again (not one taken over since)."""
    record_id, claimed_at = claim
    with db.engine.connect() as conn, conn.begin():
        conn.execute(delete(RECORDS).where(RECORDS.c.id == record_id, RECORDS.c.status == "in_progress",
                                           RECORDS.c.created_at == claimed_at))


def _replay(row) -> Response:
    response = Response(row.response_body or "", status=row.response_status, mimetype="application/json")
    response.headers[REPLAYED_HEADER] = "true"
    return response


def run(subject: str, key: str, view) -> Response:
    """Run `view` once per (subject, key): replay a finished answer, refuse a changed body or a running one."""
    request_hash = fingerprint(request.method, request.path, request.query_string, request.get_data(cache=True))
    # End the read transaction authentication opened (nothing is written yet), so the claim on its own
    # connection never waits on this request's session (SQLite admits one writer at a time).
    db.session.rollback()
    claim, existing = _claim(subject, key, request_hash)
    if claim is None:
        if existing is not None and existing.request_hash != request_hash:
            raise KeyReused(_("This Idempotency-Key was used for a different request."))
        if existing is not None and existing.status == "done":
            return _replay(existing)
        raise InFlight(_("A request with this Idempotency-Key is still being processed. Retry later."))
    try:
        response = make_response(view())
        if response.status_code >= 400:
            # An error answer changes nothing: roll back and let the client try again with the key.
            db.session.rollback()
            _release(claim)
            return response
        stored = db.session.execute(update(RECORDS).where(
            RECORDS.c.id == claim[0], RECORDS.c.status == "in_progress",
            RECORDS.c.created_at == claim[1]).values(
            status="done", response_status=response.status_code,
            response_body=response.get_data(as_text=True))).rowcount
        if not stored:  # our marker was taken over as stale meanwhile: the other request owns the key
            db.session.rollback()
            raise InFlight(_("A request with this Idempotency-Key is still being processed. Retry later."))
        commit()
        return response
    except BaseException:
        db.session.rollback()
        _release(claim)
        raise


def purge(older_than: timedelta = timedelta(days=1)) -> int:
    """Delete finished records older than `older_than` (keys are kept a day); return how many."""
    cutoff = utcnow() - older_than
    return db.session.execute(delete(IdempotencyRecord).where(
        IdempotencyRecord.status == "done", IdempotencyRecord.created_at < cutoff)).rowcount
