"""The worker-kill drill's world: deterministic data, the three jobs as the app starts them, and row snapshots.

`seed` builds the same rows (same ids) in any freshly migrated database, so the drill database and the
reference database can be compared row for row. The snapshots leave out what legitimately differs between
two runs (ids of rows created by the run, timestamps, the PDF's bytes, which carry their print time).
"""

from datetime import date
from decimal import Decimal as D

from sqlalchemy import func, insert, select, text

PERIOD = "2026-11"  # a finished month (the drill runs later) with no statement after it
DISTRIBUTORS = 400  # settled one transaction each: enough work for a kill to land mid-run
PRODUCTS = 500  # each below its threshold in one warehouse: one low-stock alert each
RECIPIENTS = 3  # HQ users notified of each alert: alerts x recipients notifications in one transaction
PASSWORD = "correct-horse-battery"
REPORT_PARAMS = {"start": "2026-01", "end": PERIOD}


def seed() -> dict:
    """Fill a migrated database with the drill's data (committed); the ids the jobs need."""
    from dms.accounts import services as accounts
    from dms.catalog.models import Product
    from dms.commissions.models import CommissionEntry
    from dms.distributors.models import Distributor, Warehouse
    from dms.extensions import db
    from dms.inventory.models import WarehouseThreshold

    ids = [db.session.execute(insert(Distributor).values(kind="person", name=f"演练代理{n:04d}", level="county",
                                                         status="active")).inserted_primary_key[0]
           for n in range(DISTRIBUTORS)]
    entries = []
    for n, distributor_id in enumerate(ids):
        for k in range(3):  # one negative entry for every seventh distributor: some statements carry a debt
            amount = D(f"{n + 1}.{k}7") * (-1 if k == 2 and n % 7 == 0 else 1)
            entries.append({"beneficiary_id": distributor_id, "level": 1, "kind": "adjustment", "amount": amount,
                            "period": PERIOD, "status": "payable", "available_on": date(2026, 11, 20),
                            "reason": f"drill {n}/{k}"})
    db.session.execute(insert(CommissionEntry), entries)
    # HQ's warehouse (the migrations make it): the daily check enqueues one job per active warehouse.
    warehouse = db.session.scalars(select(Warehouse).where(Warehouse.distributor_id.is_(None))
                                   .order_by(Warehouse.id)).first()
    products = [{"sku": f"DRILL-{n:05d}", "name": f"演练商品{n:05d}", "status": "available", "tracking": "none"}
                for n in range(PRODUCTS)]
    db.session.execute(insert(Product), products)
    product_ids = list(db.session.scalars(select(Product.id).where(Product.sku.like("DRILL-%")).order_by(Product.id)))
    db.session.execute(insert(WarehouseThreshold), [{"warehouse_id": warehouse.id, "product_id": p, "threshold": 5}
                                                    for p in product_ids])
    admins = [accounts.create_user(None, username=f"drill-admin{n}", password=PASSWORD, roles=["admin"]).id
              for n in range(RECIPIENTS)]
    db.session.commit()
    return {"warehouse_id": warehouse.id, "owner_id": admins[0]}


def start_jobs(world: dict) -> dict:
    """Start the three jobs as the app does (outbox rows, dispatched on commit); their job ids."""
    from dms.accounts.models import User
    from dms.commissions import settlement
    from dms.core import jobs
    from dms.extensions import db
    from dms.inventory.jobs import check_all_stock_alerts
    from dms.reports import pdf_jobs

    owner = db.session.get(User, world["owner_id"])
    run = settlement.start_run(owner, PERIOD)  # the HQ page's "settle" button
    check_all_stock_alerts()  # the daily alert check: one keyed job per warehouse
    report = pdf_jobs.request_report(owner, "commissions", REPORT_PARAMS, locale="zh_CN")  # "download as PDF"
    started = {"settlement": run.job_id, "report": report.job_id}
    jobs.commit()
    started["alerts"] = alert_job_id(world)
    return started


def alert_job_id(world: dict) -> int:
    """The id of the warehouse's alert-check job (found by its business key)."""
    from dms.core.models import Job
    from dms.extensions import db

    return db.session.scalar(select(Job.id).where(Job.key.like(f"stock-alerts:{world['warehouse_id']}:%")))


def job_rows() -> list[tuple]:
    """Every job row: (name, args, key, status, attempts, progress), by name and key."""
    from dms.core.models import Job
    from dms.extensions import db

    return sorted((j.name, tuple(j.args or ()), j.key, j.status, j.attempts, j.progress)
                  for j in db.session.scalars(select(Job)))


def settlement_rows() -> dict:
    """Statements, the entries on them, the run, and the paid-out total: what a settlement leaves."""
    from dms.commissions.models import CommissionEntry, SettlementRun, Statement
    from dms.extensions import db

    statements = sorted((s.number, s.distributor_id, s.period, s.status, s.accruals, s.clawbacks, s.rewards,
                         s.adjustments, s.carried_in, s.total, s.payout, s.carried_out, s.entry_count)
                        for s in db.session.scalars(select(Statement)))
    entries = sorted(db.session.execute(
        select(CommissionEntry.beneficiary_id, CommissionEntry.reason, CommissionEntry.amount, CommissionEntry.status,
               Statement.number).outerjoin(Statement, Statement.id == CommissionEntry.statement_id)).all())
    run = db.session.scalars(select(SettlementRun)).one()
    return {"statements": statements, "entries": [tuple(e) for e in entries],
            "run": (run.period, run.status, run.distributors_total, run.distributors_done, run.statements_created),
            "payout": db.session.scalar(select(func.coalesce(func.sum(Statement.payout), 0)))}


def alert_rows() -> dict:
    """Alerts (by warehouse, product, kind, day) and notifications (by user, title): what an alert check leaves."""
    from dms.core.models import Notification
    from dms.extensions import db
    from dms.inventory.models import StockAlert

    alerts = sorted((a.warehouse_id, a.product_id, a.kind, a.day, a.status, a.quantity, a.threshold)
                    for a in db.session.scalars(select(StockAlert)))
    notes = sorted(db.session.execute(select(Notification.user_id, Notification.title, Notification.body,
                                             Notification.link)).all())
    return {"alerts": alerts, "notifications": [tuple(n) for n in notes]}


def report_rows(report_folder) -> dict:
    """Report files (rows and the PDFs on disk, by name): what a PDF job leaves."""
    from pathlib import Path

    from dms.extensions import db
    from dms.reports.models import ReportFile

    rows = sorted((r.kind, r.key, r.title, r.filename, r.pages, r.finished_at is not None)
                  for r in db.session.scalars(select(ReportFile)))
    folder = Path(report_folder)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) \
        if folder.exists() else []
    return {"rows": rows, "files": files}


def writing_backends(application_name: str) -> int:
    """How many of that client's database sessions are inside a transaction that has written something."""
    from dms.extensions import db

    return db.session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND application_name = :name AND backend_xid IS NOT NULL"),
                             {"name": application_name})


def descendants(pid: int) -> list[int]:
    """The pids of a process's children, grandchildren, ... (Linux /proc)."""
    import os

    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_worker(process) -> list[int]:
    """SIGKILL a worker.py process and everything it started, as a lost machine or an OOM kill would; their pids.

    Its process group is not enough: RQ puts each work horse (the process running the job) in a group
    of its own, so a horse would outlive its worker and finish the job. Stopped first, so none forks on.
    """
    import os
    import signal

    pids = [process.popen.pid, *descendants(process.popen.pid)]
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
    process.kill()  # the worker's own group too (and reaps it)
    return pids


def running(pid: int) -> bool:
    """Whether that process still exists and is not a zombie (dead, waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
