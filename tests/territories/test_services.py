"""Regions loaded by the migration, and the hierarchy services over them."""

import pytest
from sqlalchemy import func, select

from dms.core.errors import NotFound
from dms.extensions import db
from dms.territories import services
from dms.territories.models import Region
from dms.territories.picker import picked_code, picker_state


def test_migration_loaded_the_three_levels():
    counts = dict(db.session.execute(select(Region.level, func.count()).group_by(Region.level)).all())
    assert counts == {"province": 31, "city": 342, "county": 2975}
    assert db.session.scalar(select(func.count()).where(Region.parent_code.is_(None))) == 31


def test_chaoyang_and_its_ancestors():
    region = services.get_region("110105")
    assert (region.name, region.level) == ("朝阳区", "county")
    assert [r.code for r in services.ancestors("110105")] == ["110000", "110100"]
    assert services.ancestors("110000") == []
    assert services.level_of("110100") == "city"


def test_unknown_code_is_not_found():
    with pytest.raises(NotFound):
        services.get_region("999999")
    with pytest.raises(NotFound):
        services.ancestors("")
    assert services.find_region("999999") is None


@pytest.mark.parametrize("code,ancestor,expected", [
    ("110105", "110100", True),   # county in its city
    ("110105", "110000", True),   # county in its province
    ("110100", "110000", True),   # city in its province
    ("110105", "110105", True),   # the same region
    ("110105", "110106", False),  # a sibling county
    ("110105", "120000", False),  # another province
    ("110000", "110105", False),  # a province is not within its county
])
def test_is_within(code, ancestor, expected):
    assert services.is_within(code, ancestor) is expected


def test_children():
    provinces = services.children(None)
    assert len(provinces) == 31 and provinces[0].code == "110000"
    guangdong = [r.name for r in services.children("440000")]
    assert "广州市" in guangdong and "东莞市" in guangdong
    assert all(r.level == "city" for r in services.children("440000"))
    assert services.children("441900") == []  # 东莞 has no county level
    assert services.children("999999") == []


def test_search_orders_by_level_then_code():
    found = services.search_regions("朝阳", limit=10)
    assert [r.code for r in found][:3] == ["211300", "110105", "211321"]
    assert [r.level for r in found] == sorted((r.level for r in found), key=["province", "city", "county"].index)
    assert len(services.search_regions("区", limit=5)) == 5
    assert services.search_regions("  ") == []
    assert services.search_regions("%") == []


def test_picker_state_and_picked_code():
    state = picker_state("110105")
    assert state.selected == {"province": "110000", "city": "110100", "county": "110105"}
    assert state.code == "110105" and len(state.cities) == 1 and len(state.counties) > 10
    assert picker_state("nonsense").code == "" and picker_state(None).cities == []
    assert picked_code({"r__province": "110000", "r__city": "110100", "r__county": "", "r": "999"}, "r") == "110100"
    assert picked_code({"r": "110105"}, "r") == "110105"


def test_with_paths_gives_each_region_its_path_from_the_province():
    from dms.territories.services import get_region, with_paths

    (county, path), (province, own) = with_paths([get_region("110105"), get_region("110000")])
    assert [r.code for r in path] == ["110000", "110100", "110105"] and county.code == "110105"
    assert [r.code for r in own] == ["110000"] and province.code == "110000"
