"""Network pages with CSRF on, in English: the tree and its htmx fragments, scoping (404 for a foreign
distributor), a bad month (400), the move form, team pages and their forms."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from dms.core.periods import current_month, month_bounds_utc, month_name
from dms.core.time import business_today
from dms.distributors.models import Distributor, UplineLink
from dms.extensions import db
from dms.network.models import Team, TeamMember
from tests.sql_recorder import recorded_statements


@pytest.fixture
def admin(client, english, login_as):
    return login_as("admin")


@pytest.fixture
def as_b(client, english, make_user, login_as, tree):
    """Logged in as a user of B (B's subtree is B and D)."""
    return login_as(make_user("distributor", distributor_id=tree["B"].id))


def text(response) -> str:
    return response.get_data(as_text=True)


def test_hq_sees_the_roots_with_their_figures(client, admin, tree, order):
    order(tree["D"], "12.34", month_bounds_utc(current_month())[0] + timedelta(hours=1))
    page = client.get("/network")
    assert page.status_code == 200
    html = text(page)
    assert f'id="node-{tree["A"].id}"' in html and f'id="node-{tree["E"].id}"' in html
    assert f'id="node-{tree["B"].id}"' not in html  # below A: loaded on demand
    assert "¥12.34" in html  # D's order in A's team volume
    assert "Show 2 downlines" in html and "Personal volume" in html


def test_expanding_a_node_answers_its_children_fragment(client, admin, tree):
    response = client.get(f"/network/nodes/{tree['A'].id}/children?period={month_name(current_month())}", htmx=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    html = text(response)
    assert html.lstrip().startswith(f'<ul class="tree" id="children-{tree["A"].id}"')
    assert f'id="node-{tree["B"].id}"' in html and f'id="node-{tree["C"].id}"' in html
    assert "<html" not in html
    assert f'hx-get="/network/nodes/{tree["B"].id}/children' in html  # B has a downline of its own
    full = client.get(f"/network/nodes/{tree['A'].id}/children")  # without htmx: the page focused on A
    assert full.status_code == 200 and "<html" in text(full) and f'id="node-{tree["B"].id}"' in text(full)


def test_a_tree_level_answers_in_a_fixed_number_of_queries(client, admin, make_distributor, link):
    def parent_with(n):
        top = make_distributor()
        for _ in range(n):
            link(make_distributor(), top)
        return top.id

    small, large = parent_with(2), parent_with(7)
    client.get(f"/network/nodes/{small}/children", htmx=True)  # warm up (session, user, roles)
    with recorded_statements() as few:
        client.get(f"/network/nodes/{small}/children", htmx=True)
    with recorded_statements() as many:
        client.get(f"/network/nodes/{large}/children", htmx=True)
    assert len(few) == len(many), many


def test_a_bad_period_is_a_clear_400(client, admin, tree):
    for url in ("/network?period=2026-13", f"/network/distributors/{tree['A'].id}?period=junk",
                "/network/teams/0?period=x"):
        response = client.get(url)
        if "teams/0" in url:
            assert response.status_code == 404
            continue
        assert response.status_code == 400, url
        assert "Enter a month as YYYY-MM" in text(response)
    fragment = client.get(f"/network/nodes/{tree['A'].id}/children?period=2026-1", htmx=True)
    assert fragment.status_code == 400 and "Enter a month as YYYY-MM" in text(fragment)


def test_the_search_finds_a_distributor_in_the_tree(client, admin, tree):
    html = text(client.get("/network?q=网络D"))
    assert 'data-testid="search-result"' in html and "网络A › 网络B › 网络D" in html
    fragment = client.get("/network?q=nobody", htmx=True)
    assert text(fragment).lstrip().startswith('<div id="network-tree"')
    assert "No distributor in your network matches." in text(fragment)


def test_a_distributor_sees_its_own_subtree_only(client, as_b, tree):
    html = text(client.get("/network"))
    assert f'id="node-{tree["B"].id}"' in html and f'id="node-{tree["A"].id}"' not in html
    assert client.get(f"/network/nodes/{tree['B'].id}/children", htmx=True).status_code == 200
    assert client.get(f"/network/distributors/{tree['D'].id}").status_code == 200
    assert "网络A" not in text(client.get(f"/network/distributors/{tree['B'].id}"))
    for foreign in ("A", "C", "E"):
        d = tree[foreign]
        assert client.get(f"/network/distributors/{d.id}").status_code == 404
        assert client.get(f"/network/nodes/{d.id}/children", htmx=True).status_code == 404
        assert client.get(f"/network?root={d.id}").status_code == 404
        assert client.post(f"/network/distributors/{d.id}/move", {"upline_id": "", "reason": "x"}).status_code == 404
    assert "网络C" not in text(client.get("/network?q=网络"))
    # Its own node: visible, but moving is HQ's.
    response = client.post(f"/network/distributors/{tree['D'].id}/move",
                           {"upline_id": str(tree["B"].id), "effective_on": business_today().isoformat(),
                            "reason": "x"})
    assert response.status_code == 403


def test_every_network_route_with_a_distributor_id_answers_404_for_a_foreign_one(app, client, as_b, tree):
    from flask import url_for

    rules = [r for r in app.url_map.iter_rules()
             if r.endpoint.startswith("network.") and "distributor_id" in r.arguments]
    assert rules
    with app.test_request_context():
        urls = [(m, url_for(r.endpoint, **{a: tree["C"].id if a == "distributor_id" else 1 for a in r.arguments}))
                for r in rules for m in sorted(r.methods - {"HEAD", "OPTIONS"})]
    for method, url in urls:
        response = client.get(url) if method == "GET" else client.post(url, {})
        assert response.status_code == 404, (method, url)


def test_moving_with_the_form(client, admin, tree):
    d, c = tree["D"], tree["C"]
    page = client.get(f"/network/distributors/{d.id}")
    assert page.status_code == 200 and 'data-testid="move-form"' in text(page)
    assert f'value="{business_today().isoformat()}"' in text(page)  # the date defaults to today
    bad = client.post(f"/network/distributors/{d.id}/move", {"upline_id": str(c.id), "reason": "",
                                                             "effective_on": (business_today() - timedelta(days=1))
                                                             .isoformat()})
    assert bad.status_code == 422
    assert "A move takes effect today or later" in text(bad) and "Give the reason for the move." in text(bad)
    later = (business_today() + timedelta(days=2)).isoformat()
    done = client.post(f"/network/distributors/{d.id}/move", {"upline_id": str(c.id), "reason": "区域调整",
                                                              "effective_on": later})
    assert done.status_code == 302
    page = text(client.get(done.headers["Location"]))
    assert 'data-testid="scheduled-move"' in page and "The move is scheduled" in page
    link = db.session.scalars(select(UplineLink).where(UplineLink.distributor_id == d.id)
                              .order_by(UplineLink.effective_from.desc())).first()
    assert 'data-confirm="Cancel the move scheduled' in page
    link_id = link.id
    assert client.post(f"/network/moves/{link_id}/cancel", {}).status_code == 302
    assert db.session.scalar(select(UplineLink.id).where(UplineLink.id == link_id)) is None


def test_a_loop_is_shown_beside_the_upline(client, admin, tree):
    response = client.post(f"/network/distributors/{tree['A'].id}/move",
                           {"upline_id": str(tree["D"].id), "reason": "x",
                            "effective_on": business_today().isoformat()})
    assert response.status_code == 422 and "This would make a loop" in text(response)
    assert db.session.get(Distributor, tree["A"].id).upline_id is None


def test_posts_need_the_csrf_token(client, admin, tree):
    response = client.post(f"/network/distributors/{tree['D'].id}/move",
                           {"upline_id": str(tree["C"].id), "reason": "x",
                            "effective_on": business_today().isoformat()}, csrf=False)
    assert response.status_code == 400
    assert client.post("/network/teams/new", {"name": "队", "leader_id": str(tree["A"].id), "level": "1"},
                       csrf=False).status_code == 400
    assert db.session.scalar(select(Team.id)) is None
    assert db.session.get(Distributor, tree["D"].id).upline_id == tree["B"].id


def test_the_upline_search_redraws_the_select(client, admin, tree):
    response = client.get(f"/network/distributor-options?field=upline_id&q=网络C&exclude={tree['D'].id}", htmx=True)
    html = text(response)
    assert response.status_code == 200 and html.lstrip().startswith('<select id="upline_id" name="upline_id"')
    assert "网络C" in html and "网络A" not in html
    assert client.get("/network/distributor-options?field=junk", htmx=True).status_code == 400


def test_team_pages_and_forms(client, admin, tree, order):
    assert "No teams yet." in text(client.get("/network/teams"))
    bad = client.post("/network/teams/new", {"name": "", "leader_id": "", "level": "12"})
    assert bad.status_code == 422
    assert "A name of 1 to 80 characters." in text(bad) and "A level from 1 to 9." in text(bad)
    made = client.post("/network/teams/new", {"name": "华南先锋队", "leader_id": str(tree["A"].id), "level": "2",
                                              "add_leader": "y"})
    assert made.status_code == 302
    south = db.session.scalars(select(Team)).one()
    assert made.headers["Location"].endswith(f"/network/teams/{south.id}")
    again = client.post("/network/teams/new", {"name": "华南先锋队", "leader_id": str(tree["B"].id), "level": "1"})
    assert again.status_code == 409 and "A team named 华南先锋队 already exists." in text(again)
    client.post("/network/teams/new", {"name": "浙江之星", "leader_id": str(tree["E"].id), "level": "1"})
    east = db.session.scalar(select(Team).where(Team.name == "浙江之星"))

    order(tree["A"], "10.50", month_bounds_utc(current_month())[0] + timedelta(hours=1))
    page = text(client.get(f"/network/teams/{south.id}"))
    assert 'data-testid="member"' in page and "10.50" in page and "New members per month" in page
    assert page.count('data-testid="new-members"') == 6
    assert 'data-confirm="Remove 网络A from the team 华南先锋队?"' in page

    assert client.post(f"/network/teams/{south.id}/members", {"distributor_id": str(tree["B"].id)}).status_code == 302
    taken = client.post(f"/network/teams/{east.id}/members", {"distributor_id": str(tree["B"].id)})
    assert taken.status_code == 409 and "already a member of the team 华南先锋队" in text(taken)
    moved = client.post(f"/network/teams/{south.id}/members/move", {"distributor_id": str(tree["B"].id),
                                                                     "to_team_id": str(east.id)})
    assert moved.status_code == 302
    assert client.post(f"/network/teams/{east.id}/members/{tree['B'].id}/remove", {}).status_code == 302
    assert client.post(f"/network/teams/{east.id}/members/{tree['B'].id}/remove", {}).status_code == 404
    members = db.session.scalars(select(TeamMember).where(TeamMember.distributor_id == tree["B"].id)).all()
    assert len(members) == 2 and all(m.left_at is not None for m in members)

    edit = client.post(f"/network/teams/{south.id}/edit", {"name": "华南队", "leader_id": str(tree["A"].id),
                                                           "level": "3", "note": ""})
    assert edit.status_code == 302 and db.session.get(Team, south.id).name == "华南队"
    listing = text(client.get("/network/teams?q=华南"))
    assert "华南队" in listing and "浙江之星" not in listing
    assert text(client.get("/network/teams?q=网络E", htmx=True)).lstrip().startswith('<div id="teams-table"')


def test_a_distributor_sees_its_own_teams_only(client, make_user, login_as, english, tree, hq):
    from dms.core.jobs import commit
    from dms.network import services

    south = services.create_team(hq, {"name": "华南先锋队", "leader_id": tree["A"].id, "level": 1})
    east = services.create_team(hq, {"name": "浙江之星", "leader_id": tree["E"].id, "level": 1})
    services.add_member(hq, south, tree["B"].id)
    commit()
    login_as(make_user("distributor", distributor_id=tree["B"].id))
    listing = text(client.get("/network/teams"))
    assert "华南先锋队" in listing and "浙江之星" not in listing and 'data-testid="new-team"' not in listing
    own = client.get(f"/network/teams/{south.id}")
    assert own.status_code == 200 and 'data-testid="add-member-form"' not in text(own)
    assert client.get(f"/network/teams/{east.id}").status_code == 404
    assert client.post(f"/network/teams/{east.id}/members", {"distributor_id": str(tree["D"].id)}).status_code == 404
    assert client.post(f"/network/teams/{south.id}/members", {"distributor_id": str(tree["D"].id)}).status_code == 403
    assert client.get("/network/teams/new").status_code == 403


def test_the_distributor_page_links_to_its_network(client, admin, tree):
    html = text(client.get(f"/distributors/{tree['B'].id}"))
    assert f'href="/network/distributors/{tree["B"].id}"' in html
