"""Job functions the job tests enqueue by dotted name; each writes rows so its effect can be seen."""

from sqlalchemy import select

from dms.core import jobs
from dms.core.models import Job
from dms.core.services import notify
from dms.extensions import db

PREFIX = "tests.core.job_functions."


def notify_user(user_id: int, title: str = "hello"):
    """Leave one notification for the user."""
    notify(user_id, title)
    return {"notified": user_id}


def fail_after_write(user_id: int):
    """Write a notification, then fail: the write must be rolled back."""
    notify(user_id, "written before the failure")
    db.session.flush()
    raise RuntimeError("boom: the job failed on purpose")


def flaky(user_id: int, failures: int = 1):
    """Fail the first `failures` attempts (a transient error), then notify."""
    job = db.session.get(Job, jobs.current_job_id())
    if job.attempts <= failures:
        notify(user_id, "must not survive a failed attempt")
        raise ConnectionError(f"transient failure on attempt {job.attempts}")
    notify(user_id, f"succeeded on attempt {job.attempts}")


def always_fails(user_id: int):
    """Fail every time."""
    raise ValueError(f"permanent failure for user {user_id}")


def with_progress(user_id: int):
    """Report progress half way, then notify."""
    jobs.set_progress(jobs.current_job_id(), 40, "step 2 of 5")
    notify(user_id, "progress job done")


def enqueue_child(user_id: int):
    """A job that enqueues another job (the child must be dispatched too)."""
    jobs.enqueue(PREFIX + "notify_user", user_id, "from the child job")


def periodic_ping():
    """A periodic function: notify the first user."""
    from dms.accounts.models import User

    user_id = db.session.scalar(select(User.id).order_by(User.id))
    notify(user_id, "periodic ping")
    return user_id
