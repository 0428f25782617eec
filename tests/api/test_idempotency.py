"""Idempotency-Key on creating POSTs: replay, body mismatch, in flight, rollback (API.md)."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from tests.api.conftest import bearer

URL = "/api/probe/things"


@pytest.fixture
def auth(make_user, get_token):
    user = make_user("distributor")
    return user, bearer(get_token(user))


def _post(probe, headers, body, key=None):
    headers = dict(headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return probe.post(URL, data=json.dumps(body) if not isinstance(body, str) else body,
                      content_type="application/json", headers=headers)


def _created(db_session) -> int:
    from dms.core.models import AuditLog

    db_session.rollback()
    return db_session.scalar(select(func.count()).where(AuditLog.action == "probe.create"))


def _records(db_session):
    from dms.api.models import IdempotencyRecord

    db_session.rollback()
    return list(db_session.scalars(select(IdempotencyRecord)))


def test_without_key_every_post_runs(probe, auth, db_session):
    _user, headers = auth
    assert _post(probe, headers, {"name": "a"}).status_code == 201
    assert _post(probe, headers, {"name": "a"}).status_code == 201
    assert _created(db_session) == 2 and _records(db_session) == []


def test_same_key_same_body_replays_the_first_answer(probe, auth, db_session):
    user, headers = auth
    first = _post(probe, headers, {"name": "a", "n": 1}, key="key-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    # Same content, other spelling: still the same request.
    again = _post(probe, headers, '{ "n": 1,  "name": "a" }', key="key-1")
    assert again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _created(db_session) == 1
    [record] = _records(db_session)
    assert record.status == "done" and record.subject == f"user:{user.id}" and record.response_status == 201
    assert json.loads(record.response_body) == first.json


def test_same_key_other_body_is_422(probe, auth, db_session):
    _user, headers = auth
    assert _post(probe, headers, {"name": "a"}, key="key-1").status_code == 201
    response = _post(probe, headers, {"name": "b"}, key="key-1")
    assert response.status_code == 422
    assert response.json["error"]["code"] == "idempotency_key_reused"
    assert _created(db_session) == 1


def test_keys_belong_to_one_subject(probe, auth, make_user, get_token, db_session):
    _user, headers = auth
    other = bearer(get_token(make_user("distributor")))
    assert _post(probe, headers, {"name": "a"}, key="shared").status_code == 201
    response = _post(probe, other, {"name": "a"}, key="shared")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert _created(db_session) == 2


def test_key_in_flight_is_409_and_left_alone(app, probe, auth, db_session):
    """A duplicate arriving while the first request runs: its marker is committed, so it is seen."""
    from dms.api.idempotency import fingerprint
    from dms.api.models import IdempotencyRecord
    from dms.core.time import utcnow
    from dms.extensions import db

    user, headers = auth
    body = json.dumps({"name": "a"}).encode()
    with db.engine.begin() as conn:
        conn.execute(insert(IdempotencyRecord.__table__).values(
            subject=f"user:{user.id}", key="key-1", method="POST", path=URL, status="in_progress",
            request_hash=fingerprint("POST", URL, b"", body), created_at=utcnow()))
    response = _post(probe, headers, body.decode(), key="key-1")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "idempotency_in_flight"
    assert _created(db_session) == 0
    [record] = _records(db_session)
    assert record.status == "in_progress"  # the first request's marker survives the duplicate


def test_concurrent_duplicate_is_409_while_the_first_runs(probe_app, auth, db_session):
    """Two real requests at once: the second arrives while the first is inside its view."""
    import threading

    from tests.api.conftest import PROBE_GATE

    _user, headers = auth
    PROBE_GATE["entered"].clear()
    PROBE_GATE["release"].clear()
    first = {}
    worker = threading.Thread(target=lambda: first.setdefault(
        "response", _post(probe_app.test_client(), headers, {"name": "a", "wait": True}, key="key-1")))
    worker.start()
    try:
        assert PROBE_GATE["entered"].wait(10)
        duplicate = _post(probe_app.test_client(), headers, {"name": "a", "wait": True}, key="key-1")
        assert duplicate.status_code == 409
        assert duplicate.json["error"]["code"] == "idempotency_in_flight"
    finally:
        PROBE_GATE["release"].set()
        worker.join(10)
    assert first["response"].status_code == 201
    replay = _post(probe_app.test_client(), headers, {"name": "a", "wait": True}, key="key-1")
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert _created(db_session) == 1


def test_stale_marker_is_taken_over(probe, auth, db_session):
    from dms.api.idempotency import fingerprint
    from dms.api.models import IdempotencyRecord
    from dms.core.time import utcnow
    from dms.extensions import db

    user, headers = auth
    body = json.dumps({"name": "a"}).encode()
    with db.engine.begin() as conn:
        conn.execute(insert(IdempotencyRecord.__table__).values(
            subject=f"user:{user.id}", key="key-1", method="POST", path=URL, status="in_progress",
            request_hash=fingerprint("POST", URL, b"", body), created_at=utcnow() - timedelta(hours=1)))
    assert _post(probe, headers, body.decode(), key="key-1").status_code == 201
    assert [r.status for r in _records(db_session)] == ["done"]


def test_marker_is_visible_while_the_request_runs(probe_app, probe, auth, monkeypatch):
    """The claim is committed on its own connection before the view runs (what a duplicate would see)."""
    from dms.api import idempotency
    from dms.api.models import IdempotencyRecord
    from dms.extensions import db

    seen = {}
    original = idempotency.make_response

    def spy(value):
        with db.engine.connect() as conn:
            seen["rows"] = conn.execute(select(IdempotencyRecord.__table__.c.status)).scalars().all()
        return original(value)

    monkeypatch.setattr(idempotency, "make_response", spy)
    _user, headers = auth
    assert _post(probe, headers, {"name": "a"}, key="key-1").status_code == 201
    assert seen["rows"] == ["in_progress"]


@pytest.mark.parametrize("fail,status", [("conflict", 409), ("crash", 500)])
def test_failure_rolls_back_and_frees_the_key(probe, auth, db_session, fail, status):
    _user, headers = auth
    response = _post(probe, headers, {"fail": fail}, key="key-1")
    assert response.status_code == status
    assert response.json["error"]["code"] in ("conflict", "internal_error")
    assert _created(db_session) == 0 and _records(db_session) == []
    # The client may retry with the same key (here with a body that now succeeds).
    assert _post(probe, headers, {"name": "ok"}, key="key-1").status_code == 201
    assert _created(db_session) == 1


def test_bad_keys_are_400(probe, auth, db_session):
    _user, headers = auth
    for key in ("x" * 256, ""):
        response = _post(probe, headers, {"name": "a"}, key=key)
        assert response.status_code == 400, len(key)
        assert response.json["error"]["code"] == "bad_request"
    assert _post(probe, headers, {"name": "a"}, key="x" * 255).status_code == 201
    assert _created(db_session) == 1


def test_unauthenticated_or_forbidden_requests_leave_no_marker(probe, make_user, get_token, db_session):
    assert _post(probe, {}, {"name": "a"}, key="key-1").status_code == 401
    courier = bearer(get_token(make_user("courier")))
    assert _post(probe, courier, {"name": "a"}, key="key-1").status_code == 403
    assert _records(db_session) == []


def test_bad_json_is_400_and_frees_the_key(probe, auth, db_session):
    _user, headers = auth
    response = _post(probe, headers, "{not json", key="key-1")
    assert response.status_code == 400
    assert response.json["error"]["code"] == "bad_request"
    assert _records(db_session) == []
    response = _post(probe, headers, "[1, 2]")
    assert response.status_code == 400


def test_purge_drops_old_finished_records(probe, auth, db_session):
    from dms.api import idempotency
    from dms.core.jobs import commit

    _user, headers = auth
    assert _post(probe, headers, {"name": "a"}, key="key-1").status_code == 201
    assert idempotency.purge(timedelta(days=1)) == 0
    assert idempotency.purge(timedelta(seconds=-1)) == 1
    commit()
    assert _records(db_session) == []


def test_purge_is_a_registered_periodic_job():
    from dms.core.schedule import PERIODIC

    assert any(p.func == "dms.api.idempotency.purge" and p.cron for p in PERIODIC)
