"""Territory grants: the overlap rules, dates, routing, coverage and gaps (SQLite and PostgreSQL)."""

from datetime import date

import pytest

from dms.core.errors import ValidationError
from dms.distributors import grants as g
from dms.distributors.grants import TerritoryTaken

D = date(2026, 6, 1)


def test_same_region_exclusive_twice_conflicts(make_distributor, grant):
    a, b = make_distributor("110105"), make_distributor("110105")
    grant(a, "110105")
    with pytest.raises(TerritoryTaken) as err:
        grant(b, "110105")
    assert "region_code" in err.value.fields


def test_county_inside_granted_city_conflicts(make_distributor, grant):
    city, county = make_distributor("440100"), make_distributor("440106")
    grant(city, "440100")
    with pytest.raises(TerritoryTaken):
        grant(county, "440106")  # 天河区 lies in 广州市


def test_city_above_granted_county_conflicts(make_distributor, grant):
    county, city = make_distributor("440106"), make_distributor("440100")
    grant(county, "440106")
    with pytest.raises(TerritoryTaken):
        grant(city, "440100")
    with pytest.raises(TerritoryTaken):
        grant(make_distributor("440000"), "440000")


def test_neighbouring_regions_do_not_conflict(make_distributor, grant):
    grant(make_distributor("440106"), "440106")
    grant(make_distributor("440104"), "440104")
    grant(make_distributor("440300"), "440300")  # 深圳, another city of the same province
    assert g.exclusive_violations() == []


def test_dates_that_do_not_meet_do_not_conflict(make_distributor, grant):
    a, b = make_distributor("110105"), make_distributor("110105")
    grant(a, "110105", start=date(2026, 1, 1), end=date(2026, 3, 31))
    grant(b, "110105", start=date(2026, 4, 1))
    with pytest.raises(TerritoryTaken):
        grant(make_distributor("110105"), "110105", start=date(2025, 1, 1), end=date(2026, 1, 1))


def test_non_exclusive_grants_may_overlap_and_are_listed(make_distributor, grant):
    province, city = make_distributor("440000"), make_distributor("440100")
    grant(province, "440000", exclusive=False)
    grant(city, "440100")
    shared = g.shared_overlaps(D)
    assert [(o.inner.region_code, o.outer.region_code) for o in shared] == [("440100", "440000")]
    assert g.exclusive_violations() == []


def test_routing_prefers_the_most_specific_grant(make_distributor, grant):
    province, city, county = make_distributor("440000"), make_distributor("440100"), make_distributor("440106")
    grant(province, "440000", exclusive=False)
    grant(city, "440100", exclusive=False)
    grant(county, "440106")
    assert g.distributor_for("440106", on=D).id == county.id
    assert g.distributor_for("440104", on=D).id == city.id
    assert g.distributor_for("440300", on=D).id == province.id
    assert g.distributor_for("440100", on=D).id == city.id
    assert g.distributor_for("110105", on=D) is None
    assert g.distributor_for("999999", on=D) is None
    assert g.distributor_for("440106", on=date(2025, 12, 31)) is None


def test_routing_skips_ended_grants_and_suspended_distributors(make_distributor, grant):
    from dms.core.jobs import commit
    from dms.distributors.services import set_status

    province, county = make_distributor("440000"), make_distributor("440106")
    grant(province, "440000", exclusive=False)
    county_grant = grant(county, "440106")
    g.end_grant(None, county_grant, date(2026, 5, 31))
    commit()
    assert g.distributor_for("440106", on=D).id == province.id
    assert g.distributor_for("440106", on=date(2026, 5, 31)).id == county.id
    set_status(None, province, "suspended", "late payments")
    commit()
    assert g.distributor_for("440106", on=D) is None


def test_ending_a_grant_frees_the_region(make_distributor, grant):
    a, b = make_distributor("110105"), make_distributor("110105")
    first = grant(a, "110105")
    g.end_grant(None, first, date(2026, 2, 28))
    grant(b, "110105", start=date(2026, 3, 1))
    with pytest.raises(ValidationError):
        g.end_grant(None, first, date(2025, 1, 1))


def test_termination_ends_every_grant(make_distributor, grant):
    from dms.core.jobs import commit
    from dms.distributors.services import set_status

    a = make_distributor("110105")
    grant(a, "110105")
    set_status(None, a, "terminated", "contract ended", on=date(2026, 2, 1))
    commit()
    assert g.distributor_for("110105", on=date(2026, 2, 2)) is None
    grant(make_distributor("110105"), "110105", start=date(2026, 2, 2))


def test_gaps_and_coverage(make_distributor, grant):
    grant(make_distributor("440100"), "440100")
    grant(make_distributor("440305"), "440305")  # 南山区 in 深圳
    gap_codes = {r.code: below for r, below in g.gaps("city", on=D, within="440000")}
    assert "440100" not in gap_codes
    assert gap_codes["440300"] == 1  # 深圳 is a gap with one county granted inside
    assert gap_codes["440400"] == 0
    counties = {r.code for r, _ in g.gaps("county", on=D, within="440100")}
    assert counties == set()
    rows = {row.region.code: row for row in g.coverage("440000", on=D)}
    assert rows["440100"].covered and rows["440100"].grants[0].region_code == "440100"
    assert not rows["440300"].covered and rows["440300"].granted_below == 1
    provinces = {row.region.code: row for row in g.coverage(None, on=D)}
    assert provinces["440000"].granted_below == 2
