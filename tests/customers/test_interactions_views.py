"""Pages of visits and communications: the customer's interactions fragment, the follow-ups due page."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dms.core.jobs import commit
from dms.core.time import business_today
from dms.customers import interactions
from dms.customers.models import Interaction
from dms.extensions import db
from tests.customers.test_interactions import log, make_people


@pytest.fixture
def people(make_distributor, make_user):
    """The same distributors, customers and users as the service tests."""
    return make_people(make_distributor, make_user)


@pytest.fixture
def en(client):
    client.http.set_cookie("dms_locale", "en")
    return client


def count() -> int:
    return db.session.scalar(select(func.count(Interaction.id)))


def test_the_fragment_shows_the_history_and_a_full_page_answers_without_htmx(en, login_as, people):
    login_as(people["staff"])
    log(people["staff"], people["customer"], outcome="想要两桶")
    url = f"/customers/{people['customer'].id}/interactions"
    response = en.get(url, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'id="interactions"' in html
    assert "想要两桶" in html and 'data-testid="log-interaction"' in html
    assert "HX-Request" in response.headers["Vary"]
    page = en.get(url)
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)


def test_logging_through_the_form_answers_the_refreshed_fragment(en, login_as, people):
    login_as(people["staff"])
    customer = people["customer"]
    earlier = log(people["staff"], customer, follow_up_on=business_today())
    en.get(f"/customers/{customer.id}/interactions", htmx=True)
    follow_up = (business_today() + timedelta(days=3)).isoformat()
    response = en.post(f"/customers/{customer.id}/interactions", {
        "log-kind": "call", "log-happened_at": "", "log-contact_person": "王阿姨", "log-outcome": "约了周五",
        "log-notes": "", "log-follow_up_on": follow_up}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert 'data-testid="interactions-message"' in html and "约了周五" in html
    row = db.session.scalar(select(Interaction).order_by(Interaction.id.desc()).limit(1))
    assert (row.kind, row.status, row.contact_person, row.follow_up_on.isoformat()) == \
        ("call", "done", "王阿姨", follow_up)
    assert db.session.get(Interaction, earlier.id).follow_up_done_at is not None  # the call was the follow-up


@pytest.mark.parametrize("fields,message", [
    ({"log-follow_up_on": "2020-01-01"}, "The follow-up date cannot be in the past."),
    ({"log-kind": "email"}, "Not a valid choice"),
    ({"log-follow_up_on": "next week"}, "Not a valid date value"),
    ({"log-happened_at": "2999-01-01T10:00"}, "It cannot have happened in the future."),
])
def test_bad_input_answers_422_with_errors_in_place_and_saves_nothing(en, login_as, people, fields, message):
    login_as(people["staff"])
    customer = people["customer"]
    en.get(f"/customers/{customer.id}/interactions", htmx=True)
    data = {"log-kind": "visit", "log-outcome": "不在家", **fields}
    response = en.post(f"/customers/{customer.id}/interactions", data, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html and 'class="errors"' in html
    assert 'value="不在家"' in html  # what was typed is kept
    assert count() == 0


def test_planning_completing_and_cancelling_visits(en, login_as, people):
    login_as(people["staff"])
    customer = people["customer"]
    day = business_today() + timedelta(days=1)
    en.get(f"/customers/{customer.id}/interactions", htmx=True)
    response = en.post(f"/customers/{customer.id}/interactions/plan",
                       {"plan-planned_on": day.isoformat(), "plan-notes": "试饮"}, htmx=True)
    assert response.status_code == 200 and 'data-testid="planned-visit"' in response.get_data(as_text=True)
    visit = db.session.scalar(select(Interaction).where(Interaction.status == "planned"))
    past = en.post(f"/customers/{customer.id}/interactions/plan", {"plan-planned_on": "2020-01-01"}, htmx=True)
    assert past.status_code == 422 and "A visit cannot be planned in the past." in past.get_data(as_text=True)

    bad = en.post(f"/interactions/{visit.id}/done", {f"visit-{visit.id}-follow_up_on": "2020-01-01"}, htmx=True)
    assert bad.status_code == 422 and "The follow-up date cannot be in the past." in bad.get_data(as_text=True)
    done = en.post(f"/interactions/{visit.id}/done", {f"visit-{visit.id}-outcome": "订了10桶"}, htmx=True)
    assert done.status_code == 200
    db.session.expire_all()
    assert (visit.status, visit.outcome) == ("done", "订了10桶")
    again = en.post(f"/interactions/{visit.id}/cancel", {}, htmx=True)
    assert again.status_code == 409 and "Only a planned visit can be cancelled." in again.get_data(as_text=True)

    other = interactions.plan_visit(people["staff"], customer, {"planned_on": day})
    commit()
    assert en.post(f"/interactions/{other.id}/cancel", {}, htmx=True).status_code == 200
    db.session.expire_all()
    assert other.status == "cancelled"


def test_another_distributors_ids_answer_404_everywhere(en, login_as, people):
    login_as(people["staff"])
    foreign = people["foreign"]
    theirs = log(people["other"], foreign, follow_up_on=business_today())
    plan = interactions.plan_visit(people["other"], foreign, {"planned_on": business_today()})
    commit()
    en.get("/follow-ups")
    assert en.get(f"/customers/{foreign.id}/interactions", htmx=True).status_code == 404
    assert en.post(f"/customers/{foreign.id}/interactions", {"log-kind": "visit"}, htmx=True).status_code == 404
    assert en.post(f"/customers/{foreign.id}/interactions/plan",
                   {"plan-planned_on": business_today().isoformat()}, htmx=True).status_code == 404
    assert en.post(f"/interactions/{plan.id}/done", {}, htmx=True).status_code == 404
    assert en.post(f"/interactions/{plan.id}/cancel", {}, htmx=True).status_code == 404
    assert en.post(f"/follow-ups/{theirs.id}/done", {}, htmx=True).status_code == 404
    db.session.expire_all()
    assert count() == 2 and plan.status == "planned" and theirs.follow_up_done_at is None
    assert "李老板" not in en.get("/follow-ups?who=team").get_data(as_text=True)


def test_viewers_without_customers_manage_cannot_log(en, login_as, people):
    login_as("reviewer")
    en.get("/follow-ups")
    customer = people["customer"]
    assert en.get(f"/customers/{customer.id}/interactions", htmx=True).status_code == 200
    assert en.post(f"/customers/{customer.id}/interactions", {"log-kind": "visit"}, htmx=True).status_code == 403
    assert count() == 0


def test_follow_ups_page_buckets_mine_and_the_team_and_completes_one(en, login_as, people):
    staff, colleague, customer = people["staff"], people["colleague"], people["customer"]
    today = business_today()
    overdue = log(staff, customer, today=today - timedelta(days=7), outcome="要报价",
                  follow_up_on=today - timedelta(days=1))
    theirs = log(colleague, customer, follow_up_on=today, outcome="同事的")
    login_as(staff)
    html = en.get("/follow-ups").get_data(as_text=True)
    assert "要报价" in html and "同事的" not in html  # mine by default
    assert html.index('data-testid="bucket-overdue"') < html.index("要报价") < html.index('data-testid="bucket-today"')
    team = en.get("/follow-ups?who=team").get_data(as_text=True)
    assert "同事的" in team and team.index('data-testid="bucket-today"') < team.index("同事的")
    assert 'data-testid="compliance"' in team

    response = en.post(f"/follow-ups/{overdue.id}/done", {"who": "mine"}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="follow-ups"' in html and "要报价" not in html
    db.session.expire_all()
    assert overdue.follow_up_done_at is not None and theirs.follow_up_done_at is None
    plain = en.post(f"/follow-ups/{theirs.id}/done", {"who": "team"})
    assert plain.status_code == 302 and plain.headers["Location"].endswith("/follow-ups?who=team")


def test_hq_filters_follow_ups_and_compliance_by_distributor(en, login_as, people):
    today = business_today()
    visit = interactions.plan_visit(people["other"], people["foreign"], {"planned_on": today})
    commit()
    interactions.complete_visit(people["other"], visit, {"outcome": "拜访了"})
    commit()
    log(people["staff"], people["customer"], follow_up_on=today, outcome="一号的")
    log(people["other"], people["foreign"], follow_up_on=today, outcome="二号的")
    login_as(people["admin"])
    everyone = en.get("/follow-ups?who=team").get_data(as_text=True)
    assert "一号的" in everyone and "二号的" in everyone and 'data-testid="compliance"' not in everyone
    second = en.get(f"/follow-ups?who=team&distributor={people['second'].id}", htmx=True)
    html = second.get_data(as_text=True)
    assert second.status_code == 200 and "<html" not in html
    assert "二号的" in html and "一号的" not in html
    assert 'data-testid="compliance"' in html and "100.0%" in html
    assert "Visits planned from" in html


def test_the_follow_ups_page_is_in_the_navigation(en, login_as, people):
    login_as(people["staff"])
    html = en.get("/follow-ups").get_data(as_text=True)
    assert 'href="/follow-ups"' in html and "Follow-ups" in html


def test_a_follow_up_is_completed_from_the_customer_fragment(en, login_as, people):
    row = log(people["staff"], people["customer"], follow_up_on=business_today() + timedelta(days=2))
    login_as(people["staff"])
    en.get(f"/customers/{people['customer'].id}/interactions", htmx=True)
    response = en.post(f"/follow-ups/{row.id}/done", {"from": "customer"}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="interactions"' in html and 'data-testid="follow-up-done"' in html
