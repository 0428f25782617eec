"""A settlement killed mid-run (SIGKILL of a real process) and started again gives exactly the statements
of an uninterrupted run: nothing doubled, nothing lost."""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal as D
from pathlib import Path

from sqlalchemy import func, insert, select

from dms.commissions import settlement
from dms.commissions.models import CommissionEntry, Statement
from dms.distributors.models import Distributor
from dms.extensions import db

ROOT = Path(__file__).resolve().parents[2]
COUNT = 300


def _settle_process():
    env = {**os.environ, "DMS_ENV": "testing", "REDIS_URL": "", "FLASK_APP": "wsgi"}
    return subprocess.Popen([sys.executable, "-m", "flask", "dms", "settle", "2026-10"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _statement_count():
    db.session.rollback()  # see the other process's commits
    return db.session.scalar(select(func.count(Statement.id)))


def test_kill_mid_run_and_restart_gives_the_same_statements(app):
    ids = [db.session.execute(insert(Distributor).values(kind="person", name=f"代理{n}", level="county",
                                                         status="active")).inserted_primary_key[0]
           for n in range(COUNT)]
    rows = []
    for n, distributor_id in enumerate(ids):
        for k in range(3):  # three entries each, one of them negative for every fifth distributor
            amount = D(f"{n + 1}.{k}5") * (-1 if k == 2 and n % 5 == 0 else 1)
            rows.append({"beneficiary_id": distributor_id, "level": 1, "kind": "adjustment", "amount": amount,
                         "period": "2026-10", "status": "payable", "available_on": date(2026, 10, 20), "reason": "x"})
    db.session.execute(insert(CommissionEntry), rows)
    db.session.commit()
    expected = {}
    for row in rows:
        expected[row["beneficiary_id"]] = expected.get(row["beneficiary_id"], D("0.00")) + row["amount"]

    process = _settle_process()
    deadline = time.monotonic() + 120
    while _statement_count() < 20 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    interrupted_at = _statement_count()
    assert 0 < interrupted_at < COUNT, f"the run was not interrupted mid-way ({interrupted_at} statements)"

    restarted = _settle_process()
    out, err = restarted.communicate(timeout=300)
    assert restarted.returncode == 0, err[-2000:]
    db.session.rollback()
    found = {s.distributor_id: s for s in db.session.scalars(select(Statement))}
    assert len(found) == COUNT
    for distributor_id, total in expected.items():
        s = found[distributor_id]
        assert (s.number, s.adjustments, s.total, s.payout, s.entry_count) == (
            settlement.statement_number(distributor_id, date(2026, 10, 1)), total, total, max(total, 0), 3)
    assert db.session.scalar(select(func.count(CommissionEntry.id)).where(CommissionEntry.statement_id.is_(None))) == 0
    assert settlement.differences() == []
