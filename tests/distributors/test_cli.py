"""The distributors' demo network (`flask dms seed-demo`) and the exclusive-territory check (`flask dms check`)."""

from datetime import date

import pytest
from sqlalchemy import func, select

from dms.core.time import business_today
from dms.distributors.models import Application, Distributor, DistributorTarget, TerritoryGrant
from dms.extensions import db


def counts() -> dict:
    db.session.rollback()
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Distributor, TerritoryGrant, DistributorTarget, Application)}


def depth(distributor: Distributor) -> int:
    """How many distributors there are from this one up to the top of its chain, itself included."""
    n = 0
    while distributor is not None:
        n += 1
        distributor = distributor.upline
    return n


@pytest.fixture
def seeded(app):
    """The demo data, seeded twice; the counts after each run."""
    runner = app.test_cli_runner()
    first = runner.invoke(args=["dms", "seed-demo"])
    assert first.exit_code == 0, first.output + repr(first.exception)
    after_first = counts()
    second = runner.invoke(args=["dms", "seed-demo"])
    assert second.exit_code == 0, second.output + repr(second.exception)
    return after_first, counts()


def test_seed_demo_twice_makes_the_network_once(seeded):
    after_first, after_second = seeded
    assert after_first == after_second
    assert after_first["Distributor"] >= 9 and after_first["TerritoryGrant"] == after_first["Distributor"]


def test_the_demo_network_spans_provinces_and_levels(seeded):
    from dms.distributors.grants import exclusive_violations, grants_in_force

    distributors = list(db.session.scalars(select(Distributor)))
    provinces = {d.region_code[:2] for d in distributors}
    assert len(provinces) >= 3
    for prefix in provinces:
        levels = {d.level for d in distributors if d.region_code.startswith(prefix)}
        assert levels == {"province", "city", "county"}, prefix
    assert max(depth(d) for d in distributors) >= 3
    assert {d.kind for d in distributors} == {"person", "company"}
    assert [d.status for d in distributors].count("suspended") == 1
    assert not exclusive_violations()
    in_force = grants_in_force(business_today())
    assert all(not g.exclusive for g in in_force if g.region.level == "province")
    assert all(g.exclusive for g in in_force if g.region.level != "province")
    for d in distributors:
        assert d.warehouse is not None
        assert {t.period for t in d.targets} == {"month", "quarter"}


def test_the_demo_distributor_user_works_for_a_county_agent(seeded):
    from dms.accounts.models import User

    user = db.session.scalar(select(User).where(User.username == "distributor"))
    agent = db.session.get(Distributor, user.distributor_id)
    assert agent.level == "county" and depth(agent) >= 3


def test_demo_applications_when_the_module_exists(seeded):
    pytest.importorskip("dms.distributors.applications")
    applications = list(db.session.scalars(select(Application)))
    assert len(applications) >= 3
    assert "needs_review" in {a.state for a in applications}
    assert "submitted" in {a.state for a in applications}
    assert "company" in {a.applicant_type for a in applications}


def test_check_passes_after_seeding_and_fails_on_overlapping_exclusive_grants(app, seeded):
    from dms.core.jobs import commit

    runner = app.test_cli_runner()
    result = runner.invoke(args=["dms", "check"])
    assert result.exit_code == 0, result.output
    guangzhou = db.session.scalars(select(TerritoryGrant).where(TerritoryGrant.region_code == "440100")).one()
    intruder = db.session.scalars(select(Distributor).where(Distributor.region_code == "440300")).one()
    # Straight into the table: the service would refuse this grant.
    db.session.add(TerritoryGrant(distributor_id=intruder.id, region_code="440106", exclusive=True,
                                  effective_from=date(2020, 1, 1)))
    commit()
    result = runner.invoke(args=["dms", "check"])
    assert result.exit_code == 1
    assert "440106" in result.output and "440100" in result.output
    assert guangzhou.distributor.display_name in result.output and intruder.display_name in result.output


def test_check_ignores_shared_overlaps_and_exclusive_grants_apart_in_time(app, make_distributor, grant):
    first, second, shared = make_distributor("440100"), make_distributor("440106"), make_distributor("440000")
    grant(first, "440100", start=date(2025, 1, 1), end=date(2025, 12, 31))
    grant(second, "440106", start=date(2026, 1, 1))
    grant(shared, "440000", exclusive=False)
    result = app.test_cli_runner().invoke(args=["dms", "check"])
    assert result.exit_code == 0, result.output
