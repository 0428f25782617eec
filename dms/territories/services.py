"""Regions (public interface of the territories area): look-ups, the hierarchy and search by name."""

from sqlalchemy import case, literal, select

from dms.core.errors import NotFound
from dms.core.listing import contains_pattern
from dms.extensions import db
from dms.territories.models import LEVELS, Region

_LEVEL_ORDER = case({level: rank for rank, level in enumerate(LEVELS)}, value=Region.level)


def get_region(code: str) -> Region:
    """The region with this GB/T 2260 code; raises NotFound."""
    region = db.session.get(Region, code) if _is_code(code) else None
    if region is None:
        raise NotFound()
    return region


def find_region(code: str | None) -> Region | None:
    """The region with this code, or None when the code is empty or unknown."""
    return db.session.get(Region, code) if _is_code(code) else None


def _is_code(code) -> bool:
    """Whether `code` can be a GB/T 2260 code (six digits): anything else is unknown without asking the
    database (PostgreSQL refuses text holding NUL with an error, not an empty result)."""
    return isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdigit()


def children(code: str | None = None) -> list[Region]:
    """The regions directly under `code` (the provinces for None), by code; unknown code gives []."""
    if code is not None and not _is_code(code):
        return []
    parent = Region.parent_code.is_(None) if code is None else Region.parent_code == code
    return list(db.session.scalars(select(Region).where(parent).order_by(Region.code)))


def ancestors(code: str) -> list[Region]:
    """The regions above `code`, from its province down (the region itself excluded); raises NotFound."""
    region = get_region(code)
    if not region.parent_code:
        return []
    # One recursive query for the whole chain (orders ask for it each time they are priced).
    up = (select(Region.code, Region.parent_code, literal(1).label("depth"))
          .where(Region.code == region.parent_code).cte("up", recursive=True))
    up = up.union_all(select(Region.code, Region.parent_code, up.c.depth + 1)
                      .join(up, Region.code == up.c.parent_code))
    return list(db.session.scalars(select(Region).join(up, Region.code == up.c.code).order_by(up.c.depth.desc())))


def is_within(code: str, ancestor_code: str) -> bool:
    """True when `code` is `ancestor_code` or lies under it; raises NotFound for an unknown `code`."""
    region = get_region(code)
    return region.code == ancestor_code or any(a.code == ancestor_code for a in ancestors(code))


def subtree_codes(code: str) -> list[str]:
    """`code` and the codes of every region below it (one query per level)."""
    found, level = [code], [code]
    while level:
        level = list(db.session.scalars(select(Region.code).where(Region.parent_code.in_(level))))
        found.extend(level)
    return found


def search_regions(text: str, limit: int = 20) -> list[Region]:
    """Regions whose name contains `text`, provinces first, then by code; empty text finds nothing."""
    text = (text or "").strip()[:50]
    if not text:
        return []
    stmt = (select(Region).where(Region.name.like(contains_pattern(text), escape="\\"))
            .order_by(_LEVEL_ORDER, Region.code).limit(limit))
    return list(db.session.scalars(stmt))


def with_paths(regions: list[Region]) -> list[tuple[Region, list[Region]]]:
    """Each region with its path from the province down (itself last), one query per level above."""
    known = {r.code: r for r in regions}
    wanted = {r.parent_code for r in regions if r.parent_code} - known.keys()
    while wanted:
        parents = list(db.session.scalars(select(Region).where(Region.code.in_(wanted))))
        known.update((p.code, p) for p in parents)
        wanted = {p.parent_code for p in parents if p.parent_code} - known.keys()
    result = []
    for region in regions:
        path, node = [], region
        while node is not None:
            path.append(node)
            node = known.get(node.parent_code) if node.parent_code else None
        result.append((region, path[::-1]))
    return result


def level_of(code: str) -> str:
    """The level of the region: province, city or county; raises NotFound."""
    return get_region(code).level
