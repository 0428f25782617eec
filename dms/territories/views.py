"""The region picker's fragments: child options of a region, search by name, the picker redrawn.

Public (no login): regions are published reference data, and the public application form uses the picker.
"""

from flask import request

from dms.core.errors import BadRequest
from dms.core.render import render
from dms.territories import bp, services
from dms.territories.picker import picked_code

PARENT_LEVEL = {"province": None, "city": "province", "county": "city"}
SEARCH_LIMIT = 20


def _field_name() -> str:
    """The picker's field name from ?name= (it names the selects whose values htmx sends along)."""
    name = (request.args.get("name") or "region").strip()
    if not name.replace("_", "").isalnum() or len(name) > 64:
        raise BadRequest()
    return name


@bp.get("/regions/options")
def region_options():
    """The <option>s of the regions under ?parent= for the ?level= select (parent may come by field name)."""
    level = request.args.get("level", "province")
    if level not in PARENT_LEVEL:
        raise BadRequest()
    name = _field_name()
    parent = request.args.get("parent")
    if parent is None and PARENT_LEVEL[level]:
        parent = request.args.get(f"{name}__{PARENT_LEVEL[level]}")
    parent = (parent or "").strip() or None
    regions = [] if (PARENT_LEVEL[level] and parent is None) else services.children(parent)
    parent_region = services.find_region(parent)
    return render("territories/region_options.html", "territories/_region_options.html",
                  regions=regions, level=level, parent=parent_region, field_name=name)


@bp.get("/regions/search")
def search_regions():
    """Regions whose name contains ?q= (or the picker's search box), each with its full path."""
    name = _field_name()
    q = (request.args.get("q") or request.args.get(f"{name}__q") or "").strip()
    results = services.with_paths(services.search_regions(q, SEARCH_LIMIT))
    return render("territories/region_search.html", "territories/_region_search.html",
                  q=q, results=results, field_name=name, limit=SEARCH_LIMIT)


@bp.get("/regions/picker")
def region_picker():
    """The picker redrawn with ?code= chosen (a search result), or its own selects' choice (no JavaScript)."""
    name = _field_name()
    code = request.args.get("code") or picked_code(request.args, name)
    return render("territories/region_picker_page.html", "territories/_region_picker.html",
                  field_name=name, selected_code=code,
                  required=request.args.get("required") == "1")
