"""What the region picker macro draws: the three option lists and the chosen code at each level."""

from dataclasses import dataclass, field

from dms.territories import services
from dms.territories.models import Region


@dataclass
class PickerState:
    """The picker's selects: options per level and the selected code per level (empty when none)."""

    provinces: list[Region]
    cities: list[Region] = field(default_factory=list)
    counties: list[Region] = field(default_factory=list)
    selected: dict[str, str] = field(default_factory=dict)

    @property
    def code(self) -> str:
        """The most specific chosen code, or an empty string."""
        return next((self.selected[level] for level in ("county", "city", "province") if self.selected.get(level)), "")


def picker_state(selected_code: str | None = None) -> PickerState:
    """The picker's state for a chosen region; an empty or unknown code starts from the provinces."""
    region = services.find_region(selected_code)
    chain = [*services.ancestors(region.code), region] if region else []
    selected = {r.level: r.code for r in chain}
    state = PickerState(provinces=services.children(None), selected=selected)
    if selected.get("province"):
        state.cities = services.children(selected["province"])
    if selected.get("city"):
        state.counties = services.children(selected["city"])
    return state


def picked_code(formdata, field_name: str) -> str:
    """The code a submitted picker chose: its most specific consistent select, else its `field_name` input.

    The selects are the truth (they work without JavaScript); the input follows them when it runs.
    A lower choice left over from another parent is ignored: htmx may send the form on the first
    change of a select, before the selects below it are refilled.
    """
    chosen = None
    for level in ("province", "city", "county"):
        value = (formdata.get(f"{field_name}__{level}") or "").strip()
        if not value:
            continue
        region = services.find_region(value)
        if region is None or (chosen is not None and region.parent_code != chosen.code):
            break
        chosen = region
    return chosen.code if chosen is not None else (formdata.get(field_name) or "").strip()
