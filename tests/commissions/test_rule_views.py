"""The rules pages: list, draft, edit with errors in place, rows added and removed, publish, discard, who sees what."""

import re
from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from dms.commissions import rules
from dms.commissions.models import RuleVersion
from dms.core.models import AuditLog
from dms.extensions import db


def level_form(rates=("10", "5", "2"), minimums=(), **settings) -> dict:
    """A complete draft form: settings and one row per level."""
    data = {"name": "", "note": "", "mode": "multi", "max_levels": str(len(rates)), "base": "net",
            "cap_per_order": "", "hold_days": "7"}
    data.update(settings)
    for n, rate in enumerate(rates):
        data[f"levels-{n}-rate"] = rate
        data[f"levels-{n}-min_personal_volume"] = minimums[n] if n < len(minimums) else "0"
    return data


def start_draft(client) -> RuleVersion:
    response = client.post("/commissions/rules/new")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    version_id = int(re.search(r"/commissions/rules/(\d+)/edit", response.headers["Location"]).group(1))
    client.get(response.headers["Location"])
    return db.session.get(RuleVersion, version_id)


def errors_of(html: str, input_id: str) -> str:
    """The message list shown beside an input ('' when none)."""
    match = re.search(rf'<ul class="errors" id="{re.escape(input_id)}-errors">(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


def test_the_list_shows_every_version_and_the_one_in_force(app, client, english, login_as, publish_rules):
    login_as("admin")
    old = publish_rules(rates=("10", "5", "2"), effective_from=datetime(2026, 1, 1), name="开年")
    now = publish_rules(rates=("8", "4"), effective_from=datetime(2026, 6, 1), cap_per_order=D("50.00"))
    draft = rules.create_draft(None)
    db.session.commit()
    response = client.get("/commissions/rules")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    rows = {int(m.group(1)): m.group(2) for m in re.finditer(r'data-version="(\d+)">(.*?)</tr>', html, re.S)}
    assert set(rows) == {old.number, now.number, draft.number}
    assert "In force now" in rows[now.number] and "8% · 4%" in rows[now.number] and "50.00" in rows[now.number]
    assert "Superseded" in rows[old.number] and "10% · 5% · 2%" in rows[old.number]
    assert "Draft" in rows[draft.number] and "Edit" in rows[draft.number]
    assert "New draft from the version in force" in html
    filtered = client.get("/commissions/rules?status=draft", htmx=True).get_data(as_text=True)
    assert filtered.startswith('<div id="rules-table"') or 'id="rules-table"' in filtered[:200]
    assert f'data-version="{draft.number}"' in filtered and f'data-version="{now.number}"' not in filtered


def test_an_empty_list_says_what_to_do(app, client, english, login_as):
    login_as("admin")
    html = client.get("/commissions/rules").get_data(as_text=True)
    assert "No version is in force" in html and "No rules yet" in html


def test_a_draft_is_edited_with_errors_shown_beside_the_level(app, client, english, login_as, publish_rules):
    login_as("admin")
    publish_rules(rates=("10", "5", "2"))
    draft = start_draft(client)
    assert [level.rate for level in draft.levels] == [D("10"), D("5"), D("2")]  # copied from the version in force
    response = client.post(f"/commissions/rules/{draft.id}/edit", level_form(rates=("10", "150", "2"), hold_days="x"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a number from 0 to 100." in errors_of(html, "levels-1-rate")
    assert errors_of(html, "levels-0-rate") == "" and errors_of(html, "levels-2-rate") == ""
    assert re.search(r'id="levels-1-rate"[^>]*value="150"[^>]*aria-invalid="true"', html)
    assert "Enter a whole number." in html  # hold days, beside its field
    db.session.expire_all()
    assert [level.rate for level in db.session.get(RuleVersion, draft.id).levels] == [D("10"), D("5"), D("2")]

    response = client.post(f"/commissions/rules/{draft.id}/edit",
                           level_form(rates=("12", "6", "3", "1.5"), minimums=("0", "500"), name="旺季",
                                      compression="y", cap_per_order="80", hold_days="10"))
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/commissions/rules/{draft.id}")
    db.session.expire_all()
    saved = db.session.get(RuleVersion, draft.id)
    assert (saved.name, saved.max_levels, saved.compression, saved.cap_per_order, saved.hold_days) == \
        ("旺季", 4, True, D("80.00"), 10)
    assert [(lv.rate, lv.min_personal_volume) for lv in saved.levels] == [
        (D("12"), D("0")), (D("6"), D("500")), (D("3"), D("0")), (D("1.5"), D("0"))]
    assert db.session.scalar(select(func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "commission_rules.edit")) == 1
    page = client.get(f"/commissions/rules/{draft.id}").get_data(as_text=True)
    assert "1.5%" in page and "Compressed: the next qualified upline earns them" in page


def test_overrides_and_rewards_are_added_by_htmx_and_without_javascript(app, client, english, login_as,
                                                                        make_product):
    from dms.catalog.models import Category

    login_as("admin")
    water = make_product(name="矿泉水")
    drinks = Category(name="饮品")
    db.session.add(drinks)
    db.session.commit()
    draft = start_draft(client)
    url = f"/commissions/rules/{draft.id}/edit"
    # htmx: the overrides table comes back alone, with one blank row more.
    response = client.post(url, {**level_form(), "add_override": "1"}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<fieldset class="panel" id="rules-overrides"')
    assert html.count('data-testid="override-row"') == 1 and f'value="product:{water.id}"' in html
    assert f'value="category:{drinks.id}"' in html and 'value="distributor_level:city"' in html
    # Without JavaScript: the whole page, with the rows typed so far kept.
    response = client.post(url, {**level_form(), "overrides-0-target": f"product:{water.id}", "overrides-0-rate": "12",
                                 "add_reward": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    assert html.count('data-testid="reward-row"') == 1 and html.count('data-testid="override-row"') == 1
    assert re.search(rf'<option value="product:{water.id}" selected>', html)
    # An override of a reward's wrong shape: the messages go beside that row's inputs.
    bad = {**level_form(), "overrides-0-target": f"product:{water.id}", "overrides-0-rate": "101",
           "overrides-3-target": "distributor_level:city", "overrides-3-level": "2", "overrides-3-rate": "4",
           "rewards-0-kind": "team_growth", "rewards-0-amount": "500", "rewards-0-min_new_downlines": "0"}
    response = client.post(url, bad)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Enter a number from 0 to 100." in errors_of(html, "overrides-0-rate")
    assert errors_of(html, "overrides-3-rate") == ""
    assert "Enter a whole number from 1 to 10000." in errors_of(html, "rewards-0-min_new_downlines")
    good = {**bad, "overrides-0-rate": "12", "overrides-1-target": f"category:{drinks.id}", "overrides-1-rate": "3",
            "rewards-0-min_new_downlines": "3", "rewards-1-kind": "sales_target", "rewards-1-period": "quarter",
            "rewards-1-percent": "1.5", "rewards-1-name": "季度达标"}
    response = client.post(url, good)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    saved = db.session.get(RuleVersion, draft.id)
    assert [(o.scope, o.product_id, o.category_id, o.distributor_level, o.level, o.rate) for o in saved.overrides] == [
        ("product", water.id, None, None, None, D("12")), ("category", None, drinks.id, None, None, D("3")),
        ("distributor_level", None, None, "city", 2, D("4"))]
    assert [(r.kind, r.period, r.amount, r.percent, r.min_new_downlines) for r in saved.rewards] == [
        ("team_growth", "month", D("500.00"), None, 3), ("sales_target", "quarter", None, D("1.5"), None)]
    # The saved rows come back in the form, and one is removed by htmx.
    html = client.get(url).get_data(as_text=True)
    assert html.count('data-testid="override-row"') == 3 and html.count('data-testid="reward-row"') == 2
    fields = {**good, "remove_override": "1"}
    response = client.post(url, fields, htmx=True)
    assert response.get_data(as_text=True).count('data-testid="override-row"') == 2


def test_the_levels_follow_the_mode_and_the_count(app, client, english, login_as):
    login_as("admin")
    draft = start_draft(client)
    url = f"/commissions/rules/{draft.id}/edit"
    response = client.post(url, {**level_form(), "max_levels": "5", "redraw_levels": "1"}, htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="rules-levels"' in html[:200]
    assert html.count('data-testid="level-row"') == 5 and 'id="levels-0-rate" name="levels-0-rate" value="10"' in html
    html = client.post(url, {**level_form(), "add_level": "1"}).get_data(as_text=True)
    assert html.count('data-testid="level-row"') == 4
    html = client.post(url, {**level_form(), "mode": "single", "redraw_levels": "1"}, htmx=True).get_data(as_text=True)
    assert html.count('data-testid="level-row"') == 1
    response = client.post(url, level_form(rates=("8",), mode="single"))
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(RuleVersion, draft.id)
    assert (saved.mode, saved.max_levels, [lv.rate for lv in saved.levels]) == ("single", 1, [D("8")])


def test_publish_then_the_version_is_read_only(app, client, english, login_as):
    login_as("admin")
    draft = start_draft(client)
    page = client.get(f"/commissions/rules/{draft.id}").get_data(as_text=True)
    assert "Publishing cannot be undone" in page and "data-confirm=" in page
    response = client.post(f"/commissions/rules/{draft.id}/publish", {"effective_from": ""}, htmx=True)
    assert response.status_code == 422 and "Tick the box to confirm." in response.get_data(as_text=True)
    response = client.post(f"/commissions/rules/{draft.id}/publish",
                           {"effective_from": "2020-01-01T08:00", "confirm": "y"}, htmx=True)
    assert response.status_code == 422
    assert "A version takes effect now or later, never earlier." in response.get_data(as_text=True)
    response = client.post(f"/commissions/rules/{draft.id}/publish", {"effective_from": "soon", "confirm": "y"})
    assert response.status_code == 422 and "Enter a date and time" in response.get_data(as_text=True)
    assert db.session.get(RuleVersion, draft.id).status == "draft"
    response = client.post(f"/commissions/rules/{draft.id}/publish", {"effective_from": "", "confirm": "y"}, htmx=True)
    assert response.status_code == 204 and response.headers["HX-Redirect"].endswith(f"/commissions/rules/{draft.id}")
    db.session.expire_all()
    published = db.session.get(RuleVersion, draft.id)
    assert published.status == "published" and rules.current_version().id == draft.id
    response = client.get(f"/commissions/rules/{draft.id}/edit")
    assert response.status_code == 409
    assert "A published version cannot be changed" in response.get_data(as_text=True)
    assert client.post(f"/commissions/rules/{draft.id}/edit", level_form()).status_code == 409
    response = client.post(f"/commissions/rules/{draft.id}/publish", {"confirm": "y"})
    assert response.status_code == 409 and "already published" in response.get_data(as_text=True)
    assert client.post(f"/commissions/rules/{draft.id}/discard", {"confirm": "y"}).status_code == 409
    assert "In force now" in client.get(f"/commissions/rules/{draft.id}").get_data(as_text=True)


def test_save_and_publish_from_the_form_at_a_later_moment(app, client, english, login_as, publish_rules):
    from dms.commissions.rule_forms import local_input
    from dms.core.time import utcnow

    login_as("admin")
    first = publish_rules(rates=("10", "5"))
    draft = start_draft(client)
    url = f"/commissions/rules/{draft.id}/edit"
    response = client.post(url, {**level_form(rates=("9", "4")), "publish": "1"})
    assert response.status_code == 422 and "Tick the box to confirm." in errors_of(response.get_data(as_text=True),
                                                                                   "confirm")
    later = utcnow().replace(second=0, microsecond=0) + timedelta(days=3)
    response = client.post(url, {**level_form(rates=("9", "4")), "publish": "1", "confirm": "y",
                                 "effective_from": local_input(later)})
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(RuleVersion, draft.id)
    assert (saved.status, saved.effective_from, [lv.rate for lv in saved.levels]) == ("published", later,
                                                                                       [D("9"), D("4")])
    assert rules.current_version().id == first.id  # the new one is scheduled
    assert "Scheduled" in client.get("/commissions/rules").get_data(as_text=True)


def test_a_failed_publish_saves_nothing(app, client, english, login_as):
    login_as("admin")
    draft = start_draft(client)
    response = client.post(f"/commissions/rules/{draft.id}/edit",
                           {**level_form(rates=("9", "4", "1")), "publish": "1", "confirm": "y",
                            "effective_from": "2020-05-01T00:00"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "never earlier" in errors_of(html, "effective_from")
    db.session.expire_all()
    assert [lv.rate for lv in db.session.get(RuleVersion, draft.id).levels] == [D("10"), D("5"), D("2")]


def test_discard_asks_for_confirmation(app, client, english, login_as):
    login_as("admin")
    draft_id = start_draft(client).id
    response = client.post(f"/commissions/rules/{draft_id}/discard", {}, htmx=True)
    assert response.status_code == 422 and "Tick the box to confirm." in response.get_data(as_text=True)
    response = client.post(f"/commissions/rules/{draft_id}/discard", {"confirm": "y"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/commissions/rules")
    assert db.session.get(RuleVersion, draft_id) is None
    assert client.get(f"/commissions/rules/{draft_id}").status_code == 404


def test_a_reviewer_reads_only(app, client, english, login_as, publish_rules):
    version = publish_rules()
    draft = rules.create_draft(None)
    db.session.commit()
    login_as("reviewer")
    html = client.get("/commissions/rules").get_data(as_text=True)
    assert f'data-version="{draft.number}"' in html and f'data-version="{version.number}"' in html
    assert "New draft" not in html and "/edit" not in html
    page = client.get(f"/commissions/rules/{draft.id}").get_data(as_text=True)
    assert "Publishing cannot be undone" not in page and "Edit the draft" not in page
    assert client.get(f"/commissions/rules/{draft.id}/edit").status_code == 403
    assert client.post(f"/commissions/rules/{draft.id}/edit", level_form()).status_code == 403
    assert client.post("/commissions/rules/new").status_code == 403
    assert client.post(f"/commissions/rules/{draft.id}/publish", {"confirm": "y"}).status_code == 403
    assert client.post(f"/commissions/rules/{draft.id}/discard", {"confirm": "y"}).status_code == 403
    assert db.session.get(RuleVersion, draft.id).status == "draft"


def test_a_distributor_sees_the_version_in_force_only(app, client, english, login_distributor, publish_rules):
    old = publish_rules(effective_from=datetime(2026, 1, 1))
    current = publish_rules(rates=("7", "3"), effective_from=datetime(2026, 3, 1))
    draft = rules.create_draft(None)
    db.session.commit()
    login_distributor()
    html = client.get("/commissions/rules").get_data(as_text=True)
    assert f'data-version="{current.number}"' in html
    assert f'data-version="{old.number}"' not in html and f'data-version="{draft.number}"' not in html
    assert "New draft" not in html
    assert client.get(f"/commissions/rules/{current.id}").status_code == 200
    assert client.get(f"/commissions/rules/{old.id}").status_code == 404
    assert client.get(f"/commissions/rules/{draft.id}").status_code == 404
    assert client.get(f"/commissions/rules/{draft.id}/edit").status_code == 404
    assert client.get(f"/commissions/rules/{current.id}/edit").status_code == 403
    assert client.post(f"/commissions/rules/{draft.id}/discard", {"confirm": "y"}).status_code == 404
    assert client.post("/commissions/rules/new").status_code == 403


def test_no_version_in_force_for_a_distributor(app, client, english, login_distributor):
    login_distributor()
    html = client.get("/commissions/rules").get_data(as_text=True)
    assert "No version is in force" in html


def test_csrf_is_required(app, client, login_as):
    login_as("admin")
    assert client.post("/commissions/rules/new", csrf=False).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(RuleVersion)) == 0


@pytest.mark.parametrize("path", ["/commissions/rules/999999", "/commissions/rules/999999/edit"])
def test_an_unknown_version_is_404(app, client, login_as, path):
    login_as("admin")
    assert client.get(path).status_code == 404


def test_the_default_locale_renders(app, client, login_as, publish_rules):
    login_as("admin")
    version = publish_rules()
    draft = rules.create_draft(None)
    db.session.commit()
    for path in ("/commissions/rules", f"/commissions/rules/{version.id}", f"/commissions/rules/{draft.id}/edit",
                 "/commissions/simulator"):
        assert client.get(path).status_code == 200, path
