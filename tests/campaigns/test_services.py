"""Campaign plans and their state machine against a real database: validation, approval by HQ, the daily job."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from dms.campaigns import jobs, services
from dms.campaigns.models import Campaign
from dms.core.errors import Forbidden, InvalidTransition, NotFound, ValidationError
from dms.core.jobs import commit
from dms.core.models import AuditLog
from dms.core.time import business_today
from dms.extensions import db
from tests.campaigns.helpers import make_campaign, plan


def day(offset: int) -> str:
    return (business_today() + timedelta(days=offset)).isoformat()


def errors_of(data) -> dict:
    with pytest.raises(ValidationError) as caught:
        services.create_campaign(None, data)
    db.session.rollback()
    return caught.value.fields


def test_a_plan_is_saved_as_a_draft_with_its_regions_products_and_upper_cased_code(make_product):
    water = make_product(price="18.00")
    campaign = services.create_campaign(None, plan([water], targets=("440000", "440113"), controls=("110105",),
                                                   code=" summer-1 ", budget="5000", cost="1200.5"))
    commit()
    assert campaign.status == "draft"
    assert campaign.code == "SUMMER-1"
    assert (campaign.budget, campaign.cost, campaign.percent_off) == (Decimal("5000.00"), Decimal("1200.50"),
                                                                      Decimal("10.00"))
    assert services.region_codes(campaign) == ["440000", "440113"]
    assert services.region_codes(campaign, "control") == ["110105"]
    assert [p.id for p in campaign.products] == [water.id]
    # A province covers its cities and counties.
    assert {"440000", "440100", "440113", "440305"} <= set(services.covered_codes(campaign))


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": " "}, "name"),
    ({"starts_on": "2026-13-01"}, "starts_on"),
    ({"ends_on": "yesterday"}, "ends_on"),
    ({"mechanism": "lottery"}, "mechanism"),
    ({"percent_off": "0"}, "percent_off"),
    ({"percent_off": "100"}, "percent_off"),
    ({"percent_off": "abc"}, "percent_off"),
    ({"mechanism": "fixed_price", "fixed_price": "-1"}, "fixed_price"),
    ({"mechanism": "fixed_price", "fixed_price": "1.234"}, "fixed_price"),
    ({"mechanism": "buy_n_get_m", "buy_n": "0", "get_m": "1"}, "buy_n"),
    ({"mechanism": "buy_n_get_m", "buy_n": "2", "get_m": "x"}, "get_m"),
    ({"budget": "-5"}, "budget"),
    ({"cost": "NaN"}, "cost"),
    ({"code": "有码"}, "code"),
    ({"target_regions": []}, "target_regions"),
    ({"target_regions": ["999999"]}, "target_regions"),
    ({"control_regions": ["440100"]}, "control_regions"),  # 广州市 holds the target 番禺区
    ({"control_regions": ["440000"]}, "control_regions"),  # so does 广东省
    ({"product_ids": []}, "product_ids"),
    ({"product_ids": [999999]}, "product_ids"),
])
def test_a_bad_plan_names_the_field(make_product, changes, field):
    water = make_product()
    assert field in errors_of(plan([water], **changes))
    assert db.session.scalar(select(Campaign.id)) is None  # nothing saved


def test_the_period_ends_on_or_after_its_start_and_the_code_is_unique(make_product):
    water = make_product()
    assert "ends_on" in errors_of(plan([water], starts_on=day(3), ends_on=day(2)))
    make_campaign([water], status="draft", code="ONLY")
    assert "code" in errors_of(plan([water], code="only"))


def test_a_control_region_beside_the_targets_is_fine(make_product):
    campaign = make_campaign([make_product()], status="draft", targets=("440113",), controls=("440106", "440300"))
    assert services.region_codes(campaign, "control") == ["440106", "440300"]


def test_only_a_draft_is_edited(make_product):
    water = make_product()
    campaign = make_campaign([water], status="draft")
    services.update_campaign(None, campaign, plan([water], name="改名", targets=("440106",), controls=("440113",)))
    commit()
    assert (campaign.name, services.region_codes(campaign), services.region_codes(campaign, "control")) == (
        "改名", ["440106"], ["440113"])
    services.approve(None, campaign)
    commit()
    with pytest.raises(InvalidTransition):
        services.update_campaign(None, campaign, plan([water], name="再改"))


def test_approval_starts_a_campaign_whose_period_began_and_is_audited(make_product, make_user):
    admin = make_user("admin")
    water = make_product()
    now = make_campaign([water], status="draft", starts_on=day(0))
    later = make_campaign([water], status="draft", starts_on=day(2), ends_on=day(9), name="下周")
    services.approve(admin, now)
    services.approve(admin, later)
    commit()
    assert (now.status, later.status) == ("running", "approved")
    assert now.approved_by_id == admin.id and now.started_at is not None and later.started_at is None
    actions = db.session.scalars(select(AuditLog.action).where(AuditLog.record_type == "campaign",
                                                               AuditLog.record_id == str(now.id))).all()
    assert actions == ["campaign.create", "campaign.approved", "campaign.running"]
    # Starting early is refused: the period has not begun.
    with pytest.raises(InvalidTransition):
        services.start(admin, later)


def test_a_draft_whose_period_is_over_is_not_approved(make_product):
    campaign = make_campaign([make_product()], status="draft", starts_on=day(-9), ends_on=day(-1))
    with pytest.raises(InvalidTransition):
        services.approve(None, campaign)


@pytest.mark.parametrize(("status", "action", "allowed"), [
    ("draft", "cancel", True), ("approved", "cancel", True), ("running", "cancel", False),
    ("draft", "end", False), ("running", "end", True), ("draft", "start", False),
    ("running", "approve", False),
])
def test_the_state_machine(make_product, status, action, allowed):
    starts = day(-1) if status == "running" else day(3)
    campaign = make_campaign([make_product()], status=status, starts_on=starts, ends_on=day(9))
    run = {"cancel": services.cancel, "end": services.end, "start": services.start, "approve": services.approve}[action]
    if allowed:
        run(None, campaign)
        commit()
        assert campaign.status == {"cancel": "cancelled", "end": "ended"}[action]
    else:
        with pytest.raises(InvalidTransition):
            run(None, campaign)


def test_only_hq_holding_campaigns_manage_plans_and_approves(make_product, make_user, make_distributor):
    water = make_product()
    campaign = make_campaign([water], status="draft")
    reviewer = make_user("reviewer")  # HQ, but without campaigns.manage
    distributor_user = make_user("distributor", distributor_id=make_distributor().id)
    for user in (reviewer, distributor_user):
        with pytest.raises(Forbidden):
            services.approve(user, campaign)
        with pytest.raises(Forbidden):
            services.create_campaign(user, plan([water]))
        with pytest.raises(Forbidden):
            services.get_campaign(user, campaign.id)
    assert campaign.status == "draft"
    admin = make_user("admin")
    with pytest.raises(NotFound):
        services.get_campaign(admin, campaign.id + 1)
    services.approve(admin, campaign)
    assert campaign.status == "running"


def test_the_daily_job_starts_and_ends_campaigns_on_the_right_days(make_product):
    water = make_product()
    today = business_today()
    starts_tomorrow = make_campaign([water], status="approved", starts_on=day(1), ends_on=day(3), name="明天")
    ends_today = make_campaign([water], status="running", starts_on=day(-2), ends_on=day(0), name="今天结束")
    draft = make_campaign([water], status="draft", starts_on=day(1), ends_on=day(3), name="草稿")

    def run(on):
        result = services.advance(on)
        commit()
        return result, (starts_tomorrow.status, ends_today.status, draft.status)

    assert run(today) == ({"started": 0, "ended": 0}, ("approved", "running", "draft"))
    # Tomorrow: the approved one starts, the one whose last day was today ends; a draft never moves.
    assert run(today + timedelta(days=1)) == ({"started": 1, "ended": 1}, ("running", "ended", "draft"))
    assert run(today + timedelta(days=1)) == ({"started": 0, "ended": 0}, ("running", "ended", "draft"))
    assert run(today + timedelta(days=3)) == ({"started": 0, "ended": 0}, ("running", "ended", "draft"))
    # The day after its last day, the campaign that started tomorrow ends.
    assert run(today + timedelta(days=4)) == ({"started": 0, "ended": 1}, ("ended", "ended", "draft"))


def test_an_approved_campaign_whose_period_passed_unstarted_is_started_and_ended(make_product):
    campaign = make_campaign([make_product()], status="approved", starts_on=day(1), ends_on=day(2))
    assert services.advance(business_today() + timedelta(days=5)) == {"started": 1, "ended": 1}
    commit()
    assert campaign.status == "ended" and campaign.started_at is not None


def test_the_periodic_job_is_registered_and_runs_today(make_product):
    from dms.core.schedule import PERIODIC

    assert any(p.func == "dms.campaigns.jobs.advance_campaigns" and p.cron for p in PERIODIC)
    campaign = make_campaign([make_product()], status="approved", starts_on=day(1), ends_on=day(3))
    campaign.starts_on = business_today()  # as if a day passed
    commit()
    assert jobs.advance_campaigns() == {"started": 1, "ended": 0}
    commit()
    assert campaign.status == "running"
