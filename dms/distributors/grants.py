"""Territory grants: who holds which region when, exclusivity, routing, coverage and gaps.

Two grants *overlap* when their regions are the same or one lies inside the other (a county inside a
granted city) and their date ranges share a day. Two exclusive grants may never overlap; a
non-exclusive grant may overlap anything, which is how a province agent keeps the province while
city agents hold its cities: routing picks the most specific grant.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import or_, select

from dms.core import audit
from dms.core.errors import Conflict, Forbidden, NotFound, ValidationError
from dms.core.locks import lock_subject
from dms.core.time import business_today
from dms.distributors.models import Distributor, TerritoryGrant
from dms.extensions import db
from dms.territories.models import Region
from dms.territories.services import ancestors, find_region, subtree_codes, with_paths


def _require(actor, permission: str = "territories.manage"):
    if actor is not None and not actor.can(permission):
        raise Forbidden()


def region_family(code: str) -> set[str]:
    """The codes that overlap `code`: itself, the regions above it and every region below it."""
    return set(subtree_codes(code)) | {r.code for r in ancestors(code)}


def _in_force_during(start: date, end: date | None):
    """SQL: the grant's dates share at least one day with [start, end] (end None = open)."""
    clauses = [or_(TerritoryGrant.effective_to.is_(None), TerritoryGrant.effective_to >= start)]
    if end is not None:
        clauses.append(TerritoryGrant.effective_from <= end)
    return clauses


def in_force_on(on: date):
    """SQL: the grant covers the day `on`."""
    return _in_force_during(on, on)


def conflicting_grants(region_code: str, start: date, end: date | None,
                       exclude_id: int | None = None) -> list[TerritoryGrant]:
    """Exclusive grants whose region overlaps `region_code` during [start, end]."""
    stmt = (select(TerritoryGrant)
            .where(TerritoryGrant.exclusive.is_(True),
                   TerritoryGrant.region_code.in_(region_family(region_code)),
                   *_in_force_during(start, end))
            .order_by(TerritoryGrant.effective_from, TerritoryGrant.id))
    if exclude_id is not None:
        stmt = stmt.where(TerritoryGrant.id != exclude_id)
    return list(db.session.scalars(stmt).unique())


def _province_key(region_code: str) -> int:
    # Overlapping regions always share a province (the first two digits): lock per province.
    return int(region_code[:2])


class TerritoryTaken(Conflict):
    """An exclusive grant in force overlaps the region asked for."""

    code = "territory_taken"


def conflict_message(grant: TerritoryGrant) -> str:
    """Says which exclusive grant is in the way, held by whom and when."""
    until = grant.effective_to.isoformat() if grant.effective_to else _("open-ended")
    return _("The territory overlaps %(held)s, held exclusively by %(who)s from %(start)s (until: %(end)s).",
             held=grant.region.name, who=grant.distributor.display_name,
             start=grant.effective_from.isoformat(), end=until)


def check_available(region_code: str, start: date, end: date | None, exclusive: bool = True) -> None:
    """Raise TerritoryTaken when an exclusive grant to `region_code` over [start, end] would overlap one."""
    if not exclusive:
        return
    taken = conflicting_grants(region_code, start, end)
    if taken:
        message = conflict_message(taken[0])
        raise TerritoryTaken(message, fields={"region_code": [message]})


def grant_territory(actor, distributor: Distributor, region_code: str, *, exclusive: bool = True,
                    effective_from: date | None = None, effective_to: date | None = None,
                    note: str = "") -> TerritoryGrant:
    """Grant `region_code` to `distributor`; raises ValidationError, or TerritoryTaken when an exclusive grant overlaps.

    The province is locked first, so of two concurrent grants of overlapping regions the second waits
    for the first to commit and then sees it.
    """
    _require(actor)
    region = find_region(region_code)
    if region is None:
        raise ValidationError(fields={"region_code": [_("Choose a region from the list.")]})
    if distributor.status == "terminated":
        raise Conflict(_("A terminated distributor cannot be granted a territory."))
    start = effective_from or business_today()
    if effective_to is not None and effective_to < start:
        raise ValidationError(fields={"effective_to": [_("The end date cannot be before the start date.")]})
    lock_subject("territory_grants", _province_key(region.code))
    check_available(region.code, start, effective_to, exclusive)
    grant = TerritoryGrant(distributor=distributor, region_code=region.code, exclusive=exclusive,
                           effective_from=start, effective_to=effective_to, note=(note or "").strip()[:255],
                           created_by_id=getattr(actor, "id", None))
    db.session.add(grant)
    db.session.flush()
    audit.record("territory.grant", "distributor", distributor.id,
                 _("Granted %(region)s (%(kind)s) from %(start)s", region=region.name,
                   kind=_("exclusive") if exclusive else _("non-exclusive"), start=start.isoformat()),
                 {"grant_id": [None, grant.id], "region_code": [None, region.code], "exclusive": [None, exclusive],
                  "effective_from": [None, start.isoformat()],
                  "effective_to": [None, effective_to.isoformat() if effective_to else None]},
                 actor=actor)
    return grant


def get_grant(grant_id: int) -> TerritoryGrant:
    """The grant with this id; raises NotFound."""
    grant = db.session.get(TerritoryGrant, grant_id)
    if grant is None:
        raise NotFound()
    return grant


def end_grant(actor, grant: TerritoryGrant, on: date | None = None, reason: str = "") -> TerritoryGrant:
    """End the grant after the day `on` (default today); it cannot end before it starts or be extended."""
    _require(actor)
    on = on or business_today()
    if on < grant.effective_from:
        raise ValidationError(fields={"effective_to": [_("A grant cannot end before it starts (%(start)s).",
                                                         start=grant.effective_from.isoformat())]})
    if grant.effective_to is not None and grant.effective_to <= on:
        raise Conflict(_("This grant already ends on %(end)s.", end=grant.effective_to.isoformat()))
    before = grant.effective_to.isoformat() if grant.effective_to else None
    grant.effective_to = on
    db.session.flush()
    audit.record("territory.end", "distributor", grant.distributor_id,
                 _("Ended %(region)s on %(end)s", region=grant.region.name, end=on.isoformat()),
                 {"grant_id": [grant.id, grant.id], "effective_to": [before, on.isoformat()],
                  "reason": [None, (reason or "").strip()[:255] or None]}, actor=actor)
    return grant


def end_all_grants(actor, distributor: Distributor, on: date, reason: str = "") -> int:
    """End every grant of `distributor` still in force after `on` (termination); return how many."""
    count = 0
    for grant in distributor.grants:
        if grant.effective_to is None or grant.effective_to > on:
            if grant.effective_from > on:  # not started yet: it ends before it begins, so it never runs
                grant.effective_to = grant.effective_from
            else:
                grant.effective_to = on
            count += 1
    if count:
        db.session.flush()
        audit.record("territory.end_all", "distributor", distributor.id,
                     _("Ended %(count)d territories on %(end)s", count=count, end=on.isoformat()),
                     {"reason": [None, reason or None]}, actor=actor)
    return count


def grants_in_force(on: date | None = None, distributor_id: int | None = None) -> list[TerritoryGrant]:
    """Grants covering the day `on` (default today), by region code."""
    stmt = select(TerritoryGrant).where(*in_force_on(on or business_today())).order_by(
        TerritoryGrant.region_code, TerritoryGrant.id)
    if distributor_id is not None:
        stmt = stmt.where(TerritoryGrant.distributor_id == distributor_id)
    return list(db.session.scalars(stmt).unique())


def distributor_for(region_code: str, on: date | None = None) -> Distributor | None:
    """The active distributor of the most specific grant in force covering the region, or None.

    County before city before province; at one region an exclusive grant before a non-exclusive
    one, then the oldest. An unknown code has no distributor.
    """
    region = find_region(region_code)
    if region is None:
        return None
    on = on or business_today()
    chain = [region.code] + [r.code for r in reversed(ancestors(region.code))]
    rows = db.session.scalars(
        select(TerritoryGrant).join(TerritoryGrant.distributor)
        .where(TerritoryGrant.region_code.in_(chain), Distributor.status == "active", *in_force_on(on))
    ).unique().all()
    if not rows:
        return None
    best = min(rows, key=lambda g: (chain.index(g.region_code), not g.exclusive, g.effective_from, g.id))
    return best.distributor


@dataclass(frozen=True)
class Overlap:
    """Two grants whose regions and dates overlap: `inner` lies in (or is) `outer`'s region."""

    inner: TerritoryGrant
    outer: TerritoryGrant


def overlaps(grants: list[TerritoryGrant]) -> list[Overlap]:
    """Every overlapping pair among `grants` (regions nested or equal, dates sharing a day)."""
    by_code = defaultdict(list)
    for grant in grants:
        by_code[grant.region_code].append(grant)
    paths = dict(with_paths([g.region for g in grants]))
    found = []
    for grant in grants:
        for region in paths[grant.region]:
            for other in by_code.get(region.code, ()):
                if other.id == grant.id or (region.code == grant.region_code and other.id < grant.id):
                    continue
                if _dates_meet(grant, other):
                    found.append(Overlap(inner=grant, outer=other))
    return found


def _dates_meet(a: TerritoryGrant, b: TerritoryGrant) -> bool:
    return ((b.effective_to is None or a.effective_from <= b.effective_to)
            and (a.effective_to is None or b.effective_from <= a.effective_to))


def exclusive_violations() -> list[Overlap]:
    """Pairs of exclusive grants that overlap at any time: must be empty (`flask dms check`)."""
    exclusive = list(db.session.scalars(select(TerritoryGrant).where(TerritoryGrant.exclusive.is_(True))).unique())
    return overlaps(exclusive)


def shared_overlaps(on: date | None = None) -> list[Overlap]:
    """Overlapping grants in force on `on` where at least one is non-exclusive (shared territory)."""
    return [o for o in overlaps(grants_in_force(on)) if not (o.inner.exclusive and o.outer.exclusive)]


@dataclass
class CoverageRow:
    """A region with the grants in force on it and whether a grant covers it from above."""

    region: Region
    grants: list[TerritoryGrant]
    covered_from_above: list[TerritoryGrant]
    granted_below: int

    @property
    def covered(self) -> bool:
        return bool(self.grants or self.covered_from_above)


def coverage(parent_code: str | None = None, on: date | None = None) -> list[CoverageRow]:
    """The regions under `parent_code` (the provinces for None) with who covers each on `on`."""
    on = on or business_today()
    parent = Region.parent_code.is_(None) if parent_code is None else Region.parent_code == parent_code
    regions = list(db.session.scalars(select(Region).where(parent).order_by(Region.code)))
    in_force = grants_in_force(on)
    by_code = defaultdict(list)
    for grant in in_force:
        by_code[grant.region_code].append(grant)
    above = []
    if parent_code is not None:
        for code in [parent_code] + [r.code for r in ancestors(parent_code)]:
            above.extend(by_code.get(code, ()))
    granted_paths = with_paths([g.region for g in in_force])
    rows = []
    for region in regions:
        below = sum(1 for granted, path in granted_paths
                    if granted.code != region.code and any(p.code == region.code for p in path))
        rows.append(CoverageRow(region=region, grants=by_code.get(region.code, []),
                                covered_from_above=above, granted_below=below))
    return rows


def gaps(level: str, on: date | None = None, within: str | None = None) -> list[tuple[Region, int]]:
    """Regions at `level` (under `within`, if given) that no grant in force covers, by code.

    Each comes with the number of grants in force below it (a city with county agents is a gap for
    its other counties, but not an empty one).
    """
    on = on or business_today()
    in_force = grants_in_force(on)
    covered_codes = {g.region_code for g in in_force}
    stmt = select(Region).where(Region.level == level).order_by(Region.code)
    regions = list(db.session.scalars(stmt))
    result = []
    paths = dict(with_paths(regions))
    granted_paths = with_paths([g.region for g in in_force])
    for region in regions:
        path_codes = [p.code for p in paths[region]]
        if within and within not in path_codes:
            continue
        if covered_codes.intersection(path_codes):
            continue
        below = sum(1 for granted, path in granted_paths if any(p.code == region.code for p in path))
        result.append((region, below))
    return result
