"""Campaign pages with CSRF on: list and filters, the plan form (422 in place), the detail and its actions (htmx)."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dms.campaigns.models import Campaign
from dms.core.time import business_today
from dms.extensions import db
from tests.campaigns.helpers import make_campaign


@pytest.fixture
def admin(client, login_as):
    client.http.set_cookie("dms_locale", "en")
    return login_as("admin")


def day(offset: int) -> str:
    return (business_today() + timedelta(days=offset)).isoformat()


def form(product, **changes) -> dict:
    """What the plan form posts: the target chosen with the region picker's selects, a control ticked."""
    data = {"name": "国庆促销", "objective": "", "starts_on": day(1), "ends_on": day(7), "mechanism": "percent",
            "percent_off": "15", "budget": "800", "cost": "300", "code": "", "product_ids": [str(product.id)],
            "target_pick__province": "440000", "target_pick__city": "440100", "target_pick__county": "",
            "control_regions": ["440300"]}
    data.update(changes)
    return data


def count() -> int:
    return db.session.scalar(select(func.count(Campaign.id)))


def test_the_list_filters_by_status_and_period_and_paginates(client, admin, make_product):
    water = make_product()
    make_campaign([water], status="draft", name="草稿一", starts_on=day(20), ends_on=day(25))
    make_campaign([water], status="running", name="进行中")
    page = client.get("/campaigns")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "草稿一" in html and "进行中" in html and "Plan a campaign" in html
    running = client.get("/campaigns?status=running").get_data(as_text=True)
    assert "进行中" in running and "草稿一" not in running
    later = client.get(f"/campaigns?date_from={day(15)}").get_data(as_text=True)
    assert "草稿一" in later and "进行中" not in later
    assert client.get("/campaigns?date_from=junk").status_code == 400
    paged = client.get("/campaigns?per_page=1").get_data(as_text=True)
    assert "page 1 of 2" in paged and 'rel="next"' in paged
    fragment = client.get("/campaigns?status=draft", htmx=True)
    assert fragment.get_data(as_text=True).lstrip().startswith('<div id="campaigns-table"')
    assert "HX-Request" in fragment.headers["Vary"]


def test_planning_a_campaign_with_the_form(client, admin, make_product):
    water = make_product()
    assert client.get("/campaigns/new").status_code == 200
    response = client.post("/campaigns/new", form(water, code="gq2026"))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    campaign = db.session.scalars(select(Campaign)).one()
    assert response.headers["Location"].endswith(f"/campaigns/{campaign.id}")
    assert (campaign.status, campaign.code, campaign.name) == ("draft", "GQ2026", "国庆促销")
    assert [(r.region_code, r.role) for r in campaign.regions] == [("440100", "target"), ("440300", "control")]
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "广东省 / 广州市" in page and "广东省 / 深圳市" in page and "15% off" in page


@pytest.mark.parametrize(("changes", "message"), [
    ({"percent_off": "150"}, "A percentage above 0 and below 100."),
    ({"ends_on": "2026-05-01", "starts_on": "2026-05-03"}, "The period ends on or after the day it starts."),
    ({"control_regions": ["440100"], "target_pick__city": "440100", "target_pick__county": "440113"},
     "A control region must not overlap a target region"),
    ({"product_ids": []}, "Choose at least one product."),
    ({"target_pick__province": "", "target_pick__city": ""}, "Choose at least one target region."),
    ({"name": ""}, "A name of 1 to 120 characters."),
])
def test_a_bad_plan_is_shown_again_with_its_errors_in_place(client, admin, make_product, changes, message):
    water = make_product()
    response = client.post("/campaigns/new", form(water, **changes))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count() == 0


def test_adding_a_region_redraws_the_form_without_saving(client, admin, make_product):
    water = make_product()
    response = client.post("/campaigns/new", form(water, add_target="1"))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="target_regions" value="440100" checked' in html
    assert count() == 0


def test_editing_a_draft_and_not_an_approved_campaign(client, admin, make_product):
    water = make_product()
    campaign = make_campaign([water], status="draft", starts_on=day(2), ends_on=day(8))
    edit = client.get(f"/campaigns/{campaign.id}/edit")
    assert edit.status_code == 200 and 'value="夏季促销"' in edit.get_data(as_text=True)
    response = client.post(f"/campaigns/{campaign.id}/edit",
                           form(water, name="改名了", target_regions=["440113"], target_pick__province="",
                                target_pick__city="", control_regions=[]))
    assert response.status_code == 302
    db.session.refresh(campaign)
    assert campaign.name == "改名了" and [r.region_code for r in campaign.regions] == ["440113"]
    approved = make_campaign([water], status="approved", name="已批", starts_on=day(3), ends_on=day(9))
    assert client.get(f"/campaigns/{approved.id}/edit").status_code == 409
    assert client.post(f"/campaigns/{approved.id}/edit", form(water)).status_code == 409


def test_approving_starts_a_campaign_whose_period_began(client, admin, make_product):
    campaign = make_campaign([make_product()], status="draft")  # from yesterday
    client.get(f"/campaigns/{campaign.id}")
    response = client.post(f"/campaigns/{campaign.id}/approve", htmx=True)
    assert response.status_code == 204 and response.headers["HX-Redirect"].endswith(f"/campaigns/{campaign.id}")
    db.session.refresh(campaign)
    assert campaign.status == "running"
    # Approving twice: 409 with the message, as the detail fragment.
    again = client.post(f"/campaigns/{campaign.id}/approve", htmx=True)
    assert again.status_code == 409
    assert again.get_data(as_text=True).lstrip().startswith('<div id="campaign-detail"')


def test_cancelling_needs_the_confirmation(client, admin, make_product):
    campaign = make_campaign([make_product()], status="approved", starts_on=day(3), ends_on=day(9))
    page = client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'data-testid="action-cancel"' in page and "data-confirm=" in page and 'data-testid="action-start"' in page
    refused = client.post(f"/campaigns/{campaign.id}/cancel", {"note": "预算取消"}, htmx=True)
    assert refused.status_code == 422 and "Tick the box to confirm." in refused.get_data(as_text=True)
    db.session.refresh(campaign)
    assert campaign.status == "approved"
    done = client.post(f"/campaigns/{campaign.id}/cancel", {"note": "预算取消", "confirm": "y"})
    assert done.status_code == 302
    db.session.refresh(campaign)
    assert campaign.status == "cancelled"


def test_unknown_ids_answer_404(client, admin, make_product):
    campaign = make_campaign([make_product()], status="draft")
    other = campaign.id + 1
    assert client.get(f"/campaigns/{other}").status_code == 404
    assert client.get(f"/campaigns/{other}/edit").status_code == 404
    assert client.post(f"/campaigns/{other}/approve").status_code == 404
    assert client.get(f"/campaigns/{other}/effect").status_code == 404
    assert client.get("/campaigns/99999999999").status_code == 404


def test_users_outside_hq_campaign_planning_are_refused(client, login_as, login_distributor, make_product):
    campaign = make_campaign([make_product()], status="draft")
    login_distributor()
    for url in ("/campaigns", "/campaigns/new", f"/campaigns/{campaign.id}", f"/campaigns/{campaign.id}/edit"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/campaigns/{campaign.id}/approve").status_code == 403
    client.post("/logout")
    login_as("reviewer")
    assert client.get("/campaigns").status_code == 403
    db.session.refresh(campaign)
    assert campaign.status == "draft"
