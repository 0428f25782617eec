"""Drill: Redis dies while orders are placed and completed; the app keeps working and no job is lost or doubled.

Real processes against a world of the drill's own (tests/faults/services_support.py): a redis-server, one
gunicorn node and one `worker.py` (RQ worker + cron scheduler) on a scratch PostgreSQL database.

1. Before the outage, orders are placed and completed: the worker runs their jobs (stock-alert checks, the
   order.completed event that accrues commission).
2. redis-server is SIGKILLed. Orders are placed, delivered and completed (over the API and the web form),
   pages load, a user logs in: everything answers as usual. /healthz names Redis as down and the database as
   up; the health report says `degraded`; every job committed meanwhile waits in the outbox (`pending`).
3. redis-server starts again on the same port, empty (no persistence, as after a crash). The relay
   (`flask dms relay-outbox`, a process of its own; the worker's cron runs the same every 30 s) pushes the
   waiting jobs; the worker, which outlived the outage, runs them.

Then every job row finished at its first attempt, and the commission entries are exactly those computed here
from the orders: one set per completed order, none doubled, none missing.
"""

import time
from decimal import Decimal

import pytest

from tests.faults.services_support import (
    ACTIVE_JOB,
    PASSWORD,
    RedisServer,
    commission_entries,
    deliver,
    drill_app,
    expected_commissions,
    field_keys,
    flask_cli,
    in_app,
    job_rows,
    node_env,
    place_order,
    seed,
    token,
    wait_for_node,
    web_node,
)
from tests.scaleout.cluster import Http, Process, python, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql, pytest.mark.redis]
__all__ = ["field_keys"]  # a fixture, imported to be found

BEFORE, DURING = 2, 6  # orders completed before the outage, and during it


@pytest.fixture(autouse=True)
def _clean_state():
    """No reset of the shared test database: this drill runs on a scratch database of its own."""
    yield


def web_login(base: str, username: str) -> Http:
    """A browser-like client logged in through the login form (302 asserted)."""
    http = Http(base)
    assert http.get("/login").status == 200
    response = http.post_form("/login", {"username": username, "password": PASSWORD, "csrf_token": http.csrf})
    assert response.status == 302, response.text[:500]
    return http


def complete_on_web(browser: Http, order_id: int):
    """Complete a delivered order through the order page's form (as a user would)."""
    assert browser.get(f"/orders/{order_id}").status == 200
    response = browser.post_form(f"/orders/{order_id}/complete", {"note": "", "csrf_token": browser.csrf})
    assert response.status == 302, response.text[:500]


def complete_on_api(http: Http, manager: dict, order_id: int):
    """Complete a delivered order over the API."""
    response = http.post_json(f"/api/orders/{order_id}/transitions", {"to": "completed"}, manager)
    assert response.status == 200, response.text


def test_redis_outage_keeps_the_app_working_and_every_job_runs_once(field_keys, tmp_path):
    timings = {}
    started = time.monotonic()
    with drill_app("redis", field_keys) as (app, database_url):
        world = seed(app)
        redis = RedisServer(tmp_path).start()
        env = node_env(database_url, redis.url, field_keys, tmp_path)
        web, base = web_node(env, tmp_path)
        worker = Process("worker", python("worker.py"), env, tmp_path)  # RQ worker + the cron scheduler
        processes = [web, worker]
        try:
            web.start()
            worker.start()
            wait_for_node(base, web)
            http = Http(base)
            client = token(http, grant_type="client_credentials", client_id=world["client_id"],
                           client_secret=world["secret"])
            manager = token(http, grant_type="password", username="manager", password=PASSWORD)
            browser = web_login(base, "manager")
            health = http.get("/healthz")
            assert health.status == 200 and health.json()["checks"]["redis"] == "ok", health.text
            timings["up"] = time.monotonic() - started

            # --- 1. before the outage: the worker runs the jobs as they come ---------------------------------
            totals = {}
            for n in range(BEFORE):
                order = place_order(http, world, client, 1 + n)
                deliver(http, world, manager, order)
                complete_on_api(http, manager, order["order_id"])
                totals[order["order_id"]] = Decimal(order["total_price"])
            wait_until(lambda: job_rows(app) and not {r[2] for r in job_rows(app)} & set(ACTIVE_JOB), 30,
                       what="the jobs of the orders before the outage")
            jobs_before = {r[0] for r in job_rows(app)}
            assert len(commission_entries(app)) == 2 * BEFORE

            # --- 2. Redis dies: orders, pages and logins go on; jobs wait in the outbox -----------------------
            redis.kill()
            outage_started = time.monotonic()
            assert not redis.ping()
            health = http.get("/healthz")
            report = health.json()
            assert report["checks"]["database"] == "ok" and report["checks"]["redis"].startswith("error"), report
            during = []
            for n in range(DURING):
                order = place_order(http, world, client, 1 + n % 3)
                deliver(http, world, manager, order)
                if n % 2:
                    complete_on_web(browser, order["order_id"])
                else:
                    complete_on_api(http, manager, order["order_id"])
                totals[order["order_id"]] = Decimal(order["total_price"])
                during.append(order["order_id"])
            for path in ("/", "/dashboard", "/orders", f"/orders/{during[0]}", "/commissions", "/inventory"):
                page = browser.get(path)
                assert page.status in (200, 302) and "text/html" in page.headers.get("Content-Type", ""), (
                    path, page.status, page.text[:300])
            assert browser.get("/orders").status == 200
            api_list = http.get("/api/orders", manager)
            assert api_list.status == 200 and api_list.json()["total"] == BEFORE + DURING, api_list.text[:300]
            web_login(base, "hq_admin")  # the login throttle counts in Redis: it must not lock users out
            waiting = [r for r in job_rows(app) if r[0] not in jobs_before]
            assert waiting and {r[2] for r in waiting} == {"pending"}, waiting
            events = [r for r in waiting if (r[4] or "").startswith("event:order.completed:")]
            assert len(events) == DURING
            assert len(commission_entries(app)) == 2 * BEFORE  # nothing ran while Redis was away

            from dms.core import observability

            def degraded_report():
                with app.test_request_context():
                    app.config["REDIS_URL"] = redis.url
                    try:
                        return observability.health()
                    finally:
                        app.config["REDIS_URL"] = None
            body, status = in_app(app, degraded_report)
            assert (status, body["status"], body["checks"]["database"]) == (200, "degraded", "ok"), body
            assert body["checks"]["redis"].startswith("error") and body["outbox"] == len(waiting), body
            timings["outage"] = time.monotonic() - outage_started

            # --- 3. Redis comes back (empty); the relay pushes the outbox; the worker runs every job once -----
            redis.start()
            wait_until(lambda: http.get("/healthz").status == 200, 10, what="/healthz to be ok again")
            # The relay leaves jobs younger than OUTBOX_RELAY_AFTER_SECONDS (10 s) to their own push.
            newest = max(in_app(app, lambda: _created_at(waiting)))
            wait_until(lambda: _age(app, newest) > 10.5, 15, 0.5, what="the outbox rows to be old enough to relay")
            relayed = flask_cli(env, "dms", "relay-outbox")
            assert relayed.returncode == 0, relayed.stdout + relayed.stderr
            wait_until(lambda: not {r[2] for r in job_rows(app)} & set(ACTIVE_JOB), 45,
                       what="the relayed jobs to run")
            timings["drained"] = time.monotonic() - started
            assert worker.alive(), worker.log_tail()
            assert web.alive(), web.log_tail()
            for process in processes:
                assert process.stop() == 0, process.log_tail()
        except BaseException:
            for process in (*processes, redis.process):
                if process is not None and process.log_tail():
                    print(f"--- {process.name} ---\n{process.log_tail(60)}")
            raise
        finally:
            for process in processes:
                if process.alive():
                    process.kill()
            redis.stop()

        rows = job_rows(app)
        assert {(r[2], r[3]) for r in rows} == {("finished", 1)}, [r for r in rows if (r[2], r[3]) != ("finished", 1)]
        event_ids = sorted(int(r[4].rsplit(":", 1)[1]) for r in rows
                           if (r[4] or "").startswith("event:order.completed:"))
        assert event_ids == sorted(totals)  # one completion event per order, before or during the outage
        expected = expected_commissions(world, totals)
        entries = commission_entries(app)
        assert len(entries) == len(expected) == 2 * (BEFORE + DURING)
        assert {(o, b, level): amount for o, b, level, amount, _ in entries} == expected
        assert {kind for *_, kind in entries} == {"accrual"}
    print(f"redis outage: {DURING} orders placed and completed during it, {len(waiting)} jobs waited and ran once "
          f"after it ({relayed.stdout.strip()}); timings (s): { {k: round(v, 1) for k, v in timings.items()} }")


def _created_at(rows) -> list:
    """The created_at of the given job rows."""
    from sqlalchemy import select

    from dms.core.models import Job
    from dms.extensions import db

    return list(db.session.scalars(select(Job.created_at).where(Job.id.in_([r[0] for r in rows]))))


def _age(app, moment) -> float:
    """Seconds from `moment` (a naive UTC timestamp as the app stores them) to now."""
    from dms.core.time import utcnow

    return (utcnow() - moment).total_seconds()
