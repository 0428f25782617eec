"""Drill: workers SIGKILLed in the middle of a settlement run, a stock-alert check and a PDF report; a new worker
finishes each exactly as an uninterrupted run would have: nothing doubled, nothing lost, every job finished once.

One drill serves the three tests (the kills and the recovery run side by side, to keep CI time down):

1. Two scratch databases get the same data (tests/faults/worker_kill_support.py): the drill database, and a
   reference database where the same three jobs run uninterrupted, in-process.
2. Three real `worker.py --no-cron` processes, one per queue (default, alerts, reports), work the drill
   database through Redis database 12. The jobs are started as the app starts them (outbox rows pushed on
   commit): the month's settlement, the daily stock-alert check, a commission-summary PDF.
3. Each worker's process group is SIGKILLed when the database shows its job mid-run: the settlement with some
   statements written (it commits distributor by distributor), the alert check inside its transaction after
   its first write (pg_stat_activity), the PDF job at "Rendering the PDF" (its progress row).
4. One new `worker.py` (all queues and the cron scheduler, as on a single machine) starts. Nothing here
   touches the job rows: RQ counts the dead executions abandoned once their heartbeat lapses, the outbox
   relay that cron runs every 30 s puts those jobs back on their queues, and the worker runs them again.

Then each job row is finished after exactly two attempts, and statements, ledger, alerts, notifications,
report rows and files equal the reference run's row for row, and every `flask dms check` invariant holds.
"""

import os
import secrets
import time

import pytest
from redis import Redis
from sqlalchemy import func, select

from tests.faults import worker_kill_support as support
from tests.scaleout.cluster import Process, python, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.redis]

QUEUE_OF = {"settlement": "default", "alerts": "alerts", "report": "reports"}
HEARTBEAT = 5  # worker.py --job-monitoring-interval: RQ sees a dead job abandoned 60-65 s after the kill
MIN_STATEMENTS_AT_KILL = 25


@pytest.fixture(autouse=True)
def _clean_state():
    """No reset of the shared test database: this drill runs on scratch databases of its own."""
    yield


def worker_env(database_url: str, redis_url: str, field_keys: str, report_folder, name: str) -> dict:
    """A worker's environment: production settings on the drill's database and Redis; its own PGAPPNAME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMS_")}
    env.update({"DMS_ENV": "production", "DATABASE_URL": database_url, "REDIS_URL": redis_url,
                "SECRET_KEY": secrets.token_hex(32), "DMS_FIELD_KEYS": field_keys, "TZ": "Asia/Shanghai",
                "DMS_REPORT_FOLDER": str(report_folder), "PYTHONUNBUFFERED": "1",
                "PGAPPNAME": name})  # libpq names the worker's sessions in pg_stat_activity
    return env


def make_app(database_url: str, field_keys: str, report_folder, redis_url: str | None = None):
    """The app on one scratch database, migrated; jobs go to Redis when `redis_url` is given, else run in-process."""
    from flask_migrate import upgrade

    from dms import create_app
    from dms.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "DMS_FIELD_KEYS": [field_keys],
                      "REPORT_FOLDER": str(report_folder), "REDIS_URL": redis_url})
    with app.app_context():
        upgrade()
        db.session.remove()
    return app


def outcome(app, report_folder) -> dict:
    """Everything the three jobs leave, read fresh from the app's database and report folder."""
    from dms.core.cli import CHECKS
    from dms.extensions import db

    with app.app_context():
        try:
            return {"jobs": support.job_rows(), "settlement": support.settlement_rows(),
                    "alerts": support.alert_rows(), "reports": support.report_rows(report_folder),
                    "violations": [problem for check in CHECKS for problem in check()]}
        finally:
            db.session.remove()


def is_mid_run(part: str, row) -> bool:
    """Whether the database shows that job mid-run (claimed by its worker, some of its work under way)."""
    from dms.commissions.models import Statement
    from dms.extensions import db

    if row.status != "running":
        return False
    if part == "settlement":  # committed distributor by distributor
        return db.session.scalar(select(func.count(Statement.id))) >= MIN_STATEMENTS_AT_KILL
    if part == "alerts":  # one transaction: inside it, after its first write
        return support.writing_backends("ha-alerts") > 0
    return row.progress >= 40  # the PDF: "Rendering the PDF" (its progress is committed apart from the work)


def kill_mid_run(app, workers: dict, job_ids: dict, report_folder, timeout: float = 120) -> dict:
    """SIGKILL each worker as soon as the database shows its job mid-run; what the database showed then."""
    from dms.core.models import Job
    from dms.extensions import db

    seen: dict = {}
    deadline = time.monotonic() + timeout
    with app.app_context():
        while len(seen) < len(workers):
            db.session.rollback()  # see the workers' commits
            for part, job_id in job_ids.items():
                row = db.session.get(Job, job_id, populate_existing=True)
                if part in seen:
                    continue
                if is_mid_run(part, row):
                    pids = support.kill_worker(workers[part])
                    seen[part] = {"status": row.status, "progress": row.progress, "pids": pids}
                elif row.status in ("finished", "failed"):
                    pytest.fail(f"the {part} job ended before its worker could be killed mid-run", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for the jobs to be mid-run (killed so far: {sorted(seen)})",
                            pytrace=False)
            time.sleep(0.02)
        db.session.rollback()
        seen["after_kill"] = {
            "jobs": {part: (row.status, row.attempts) for part, row in (
                (p, db.session.get(Job, i, populate_existing=True)) for p, i in job_ids.items())},
            "settlement": support.settlement_rows(), "alerts": support.alert_rows(),
            "reports": support.report_rows(report_folder)}
        db.session.remove()
    return seen


def rq_idle(redis_url: str) -> bool:
    """Whether RQ has no DMS job queued or running (a cron-enqueued relay may come and go)."""
    from rq import Queue
    from rq.registry import StartedJobRegistry

    from dms.core.jobs import QUEUES

    connection = Redis.from_url(redis_url)
    try:
        for name in QUEUES:
            if any(job_id.startswith("dms-job-") for job_id in Queue(name, connection=connection).job_ids):
                return False
            running = [job_id for job_id, _ in StartedJobRegistry(name, connection=connection)
                       .get_job_and_execution_ids()]
            if any(job_id.startswith("dms-job-") for job_id in running):
                return False
        return True
    finally:
        connection.close()


def deliver_scheduled(redis_url: str) -> list[str]:
    """Enqueue the DMS jobs RQ has scheduled (its retries), as RQ's scheduler does when they are due; their ids."""
    from rq.registry import ScheduledJobRegistry

    from dms.core.jobs import QUEUES

    connection = Redis.from_url(redis_url)
    delivered = []
    try:
        for name in QUEUES:
            registry = ScheduledJobRegistry(name, connection=connection)
            for job_id in registry.get_job_ids():
                if job_id.startswith("dms-job-"):
                    registry.requeue(job_id)
                    delivered.append(job_id)
    finally:
        connection.close()
    return sorted(delivered)


@pytest.fixture(scope="module")
def drill(ha_databases, ha_redis_url, ha_field_keys, tmp_path_factory):
    """Run the drill once (see the module docstring); what was seen at the kills, after recovery, and the reference."""
    from dms.core.models import Job
    from dms.extensions import db

    drill_url, reference_url = ha_databases
    logs = tmp_path_factory.mktemp("ha_worker_kill")
    drill_reports, reference_reports = logs / "reports", logs / "reports-reference"
    apps = {"drill": make_app(drill_url, ha_field_keys, drill_reports, redis_url=ha_redis_url),
            "reference": make_app(reference_url, ha_field_keys, reference_reports)}
    worlds = {}
    for name, app in apps.items():
        with app.app_context():
            worlds[name] = support.seed()
            db.session.remove()
    assert worlds["drill"] == worlds["reference"]  # the same ids in both: rows compare one for one
    world = worlds["drill"]

    processes = []

    def start(name: str, *args: str) -> Process:
        env = worker_env(drill_url, ha_redis_url, ha_field_keys, drill_reports, name)
        process = Process(name, python("worker.py", "--job-monitoring-interval", str(HEARTBEAT), *args), env, logs)
        processes.append(process.start())
        return process

    try:
        first = {part: start(f"ha-{queue}", "--no-cron", "--queues", queue) for part, queue in QUEUE_OF.items()}
        with apps["drill"].app_context():
            job_ids = support.start_jobs(world)
            db.session.remove()
        try:
            seen = kill_mid_run(apps["drill"], first, job_ids, drill_reports)
        except BaseException:
            for process in first.values():
                print(f"--- {process.name}\n{process.log_tail()}")
            raise
        assert all(not process.alive() for process in first.values())
        # Each worker had its work horse (and RQ's scheduler process): all of them are gone.
        assert all(len(seen[part]["pids"]) >= 2 for part in QUEUE_OF), {p: seen[p]["pids"] for p in QUEUE_OF}
        wait_until(lambda: not [pid for part in QUEUE_OF for pid in seen[part]["pids"] if support.running(pid)],
                   timeout=10, what="the killed processes to be gone")

        recovery = start("ha-recovery")  # all queues and the cron scheduler (which runs the relay)
        started = time.monotonic()
        with apps["reference"].app_context():  # the uninterrupted run, while RQ waits out the dead heartbeats
            reference_ids = support.start_jobs(world)
            db.session.remove()
        assert reference_ids == job_ids

        def finished():
            with apps["drill"].app_context():
                try:
                    return all(db.session.get(Job, i).status == "finished" for i in job_ids.values())
                finally:
                    db.session.remove()

        try:
            wait_until(finished, timeout=150, interval=0.5, what="the killed jobs to be recovered and finished")
            recovered_after = time.monotonic() - started
            wait_until(lambda: rq_idle(ha_redis_url), timeout=60, interval=0.5, what="RQ to be idle")
            # RQ's own handling retried each abandoned job too (scheduled 5 s on): a second delivery, which the
            # runner must skip. RQ's scheduler would enqueue it once it holds the queue's scheduler lock (the
            # dead workers held them for 61 s, and a worker that found them taken tries again after 10
            # minutes); do what it would do, now, and let the worker run those deliveries.
            duplicates = deliver_scheduled(ha_redis_url)
            wait_until(lambda: rq_idle(ha_redis_url), timeout=60, interval=0.5, what="RQ to be idle again")
        except BaseException:
            print(f"--- recovery worker\n{recovery.log_tail(80)}")
            raise
        assert recovery.stop(timeout=60) == 0, recovery.log_tail()
        result = {"job_ids": job_ids, "seen": seen, "recovered_after": recovered_after, "duplicates": duplicates,
                  "drill": outcome(apps["drill"], drill_reports),
                  "reference": outcome(apps["reference"], reference_reports),
                  "recovery_log": recovery.log_path.read_text(errors="replace")}
    finally:
        for process in processes:
            process.kill()
        for app in apps.values():
            with app.app_context():
                db.engine.dispose()  # no pooled connection may keep a scratch database from being dropped
    print(f"worker-kill drill: 3 kills, recovered in {result['recovered_after']:.0f} s, "
          f"{len(result['duplicates'])} duplicate deliveries skipped")
    return result


def _job(outcome_: dict, name: str) -> list[tuple]:
    return [row for row in outcome_["jobs"] if row[0] == name]


def test_drill_recovers_every_killed_job_once_and_breaks_no_invariant(drill):
    after_kill = drill["seen"]["after_kill"]["jobs"]
    assert after_kill == {part: ("running", 1) for part in QUEUE_OF}  # killed mid-run: nobody had finished them
    assert drill["drill"]["violations"] == [] and drill["reference"]["violations"] == []
    # Every job row, as in the uninterrupted run, except that the killed ones took a second attempt.
    reference = [(name, args, key, status, attempts + 1, progress)
                 for name, args, key, status, attempts, progress in drill["reference"]["jobs"]]
    assert drill["drill"]["jobs"] == reference
    assert "abandoned by a worker that stopped" in drill["recovery_log"]
    # Each duplicate delivery (RQ's own retry of the abandoned job) was skipped: no third attempt above.
    assert set(drill["duplicates"]) <= {f"dms-job-{i}" for i in drill["job_ids"].values()}


def test_settlement_killed_mid_run_settles_every_distributor_once(drill):
    at_kill = drill["seen"]["after_kill"]["settlement"]
    assert MIN_STATEMENTS_AT_KILL <= len(at_kill["statements"]) < support.DISTRIBUTORS  # really mid-run
    done, reference = drill["drill"]["settlement"], drill["reference"]["settlement"]
    assert done["statements"] == reference["statements"]  # number, distributor, every amount, entry count
    assert done["entries"] == reference["entries"]  # every ledger entry on the same statement, same status
    assert done["run"] == reference["run"] == (support.PERIOD, "finished", support.DISTRIBUTORS,
                                               support.DISTRIBUTORS, support.DISTRIBUTORS)
    assert len({s[1] for s in done["statements"]}) == len(done["statements"]) == support.DISTRIBUTORS
    assert all(number is not None for *_rest, number in done["entries"])  # nothing left unsettled
    # No double payout: what the statements pay is what the ledger owes each distributor, once.
    owed: dict = {}
    for beneficiary, _reason, amount, _status, _number in done["entries"]:
        owed[beneficiary] = owed.get(beneficiary, 0) + amount
    assert done["payout"] == reference["payout"] == sum(max(total, 0) for total in owed.values())
    assert _job(drill["drill"], "dms.commissions.settlement.settle_period") == [
        ("dms.commissions.settlement.settle_period", (1,), f"settlement:{support.PERIOD}:1", "finished", 2, 100)]


def test_alert_check_killed_mid_transaction_raises_each_alert_and_notice_once(drill):
    at_kill = drill["seen"]["after_kill"]["alerts"]
    assert at_kill == {"alerts": [], "notifications": []}  # the killed transaction left nothing behind
    done, reference = drill["drill"]["alerts"], drill["reference"]["alerts"]
    assert done == reference
    assert len(done["alerts"]) == len(set(a[:4] for a in done["alerts"])) == support.PRODUCTS
    assert len(done["notifications"]) == len(set(done["notifications"])) == support.PRODUCTS * support.RECIPIENTS
    [job] = _job(drill["drill"], "dms.inventory.jobs.check_stock_alerts")
    assert job[3:5] == ("finished", 2)


def test_pdf_job_killed_while_rendering_writes_its_one_file(drill):
    assert drill["seen"]["report"]["progress"] >= 40  # killed while rendering (or saving), not after
    at_kill = drill["seen"]["after_kill"]["reports"]
    assert [row[3:] for row in at_kill["rows"]] == [(None, None, False)] and at_kill["files"] == []
    done, reference = drill["drill"]["reports"], drill["reference"]["reports"]
    assert done == reference  # one row: same key, title, file name, page count, finished
    assert done["files"] == ["reports/report-1.pdf"]  # one file, no half-written leftover
    [job] = _job(drill["drill"], "dms.reports.pdf_jobs.render_report")
    assert job[2:5] == ("report:1:1", "finished", 2)
