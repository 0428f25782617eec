"""The outbox in-process (no REDIS_URL): commit runs, rollback forgets, keys dedupe; the job status fragment."""

import re

from sqlalchemy import func, select

from dms.core import jobs
from dms.core.models import Job, Notification
from dms.extensions import db
from tests.core.job_functions import PREFIX


def job_count():
    return db.session.scalar(select(func.count()).select_from(Job))


def test_enqueue_then_commit_runs_the_job_once(make_user, fresh, notifications):
    user = make_user("admin")
    job = jobs.enqueue(PREFIX + "notify_user", user.id, "welcome", owner_id=user.id)
    assert job.status == "pending"
    jobs.commit()
    row = fresh(Job, job.id)
    assert (row.status, row.attempts, row.progress, row.result) == ("finished", 1, 100, {"notified": user.id})
    assert row.started_at and row.finished_at
    assert notifications(user.id) == ["welcome"]
    # A second delivery of the finished job (a duplicate push) changes nothing.
    jobs.run_in_process(job.id)
    jobs.commit()
    assert notifications(user.id) == ["welcome"]
    assert fresh(Job, job.id).attempts == 1


def test_rollback_leaves_no_job_and_runs_nothing(make_user, notifications):
    user = make_user("admin")
    jobs.enqueue(PREFIX + "notify_user", user.id, "never")
    db.session.rollback()
    jobs.commit()  # a later commit of the same session must not dispatch the forgotten job
    assert job_count() == 0
    assert notifications(user.id) == []
    assert not db.session.info.get("dms_committed_jobs")


def test_savepoint_rollback_keeps_jobs_enqueued_before_it(make_user, fresh, notifications):
    user = make_user("admin")
    kept = jobs.enqueue(PREFIX + "notify_user", user.id, "kept")
    savepoint = db.session.begin_nested()
    jobs.enqueue(PREFIX + "notify_user", user.id, "undone")
    savepoint.rollback()
    jobs.commit()
    assert notifications(user.id) == ["kept"]
    assert fresh(Job, kept.id).status == "finished"
    assert job_count() == 1


def test_released_savepoint_then_outer_rollback_enqueues_nothing(make_user, notifications):
    user = make_user("admin")
    jobs.enqueue(PREFIX + "notify_user", user.id, "outer")
    with db.session.begin_nested():
        jobs.enqueue(PREFIX + "notify_user", user.id, "inner")
    db.session.rollback()
    assert not db.session.info.get("dms_committed_jobs")
    jobs.commit()
    assert job_count() == 0
    assert notifications(user.id) == []


def test_same_business_key_gives_one_job(make_user, fresh, notifications):
    user = make_user("admin")
    first = jobs.enqueue(PREFIX + "notify_user", user.id, "daily", key="alert:product-1:2026-01-01")
    second = jobs.enqueue(PREFIX + "notify_user", user.id, "daily", key="alert:product-1:2026-01-01")
    assert first.id == second.id
    jobs.commit()
    # A retry of the cause in a later transaction finds the job and changes nothing.
    again = jobs.enqueue(PREFIX + "notify_user", user.id, "daily", key="alert:product-1:2026-01-01")
    jobs.commit()
    assert again.id == first.id
    assert job_count() == 1
    assert notifications(user.id) == ["daily"]
    assert fresh(Job, first.id).attempts == 1


def test_failing_job_ends_failed_with_its_writes_rolled_back(make_user, fresh, notifications, caplog):
    user = make_user("admin")
    job = jobs.enqueue(PREFIX + "fail_after_write", user.id)
    jobs.commit()
    row = fresh(Job, job.id)
    assert row.status == "failed"
    assert "RuntimeError: boom: the job failed on purpose" in row.error
    assert row.attempts == 1 and row.finished_at is not None
    assert notifications(user.id) == []
    # The failure is logged with the job as its "request id".
    failed = [r for r in caplog.records if "failed on attempt" in r.getMessage()]
    assert failed and failed[-1].request_id == f"job-{job.id}"


def test_unknown_job_function_fails_cleanly(fresh):
    job = jobs.enqueue("tests.core.job_functions.does_not_exist")
    jobs.commit()
    row = fresh(Job, job.id)
    assert row.status == "failed" and "AttributeError" in row.error


def test_a_job_enqueued_by_a_job_runs_too(make_user, notifications):
    user = make_user("admin")
    jobs.enqueue(PREFIX + "enqueue_child", user.id)
    jobs.commit()
    assert notifications(user.id) == ["from the child job"]
    assert db.session.scalar(select(func.count()).where(Job.status == "finished")) == 2


def test_unknown_queue_is_refused():
    import pytest

    with pytest.raises(ValueError):
        jobs.enqueue(PREFIX + "notify_user", 1, queue="nope")


# --- the job status fragment and the job list --------------------------------------------------

def _job(owner, status="running", **fields):
    job = Job(name=PREFIX + "notify_user", args=[owner.id], owner_id=owner.id, status=status, **fields)
    db.session.add(job)
    jobs.commit()
    return job.id


def test_job_status_fragment_polls_while_running_and_stops_when_over(client, login_as):
    user = login_as("distributor")
    running = _job(user, "running")
    jobs.set_progress(running, 40, "Importing rows")
    jobs.commit()

    response = client.get(f"/jobs/{running}", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="job-status"') and "<html" not in body
    assert 'hx-trigger="every 1s"' in body
    assert "Importing rows" in body and 'value="40"' in body
    assert "HX-Request" in response.headers.get("Vary", "")

    for status in ("finished", "failed"):
        over = _job(user, status, error="ValueError: bad row" if status == "failed" else None)
        body = client.get(f"/jobs/{over}", htmx=True).get_data(as_text=True)
        assert 'id="job-status"' in body and "hx-trigger" not in body
        assert f'data-status="{status}"' in body
    assert "ValueError: bad row" in body

    page = client.get(f"/jobs/{running}").get_data(as_text=True)
    assert "<html" in page and 'id="job-status"' in page


def test_progress_set_by_a_job_shows_in_its_fragment(client, login_as):
    user = login_as("admin")
    job = jobs.enqueue(PREFIX + "with_progress", user.id, owner_id=user.id)
    jobs.commit()
    body = client.get(f"/jobs/{job.id}", htmx=True).get_data(as_text=True)
    assert "step 2 of 5" in body
    assert 'data-status="finished"' in body and 'value="100"' in body


def test_another_users_job_is_404_unless_allowed_to_view_all(client, login_as, make_user):
    owner = make_user("distributor")
    job_id = _job(owner, "finished")
    login_as("distributor")
    assert client.get(f"/jobs/{job_id}", htmx=True).status_code == 404
    assert client.get(f"/jobs/{job_id}").status_code == 404
    listing = client.get("/jobs", htmx=True).get_data(as_text=True)
    assert f"/jobs/{job_id}\"" not in listing

    client.post("/logout")
    client.http.delete_cookie("dms_session")
    login_as("admin")  # holds jobs.view_all
    assert client.get(f"/jobs/{job_id}", htmx=True).status_code == 200


def test_job_list_filters_by_status_and_queue(client, login_as):
    user = login_as("admin")
    ids = {
        "failed": _job(user, "failed"),
        "finished": _job(user, "finished"),
    }
    report = Job(name="dms.reports.jobs.export", args=[], owner_id=user.id, status="queued", queue="reports")
    db.session.add(report)
    jobs.commit()
    ids["report"] = report.id

    def listed(query):
        body = client.get(f"/jobs?{query}", htmx=True).get_data(as_text=True)
        assert body.lstrip().startswith('<div id="jobs-table"')
        return {int(i) for i in re.findall(r'href="/jobs/(\d+)"', body)}

    assert listed("status=failed") == {ids["failed"]}
    assert listed("queue=reports") == {ids["report"]}
    assert listed("") == set(ids.values())
    assert listed("q=reports") == {ids["report"]}


def test_notification_written_by_job_is_in_the_database(make_user):
    user = make_user("admin")
    jobs.enqueue(PREFIX + "notify_user", user.id, "visible")
    jobs.commit()
    assert db.session.scalar(select(Notification.title).where(Notification.user_id == user.id)) == "visible"
