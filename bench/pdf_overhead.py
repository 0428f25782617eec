"""PDF overhead (issue 9, benchmark 5): the app's PDF jobs against WeasyPrint alone on the same HTML.

    .venv/bin/python bench/pdf_overhead.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_comm

Use a scratch PostgreSQL database (DATABASE_URL works too): it is migrated, and bench rows are added
once (distributors named "PDF压测…", their scorecard scores of 2026-10, one statement with its entries).
Two documents:
- a 1-page commission statement: dms.commissions.statement_pdf.render_statement_pdf (query, template,
  dms.core.pdf.render_pdf with the static-only fetcher and the shipped CJK font, atomic write);
- a ~20-page report: dms.reports.pdf_jobs.render_report on the dealer scorecard of 2026-10, whose PDF
  lists every scored distributor (--report-rows of them).
The ceiling is `weasyprint.HTML(string=html, base_url=<static folder>).write_pdf()` with default
settings on the HTML the app rendered (captured first), so the same stylesheet and font are loaded.

Every case runs in a fresh subprocess: one warm-up, then --runs timed runs (median printed). Memory:
the peak RSS of that subprocess (os.wait4's ru_maxrss, which includes what the process imported:
Flask and the app for the app's case, WeasyPrint alone for the ceiling), the growth of the peak over
the RSS just before the first render, and tracemalloc's peak of one further (untimed) run.
"""

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import child_figures, rss_kib  # noqa: E402

PERIOD = "2026-10"
PREFIX = "PDF压测"


def _app(url: str, report_folder: str):
    from dms import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "REPORT_FOLDER": report_folder, "REDIS_URL": None})


def _setup(rows: int, entries: int) -> tuple[int, int]:
    """The bench rows (made once): scored distributors and one settled statement; (report file id, statement id)."""
    from sqlalchemy import func, select

    from dms.commissions.models import CommissionEntry, Statement
    from dms.distributors.models import Distributor
    from dms.extensions import db
    from dms.orders.models import Order
    from dms.reports import scorecard
    from dms.reports.models import ReportFile, ScorecardScore

    have = db.session.scalar(select(func.count(ScorecardScore.id)).join(Distributor).where(
        ScorecardScore.period == PERIOD, Distributor.name.like(f"{PREFIX}%"))) or 0
    if have < rows:
        distributors = [Distributor(kind="person", name=f"{PREFIX}{n:05d}号经销商", level="county")
                        for n in range(have, rows)]
        db.session.add_all(distributors)
        db.session.flush()
        for n, d in enumerate(distributors):
            parts = {code: {"value": str(Decimal(n % 97) / 10), "points": str(Decimal(100 - n % 100))}
                     for code in scorecard.CRITERIA}
            score = Decimal(100 - n % 100) - Decimal("0.25")
            db.session.add(ScorecardScore(distributor_id=d.id, period=PERIOD, score=score, components=parts,
                                          weights={}))
        db.session.commit()
    seller = db.session.scalar(select(Distributor).where(Distributor.name.like(f"{PREFIX}%"))
                               .order_by(Distributor.id).limit(1))
    statement = db.session.scalar(select(Statement).where(Statement.distributor_id == seller.id,
                                                          Statement.period == PERIOD))
    if statement is None:
        statement = Statement(number=f"STBENCH-{seller.id:06d}", distributor_id=seller.id, period=PERIOD)
        db.session.add(statement)
        db.session.flush()
        total = Decimal("0.00")
        for n in range(entries):
            order = Order(distributor_id=seller.id, status="completed", total=Decimal("100.00") + n,
                          subtotal=Decimal("100.00") + n, completed_at=datetime(2026, 10, 1 + n % 28, 4))  # noqa: DTZ001 - naive UTC, as stored
            db.session.add(order)
            db.session.flush()
            amount = (order.total / 10).quantize(Decimal("0.01"))
            total += amount
            db.session.add(CommissionEntry(order_id=order.id, beneficiary_id=seller.id, level=1, kind="accrual",
                                           amount=amount, base=order.total, rate=Decimal("10.000"), period=PERIOD,
                                           status="payable", available_on=order.completed_at.date(),
                                           statement_id=statement.id))
        statement.entry_count, statement.accruals = entries, total
        statement.total = statement.payout = total
        db.session.commit()
    report = db.session.scalar(select(ReportFile).where(ReportFile.kind == "scorecard",
                                                        ReportFile.title == "PDF bench"))
    if report is None:
        report = ReportFile(key=f"pdf-bench-{PERIOD}-{rows}", kind="scorecard", title="PDF bench",
                            params={"period": PERIOD}, locale="zh_CN", orientation="landscape", distributor_id=None)
        db.session.add(report)
        db.session.commit()
    return report.id, statement.id


def _capture(report_id: int, statement_id: int, folder: Path) -> dict:
    """The HTML the app renders for both documents (as its jobs do), written to files for the ceiling."""
    from flask import current_app
    from flask_babel import force_locale

    from dms.commissions.models import Statement
    from dms.commissions.statement_pdf import statement_html
    from dms.core import jobs
    from dms.extensions import db
    from dms.reports import pdf_jobs, registry
    from dms.reports.models import ReportFile

    statement = db.session.get(Statement, statement_id)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        (folder / "statement.html").write_text(statement_html(statement))
    report_file = db.session.get(ReportFile, report_id)
    definition = registry.get(report_file.kind)
    with force_locale(report_file.locale):
        figures = dict(jobs.resolve(definition.build)(pdf_jobs._builder_of(report_file), dict(report_file.params)))
        (folder / "report.html").write_text(pdf_jobs.report_html(report_file, figures, definition))
    db.session.rollback()
    return {"statement": str(folder / "statement.html"), "report": str(folder / "report.html"),
            "rows": len(figures["rows"])}


# --- the child processes ------------------------------------------------------------------------------

def _cases(args):
    """(app, alone): one render each way of the document, the app's job and WeasyPrint on the captured HTML."""
    from weasyprint import HTML

    html = Path(args.html).read_text()
    base_url = (ROOT / "static").resolve().as_uri() + "/"

    def alone():
        return HTML(string=html, base_url=base_url).write_pdf()

    app = _app(args.database_url, args.folder)
    app.app_context().push()
    from dms.commissions.statement_pdf import render_statement_pdf
    from dms.extensions import db
    from dms.reports.pdf_jobs import render_report

    def job():
        result = render_statement_pdf(args.id) if args.document == "statement" else render_report(args.id)
        db.session.commit()  # the job's commit, as dms.core.jobs does after the function
        db.session.expire_all()
        return result

    return job, alone


def _child_time(args) -> None:
    """Timing, in one process: a cold run each way, then runs alternating app and alone (the machine's noise
    falls on both alike); prints JSON."""
    job, alone = _cases(args)
    cold = {}
    for name, once in (("app", job), ("alone", alone)):
        started = time.perf_counter()
        once()
        cold[name] = time.perf_counter() - started
    times = {"app": [], "alone": []}
    for n in range(args.runs):
        order = (("app", job), ("alone", alone)) if n % 2 == 0 else (("alone", alone), ("app", job))
        for name, once in order:
            started = time.perf_counter()
            once()
            times[name].append(time.perf_counter() - started)
    print(json.dumps({"cold": cold, "times": times}))


def _child_memory(args) -> None:
    """Memory of one way (`args.way`) in this fresh process: RSS before, peak after one render, then the
    tracemalloc peak of a second render; prints JSON."""
    job, alone = _cases(args) if args.way == "app" else (None, None)
    if args.way == "alone":  # WeasyPrint alone: no Flask app imported at all
        from weasyprint import HTML

        html = Path(args.html).read_text()
        base_url = (ROOT / "static").resolve().as_uri() + "/"

        def alone():
            return HTML(string=html, base_url=base_url).write_pdf()
    once = job if args.way == "app" else alone
    before = rss_kib()
    once()
    peak = rss_kib("VmHWM")
    tracemalloc.start()
    once()
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"rss_before_kib": before, "hwm_kib": peak, "tracemalloc_peak": traced}))


def _run_child(args, **extra) -> dict:
    """Run a child in a fresh subprocess; its JSON figures plus its peak RSS (ru_maxrss from os.wait4)."""
    command = [sys.executable, __file__, "--runs", str(args.runs), "--database-url", args.database_url,
               "--folder", args.folder]
    for name, value in extra.items():
        command += [f"--{name}", str(value)]
    return child_figures(command, ROOT, str(extra))


def _pages(path: str) -> int:
    """The page count of a PDF file (poppler's pdfinfo)."""
    info = subprocess.run(["pdfinfo", path], check=True, capture_output=True, text=True).stdout
    return int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (after one warm-up)")
    parser.add_argument("--report-rows", type=int, default=560, help="scored distributors (~28 a page)")
    parser.add_argument("--entries", type=int, default=12, help="entries on the 1-page statement")
    parser.add_argument("--child", choices=("time", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--document", help=argparse.SUPPRESS)
    parser.add_argument("--way", help=argparse.SUPPRESS)
    parser.add_argument("--id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--html", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.database_url.startswith("postgresql://"):
        args.database_url = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    if not args.database_url.startswith("postgresql"):
        print("usage: bench/pdf_overhead.py --database-url postgresql+psycopg://USER@HOST:PORT/SCRATCH_DB "
              "(or DATABASE_URL): a scratch PostgreSQL database", file=sys.stderr)
        return 2
    if args.child:
        logging.getLogger("weasyprint").setLevel(logging.WARNING)  # no per-page progress lines on either side
        _child_time(args) if args.child == "time" else _child_memory(args)
        return 0

    from flask_migrate import upgrade

    work = Path(tempfile.mkdtemp(prefix="pdf-bench-"))
    args.folder = str(work / "reports")
    app = _app(args.database_url, args.folder)
    with app.app_context():
        upgrade()
        report_id, statement_id = _setup(args.report_rows, args.entries)
        captured = _capture(report_id, statement_id, work)
    from weasyprint import HTML

    base_url = (ROOT / "static").resolve().as_uri() + "/"
    pages = {}
    for name in ("statement", "report"):
        out = work / f"{name}-weasyprint.pdf"
        HTML(string=Path(captured[name]).read_text(), base_url=base_url).write_pdf(out)
        pages[name] = _pages(str(out))

    results = {}
    for name, ident in (("statement", statement_id), ("report", report_id)):
        common = {"document": name, "id": ident, "html": captured[name]}
        results[(name, "time")] = _run_child(args, child="time", **common)
        for way in ("app", "alone"):
            results[(name, way)] = _run_child(args, child="memory", way=way, **common)
    app_pages = {"statement": _pages(str(next((work / "reports" / "statements").glob("*.pdf")))),
                 "report": _pages(str(next((work / "reports" / "reports").glob("*.pdf"))))}

    print()
    print(f"PDF overhead, PostgreSQL ({args.database_url.rsplit('/', 1)[-1]}), median of {args.runs} runs "
          f"after a warm-up, each case in a fresh process; report = dealer scorecard, {captured['rows']} rows")
    print()
    print("| document | pages (app / alone) | app s | WeasyPrint alone s | time overhead | overhead, median of pairs "
          "| app cold s | alone cold s | app peak RSS MiB | alone peak RSS MiB | app RSS growth MiB "
          "| alone RSS growth MiB | app tracemalloc MiB | alone tracemalloc MiB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")

    def mib(kib):
        return f"{kib / 1024:.0f}"

    for name in ("statement", "report"):
        t, a, w = results[(name, "time")], results[(name, "app")], results[(name, "alone")]
        app_s, alone_s = statistics.median(t["times"]["app"]), statistics.median(t["times"]["alone"])
        pairs = statistics.median(x / y for x, y in zip(t["times"]["app"], t["times"]["alone"], strict=True))
        print(f"| {name} | {app_pages[name]} / {pages[name]} | {app_s:.3f} | {alone_s:.3f} "
              f"| {(app_s / alone_s - 1) * 100:+.1f}% | {(pairs - 1) * 100:+.1f}% "
              f"| {t['cold']['app']:.3f} | {t['cold']['alone']:.3f} | {mib(a['maxrss_kib'])} | {mib(w['maxrss_kib'])} "
              f"| {mib(a['hwm_kib'] - a['rss_before_kib'])} | {mib(w['hwm_kib'] - w['rss_before_kib'])} "
              f"| {a['tracemalloc_peak'] / 2**20:.1f} | {w['tracemalloc_peak'] / 2**20:.1f} |")
    print()
    print("Seconds: median of the runs, app and alone alternating in one process after a cold run of each; "
          "overhead = app / alone - 1 (target: under +10%). Peak RSS: ru_maxrss (os.wait4) of a fresh process "
          "making one document one way (the app's includes Flask, SQLAlchemy and the app); RSS growth: that peak "
          "less the process's RSS before the render; tracemalloc: the Python allocations' peak of a second render.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
