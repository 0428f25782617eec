"""Two transactions granting overlapping exclusive territories at once: exactly one wins.

Runs on both engines: on PostgreSQL the province's advisory lock makes the second transaction wait
for the first to commit, then see its grant; on SQLite the early no-op write does the same. Without
the lock the second transaction would not see the first's uncommitted row and both would win.
"""

import threading
from datetime import date

from sqlalchemy import func, select

from dms.distributors.grants import TerritoryTaken, grant_territory
from dms.distributors.models import Distributor, TerritoryGrant
from dms.extensions import db
from tests.concurrency import attempt


def _run(app, distributor_id, region_code, events, results, name, hold=None):
    def work():
        if events.get("wait_before"):
            events["wait_before"].wait(5)
        distributor = db.session.get(Distributor, distributor_id)
        grant_territory(None, distributor, region_code, effective_from=date(2026, 1, 1))
        if hold is not None:
            events["granted"].set()
            hold.wait(5)  # keep the transaction open while the other one tries

    outcome, value = attempt(app, work, {TerritoryTaken: "taken"})
    results[name] = value if outcome == "error" else outcome  # the error itself, as the assertion's message


def test_concurrent_overlapping_grants_only_one_wins(app, make_distributor):
    city, county = make_distributor("440100"), make_distributor("440106")
    granted, release = threading.Event(), threading.Event()
    results = {}
    first = threading.Thread(target=_run, args=(app, city.id, "440100", {"granted": granted}, results, "city"),
                             kwargs={"hold": release})
    second = threading.Thread(target=_run, args=(app, county.id, "440106", {"wait_before": granted}, results,
                                                 "county"))
    first.start()
    second.start()
    second.join(1.0)
    assert second.is_alive(), f"the second grant did not wait for the first: {results}"
    release.set()
    first.join(10)
    second.join(10)
    assert results == {"city": "won", "county": "taken"}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TerritoryGrant)) == 1


def test_concurrent_grants_of_separate_regions_both_win(app, make_distributor):
    a, b = make_distributor("440106"), make_distributor("330106")
    results = {}
    threads = [threading.Thread(target=_run, args=(app, d.id, code, {}, results, code))
               for d, code in ((a, "440106"), (b, "330106"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == {"440106": "won", "330106": "won"}
