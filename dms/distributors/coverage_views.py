"""Territory coverage pages: who holds which region on a date, the gaps, and the shared territory."""

import csv
import io
from datetime import date

from flask import make_response, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.routing import BuildError

from dms.core.auth import require_permission
from dms.core.errors import NotFound
from dms.core.listing import Page, int_arg
from dms.core.render import render
from dms.core.time import business_today
from dms.distributors import bp, grants
from dms.distributors.services import level_label, status_label
from dms.extensions import db
from dms.territories.models import LEVELS, Region
from dms.territories.picker import picked_code
from dms.territories.services import ancestors, find_region, with_paths

GAPS_PER_PAGE = 50
OVERLAPS_CAP = 500


def _on_date() -> tuple[date, str | None]:
    """The ?on= date (default today) and an error message when it was not a date."""
    raw = (request.args.get("on") or "").strip()
    if not raw:
        return business_today(), None
    try:
        return date.fromisoformat(raw), None
    except ValueError:
        return business_today(), _("“%(value)s” is not a date; showing today.", value=raw[:20])


def distributor_url(distributor) -> str | None:
    """The distributor's page, or None while that page does not exist."""
    try:
        return url_for("distributors.show_distributor", distributor_id=distributor.id)
    except BuildError:
        return None


def _common() -> dict:
    """What every coverage template uses: today, label functions and the distributor link."""
    return {"today": business_today(), "level_name": level_label, "status_name": status_label,
            "distributor_url": distributor_url}


@bp.get("/territories")
@require_permission("territories.view")
def territory_coverage():
    """The regions under ?parent= (the provinces by default) with the grants covering each on ?on=."""
    on, date_error = _on_date()
    parent = None
    code = (request.args.get("parent") or "").strip()
    if code:
        parent = find_region(code)
        if parent is None:
            raise NotFound()
        if parent.level == "county":  # a county has nothing below it: show it among its siblings
            parent = find_region(parent.parent_code)
    rows = grants.coverage(parent.code if parent else None, on)
    trail = [*ancestors(parent.code), parent] if parent else []
    return render("distributors/coverage.html", "distributors/_coverage_table.html",
                  rows=rows, parent=parent, trail=trail, on=on, date_error=date_error,
                  covered=sum(1 for row in rows if row.covered), **_common())


def _gap_query() -> dict:
    """The gap report's choices from the query string: level, within (picker or code) and date."""
    level = request.args.get("level") or "county"
    if level not in LEVELS:
        level = "county"
    on, date_error = _on_date()
    within = find_region(picked_code(request.args, "within"))
    if within is not None and LEVELS.index(within.level) > LEVELS.index(level):
        within = None  # a county holds no cities: the choice is ignored, not an error
    return {"level": level, "on": on, "within": within, "date_error": date_error}


def _regions_at(level: str, within: Region | None) -> int:
    """How many regions of `level` lie under `within` (all of them for None)."""
    stmt = select(func.count()).select_from(Region).where(Region.level == level)
    if within is not None:
        stmt = stmt.where(Region.code.in_(grants.region_family(within.code)))
    return db.session.scalar(stmt) or 0


def _gap_rows(choice: dict) -> list[tuple[Region, list[Region], int]]:
    """The uncovered regions with their paths and the number of grants in force below each."""
    found = grants.gaps(choice["level"], choice["on"], choice["within"].code if choice["within"] else None)
    paths = dict(with_paths([region for region, _below in found]))
    return [(region, paths[region], below) for region, below in found]


@bp.get("/territories/gaps")
@require_permission("territories.view")
def territory_gaps():
    """Regions of a level (optionally within one region) that no grant in force on a date covers."""
    choice = _gap_query()
    rows = _gap_rows(choice)
    filters = {"level": choice["level"], "on": choice["on"].isoformat(),
               "within": choice["within"].code if choice["within"] else ""}
    page = Page(items=[], total=len(rows), page=int_arg("page", 1), per_page=GAPS_PER_PAGE,
                filters={k: v for k, v in filters.items() if v}, endpoint="distributors.territory_gaps")
    page.page = min(page.page, page.pages)
    page.items = rows[(page.page - 1) * GAPS_PER_PAGE: page.page * GAPS_PER_PAGE]
    return render("distributors/coverage_gaps.html", "distributors/_coverage_gaps_table.html",
                  page=page, levels=[(code, level_label(code)) for code in LEVELS],
                  partly=sum(1 for _region, _path, below in rows if below),
                  of=_regions_at(choice["level"], choice["within"]), csv_args=page.args(page=None),
                  **choice, **_common())


@bp.get("/territories/gaps.csv")
@require_permission("territories.view")
def export_territory_gaps():
    """The gap report as a CSV file (UTF-8 with BOM, so spreadsheet programs read the Chinese names)."""
    choice = _gap_query()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Code"), _("Region"), _("Path"), _("Level"), _("Grants below")])
    for region, path, below in _gap_rows(choice):
        writer.writerow([region.code, region.name, " / ".join(p.name for p in path), level_label(region.level),
                         below])
    response = make_response("\ufeff" + out.getvalue())
    response.mimetype = "text/csv"
    filename = f"territory-gaps-{choice['level']}-{choice['on'].isoformat()}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/territories/overlaps")
@require_permission("territories.view")
def territory_overlaps():
    """Grants in force on a date whose regions overlap where at least one of the pair is not exclusive."""
    on, date_error = _on_date()
    found = grants.shared_overlaps(on)
    paths = dict(with_paths(list({o.inner.region for o in found} | {o.outer.region for o in found})))
    return render("distributors/coverage_overlaps.html", overlaps=found[:OVERLAPS_CAP], total=len(found),
                  cap=OVERLAPS_CAP, paths=paths, on=on, date_error=date_error,
                  **_common())
