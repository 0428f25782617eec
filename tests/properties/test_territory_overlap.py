"""Territory overlap as properties, against a model of sets: two grants overlap when one region is the
other or lies under it (walking the regions' parent codes) and their sets of days intersect.

Checked: `overlaps` finds exactly the overlapping pairs; a sequence of grants and early ends through
the services accepts an exclusive grant exactly when the model finds no exclusive grant in its way,
and leaves no exclusive overlap behind. Each example is rolled back afterwards.
"""

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from dms.core.errors import Conflict, ValidationError
from dms.distributors import grants
from dms.distributors.models import TerritoryGrant
from dms.extensions import db
from tests.properties.strategies import rolled_back

DAY0 = date(2027, 3, 1)
HORIZON = 40  # day numbers run 0..HORIZON; an open end reaches it (every start and end lies well before)
# Two provinces with a city and counties each, and a second city of one: nested, equal and unrelated pairs.
REGIONS = ["110000", "110100", "110101", "110105", "110106", "130000", "130100", "130102", "130104", "130200"]


@pytest.fixture
def world(make_distributor):
    """Three distributors, and the parent of every region of the pool read straight from the table."""
    parents = dict(db.session.execute(text("SELECT code, parent_code FROM regions")).all())
    assert set(REGIONS) <= parents.keys()
    return {"parents": parents, "distributors": [make_distributor() for _n in range(3)]}


def lineage(code: str, parents: dict) -> list[str]:
    """The region and every region above it, by the parent codes."""
    found = [code]
    while parents.get(found[-1]):
        found.append(parents[found[-1]])
    return found


def days(start: int, end: int | None) -> set[int]:
    """The set of day numbers a grant covers (an open end runs to the horizon)."""
    return set(range(start, (HORIZON if end is None else end) + 1))


def model_overlap(a, b, parents) -> bool:
    """a and b are (region, start, end): nested or equal regions and at least one day in common."""
    nested = a[0] in lineage(b[0], parents) or b[0] in lineage(a[0], parents)
    return nested and bool(days(a[1], a[2]) & days(b[1], b[2]))


def on(day: int | None) -> date | None:
    return None if day is None else DAY0 + timedelta(days=day)


spans = st.tuples(st.integers(0, 8), st.one_of(st.none(), st.integers(0, 5))).map(
    lambda t: (t[0], None if t[1] is None else t[0] + t[1]))
grant_specs = st.lists(st.tuples(st.sampled_from(REGIONS), spans, st.booleans(), st.integers(0, 2)),
                       min_size=0, max_size=8)


@settings(max_examples=80)
@given(specs=grant_specs)
def test_overlaps_are_exactly_the_nested_regions_sharing_a_day(world, specs):
    parents = world["parents"]
    with rolled_back():
        rows = []
        for region, (start, end), exclusive, who in specs:
            rows.append(TerritoryGrant(distributor=world["distributors"][who], region_code=region, exclusive=exclusive,
                                       effective_from=on(start), effective_to=on(end)))
        db.session.add_all(rows)
        db.session.flush()
        spec_of = {row.id: (region, start, end) for row, (region, (start, end), _e, _w) in zip(rows, specs,
                                                                                             strict=True)}
        found = grants.overlaps(rows)
        pairs = [frozenset((o.inner.id, o.outer.id)) for o in found]
        expected = {frozenset((a.id, b.id)) for i, a in enumerate(rows) for b in rows[i + 1:]
                    if model_overlap(spec_of[a.id], spec_of[b.id], parents)}
        assert len(pairs) == len(set(pairs)), "each overlapping pair is reported once"
        assert set(pairs) == expected
        for o in found:  # `inner` lies in (or is) `outer`'s region
            assert spec_of[o.outer.id][0] in lineage(spec_of[o.inner.id][0], parents)
        # Only exclusive pairs are violations.
        violations = {frozenset((o.inner.id, o.outer.id)) for o in grants.exclusive_violations()}
        exclusive = {row.id for row in rows if row.exclusive}
        assert violations == {pair for pair in expected if pair <= exclusive}


# A step: ("grant", region, (start, end), exclusive, distributor) or ("end", which accepted grant, day).
# Mostly exclusive grants, so that refusals (and would-be overlaps) are common.
grant_step = st.tuples(st.just("grant"), st.sampled_from(REGIONS), spans, st.sampled_from([True, True, True, False]),
                       st.integers(0, 2))
steps = st.lists(st.one_of(grant_step, grant_step, st.tuples(st.just("end"), st.integers(0, 7), st.integers(0, 25))),
                 min_size=2, max_size=12)


@settings(max_examples=60)
@given(steps=steps)
def test_exclusive_grants_never_overlap(world, steps):
    parents = world["parents"]
    with rolled_back():
        assert db.session.scalar(select(func.count()).select_from(TerritoryGrant)) == 0
        accepted = []  # [(grant row, [region, start, end], exclusive)], the model's view of the table
        for step in steps:
            if step[0] == "end":
                _kind, index, day = step
                if index >= len(accepted):
                    continue
                row, spec, _exclusive = accepted[index]
                may_end = day >= spec[1] and (spec[2] is None or spec[2] > day)
                try:
                    grants.end_grant(None, row, on(day))
                except (Conflict, ValidationError):  # before its start, or it already ends by then
                    assert not may_end
                    continue
                assert may_end
                spec[2] = day
                continue
            _kind, region, (start, end), exclusive, who = step
            in_way = {row.id for row, spec, ex in accepted
                      if ex and exclusive and model_overlap((region, start, end), tuple(spec), parents)}
            blocking = {g.id for g in grants.conflicting_grants(region, on(start), on(end))}
            assert blocking == {row.id for row, spec, ex in accepted
                                if ex and model_overlap((region, start, end), tuple(spec), parents)}
            try:
                row = grants.grant_territory(None, world["distributors"][who], region, exclusive=exclusive,
                                             effective_from=on(start), effective_to=on(end))
            except grants.TerritoryTaken:
                assert in_way, "refused although no exclusive grant is in the way"
                continue
            assert not in_way, "granted over an exclusive grant"
            accepted.append((row, [region, start, end], exclusive))
        assert grants.exclusive_violations() == []
