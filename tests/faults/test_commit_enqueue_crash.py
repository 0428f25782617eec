"""Drill: a process dies (SIGKILL) between committing a job and handing it to Redis; the outbox relay delivers it.

Real processes on a world of the drill's own (tests/faults/services_support.py). Two delivered orders are
completed, each by a process of its own that runs the order service and `jobs.commit()` as the web app does,
and is SIGKILLed by itself at one of the two dangerous points:

- A: right after the database COMMIT, before anything reached Redis (the job row is durable, `pending`);
- B: after the message went to RQ, before the row was marked `queued` (Redis has it, the row says `pending`).

Then the relay (`flask dms relay-outbox`, as the worker's cron runs it) pushes both again and a worker runs
them: each order.completed job finishes at its first attempt (B's duplicate message is skipped by the
runner's claim), and each order's commission entries exist once.
"""

import signal
import textwrap
from decimal import Decimal

import pytest

from tests.faults.services_support import (
    ACTIVE_JOB,
    RedisServer,
    commission_entries,
    drill_app,
    expected_commissions,
    field_keys,
    flask_cli,
    in_app,
    job_rows,
    node_env,
    seed,
)
from tests.scaleout.cluster import ROOT, Process, python, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.redis]
__all__ = ["field_keys"]  # a fixture, imported to be found

# Completes one order as a request would, and SIGKILLs itself at the chosen point of `jobs.commit()`.
CRASHER = textwrap.dedent("""
    import os, signal, sys
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    from dms import create_app
    from dms.accounts.models import User
    from dms.core import jobs
    from dms.extensions import db
    from dms.orders import services, transitions

    order_id, point = int(sys.argv[1]), sys.argv[2]

    def die(*args):
        os.kill(os.getpid(), signal.SIGKILL)

    app = create_app()
    with app.app_context():
        manager = db.session.scalar(db.select(User).where(User.username == "manager"))
        transitions.complete(manager, services.get_order(manager, order_id), "")
        if point == "after-commit":
            # The outermost COMMIT has returned: the rows are durable, dispatch has not started.
            event.listen(Session, "after_commit", lambda session: session.in_nested_transaction() or die())
        else:
            # push(): the RQ message is written; the row is about to be marked queued.
            event.listen(db.engine, "before_cursor_execute", lambda conn, cur, statement, *rest:
                         statement.startswith("UPDATE jobs SET status") and die())
        jobs.commit()
    sys.exit(3)  # not reached: the process must die above
""")


@pytest.fixture(autouse=True)
def _clean_state():
    """No reset of the shared test database: this drill runs on a scratch database of its own."""
    yield


def delivered_orders(app, world, count: int) -> dict[int, Decimal]:
    """Place and deliver `count` orders through the services (in-process); order id -> total."""
    from dms.accounts.models import User
    from dms.core.jobs import commit
    from dms.extensions import db
    from dms.orders import services, transitions

    def work():
        manager = db.session.scalar(db.select(User).where(User.username == "manager"))
        totals = {}
        for n in range(count):
            order = services.place_order(manager, {
                "customer": {"name": f"顾客{n}", "phone": f"1380013800{n}", "region_code": world["region"],
                             "address": "幸福路 1 号"},
                "lines": [{"product_id": world["product"], "quantity": 1 + n}]})
            commit()
            transitions.pay(manager, order, "wechat", f"WX{order.id}")
            transitions.assign_courier(manager, order, world["courier"])
            transitions.ship(manager, order, "")
            transitions.deliver(manager, order, "")
            commit()
            totals[order.id] = order.total
        return totals

    return in_app(app, work)


def queued_messages(redis_url: str) -> int:
    """Messages waiting in the RQ queues."""
    from redis import Redis
    from rq import Queue

    from dms.core.jobs import QUEUES

    connection = Redis.from_url(redis_url)
    try:
        return sum(Queue(name, connection=connection).count for name in QUEUES)
    finally:
        connection.close()


def test_a_crash_between_commit_and_enqueue_loses_no_job(field_keys, tmp_path):
    import subprocess

    with drill_app("crash", field_keys) as (app, database_url):
        world = seed(app)
        totals = delivered_orders(app, world, 2)
        (order_a, order_b) = sorted(totals)
        redis = RedisServer(tmp_path).start()
        env = node_env(database_url, redis.url, field_keys, tmp_path)
        worker = Process("worker", python("worker.py", "--no-cron"), env, tmp_path)
        try:
            for order_id, point in ((order_a, "after-commit"), (order_b, "after-push")):
                crashed = subprocess.run(python("-c", CRASHER, str(order_id), point), cwd=ROOT, env=env,
                                         capture_output=True, text=True, timeout=60)
                assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
            events = {int(r[4].rsplit(":", 1)[1]): r for r in job_rows(app)
                      if (r[4] or "").startswith("event:order.completed:")}
            assert sorted(events) == [order_a, order_b]  # both completions and their jobs committed
            assert {r[2] for r in events.values()} == {"pending"}  # ... and neither was marked queued
            assert queued_messages(redis.url) == 1  # only B's message reached Redis
            assert commission_entries(app) == []

            # The relay takes jobs pending for longer than OUTBOX_RELAY_AFTER_SECONDS (10 s).
            ids = {r[0] for r in events.values()}

            def relayed() -> bool:
                run = flask_cli(env, "dms", "relay-outbox")
                assert run.returncode == 0, run.stdout + run.stderr
                return {r[2] for r in job_rows(app) if r[0] in ids} == {"queued"}

            wait_until(relayed, 30, 1, what="the relay to push the orphaned jobs")
            worker.start()
            wait_until(lambda: not {r[2] for r in job_rows(app)} & set(ACTIVE_JOB), 30, what="the worker")
            wait_until(lambda: queued_messages(redis.url) == 0, 10, what="the queues to drain")
            assert worker.stop() == 0, worker.log_tail()
        except BaseException:
            for process in (worker, redis.process):
                if process is not None and process.log_tail():
                    print(f"--- {process.name} ---\n{process.log_tail(60)}")
            raise
        finally:
            if worker.alive():
                worker.kill()
            redis.stop()

        rows = job_rows(app)
        assert {(r[2], r[3]) for r in rows} == {("finished", 1)}, [r for r in rows if (r[2], r[3]) != ("finished", 1)]
        entries = commission_entries(app)
        assert len(entries) == 4
        assert {(o, b, level): amount for o, b, level, amount, _ in entries} == expected_commissions(world, totals)
    print("commit/enqueue crash: 2 processes SIGKILLed (after commit; after push), 2 jobs relayed and run once")
