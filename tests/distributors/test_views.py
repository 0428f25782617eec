"""Distributor pages with CSRF on: list, detail, reveal, create/edit, status, grants, targets, scoping, htmx."""

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from dms.core.models import AuditLog
from dms.distributors.models import Distributor, DistributorTarget, TerritoryGrant
from dms.extensions import db
from tests.distributors.conftest import credit_code, id_number

BEIJING_CHAOYANG = {"region_code__province": "110000", "region_code__city": "110100",
                    "region_code__county": "110105"}
GUANGZHOU = {"region_code__province": "440000", "region_code__city": "440100"}


@pytest.fixture
def english(client, login_as):
    """english(role or user) -> the user, logged in with the English interface (messages checked as msgids)."""

    def login(who="admin"):
        user = login_as(who)
        client.post("/language", {"locale": "en"})
        return user

    return login


@pytest.fixture
def admin(english):
    return english("admin")


def body(response) -> str:
    return response.get_data(as_text=True)


def person(**changes) -> dict:
    data = {"kind": "person", "name": "王五", "id_number": id_number(), "phone": "13912345678", "email": "",
            "level": "county", "upline_id": "", "exclusive": "y", "profit_share": "12.5", **BEIJING_CHAOYANG}
    data.update(changes)
    return data


def audit_count(action: str, record_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == action, AuditLog.record_id == str(record_id)))


# --- the list ----------------------------------------------------------------------------------------

def test_list_columns_search_and_filters(client, admin, make_distributor, grant):
    chaoyang = make_distributor("110105", name="张三")
    company = make_distributor("440100", kind="company", name="李四", company_name="广州水业有限公司",
                               credit_code=credit_code(), upline_id=chaoyang.id, phone="13700000001")
    granted = make_distributor("110105", name="赵六")
    grant(granted, "440106")
    page = body(client.get("/distributors"))
    assert "张三" in page and "广州水业有限公司" in page and "赵六" in page
    assert "广州市" in page  # region column
    assert 'href="/distributors/new"' in page

    def names(query):
        fragment = body(client.get("/distributors?" + query, htmx=True))
        return set(re.findall(r'data-testid="distributor-name">([^<]+)<', fragment))

    assert names("q=水业") == {"广州水业有限公司"}
    assert names("q=13700000001") == {"广州水业有限公司"}
    assert names("level=city") == {"广州水业有限公司"}
    assert names(f"upline={chaoyang.id}") == {"广州水业有限公司"}
    assert names("status=active") == {"张三", "广州水业有限公司", "赵六"}
    # The region matches the distributor's own region or a grant in force overlapping it.
    assert names("region_code=440000") == {"广州水业有限公司", "赵六"}
    assert names("region_code__province=440000&region_code__city=440100&region_code__county=440104") == {
        "广州水业有限公司"}
    assert names("region_code__province=110000") == {"张三", "赵六"}
    # A city left over from another province (htmx refills the selects after the list asked) is ignored.
    assert names("region_code__province=110000&region_code__city=440100") == {"张三", "赵六"}
    empty = body(client.get("/distributors?status=suspended", htmx=True))
    assert 'class="empty"' in empty and "No distributor matches." in empty
    # Sorting and the region filter survive in the page's links.
    sorted_page = body(client.get("/distributors?region_code=440000&sort=name&dir=desc", htmx=True))
    assert "region_code=440000" in sorted_page
    assert company.id


def test_list_answers_fragment_to_htmx_and_page_otherwise(client, admin, make_distributor):
    make_distributor(name="张三")
    full = client.get("/distributors?q=张")
    assert "<html" in body(full) and "HX-Request" in full.headers["Vary"]
    fragment = client.get("/distributors?q=张", htmx=True)
    assert body(fragment).lstrip().startswith('<div id="distributors-table"')
    restore = client.get("/distributors", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in body(restore)


def test_list_empty_state_and_junk_arguments(client, admin):
    assert "No distributors yet." in body(client.get("/distributors"))
    for url in ("/distributors?upline=abc&level=%ff&region_code=999999&sort=%00&page=x",
                "/distributors?upline=" + "9" * 30, "/distributors?region_code__province=<script>"):
        assert client.get(url).status_code == 200, url


def test_list_needs_the_view_permission(client, login_as):
    login_as("courier")
    assert client.get("/distributors").status_code == 403


def test_reviewer_sees_no_new_button(client, login_as, make_distributor):
    login_as("reviewer")
    make_distributor()
    page = body(client.get("/distributors"))
    assert 'href="/distributors/new"' not in page
    assert client.get("/distributors/new").status_code == 403


# --- the detail page and the ID number -------------------------------------------------------------

def test_detail_shows_masked_id_never_the_clear_one(client, admin, make_distributor, grant, make_user):
    number = id_number()
    d = make_distributor("110105", id_number=number)
    upline_of = make_distributor("110105", upline_id=d.id, name="下级甲")
    grant(d, "110105")
    make_user("distributor", username="d-staff", distributor_id=d.id)
    page = body(client.get(f"/distributors/{d.id}"))
    assert d.id_number_masked in page and number not in page
    assert "下级甲" in page and f"/distributors/{upline_of.id}" in page  # downlines
    assert "北京市 / 市辖区 / 朝阳区" in page and "In force" in page  # grant with its path
    assert "d-staff" in page  # the distributor's users
    assert "distributor.create" in page  # history from the audit log
    assert 'data-testid="reveal-id"' in page
    edit = body(client.get(f"/distributors/{d.id}/edit"))
    assert number not in edit and d.id_number_masked not in edit


def test_reveal_needs_the_permission(client, login_as, make_distributor):
    number = id_number()
    d = make_distributor(id_number=number)
    login_as("reviewer")
    page = body(client.get(f"/distributors/{d.id}"))
    assert 'data-testid="reveal-id"' not in page and number not in page
    response = client.post(f"/distributors/{d.id}/reveal-id", htmx=True)
    assert response.status_code == 403 and number not in body(response)
    assert audit_count("distributor.reveal_id", d.id) == 0


def test_reveal_swaps_in_the_full_number_and_is_audited(client, admin, make_distributor):
    number = id_number()
    d = make_distributor(id_number=number)
    client.get(f"/distributors/{d.id}")
    response = client.post(f"/distributors/{d.id}/reveal-id", htmx=True)
    assert response.status_code == 200
    fragment = body(response)
    assert fragment.startswith('<span id="id-number">') and number in fragment and "<html" not in fragment
    assert response.headers["Cache-Control"] == "no-store"
    assert audit_count("distributor.reveal_id", d.id) == 1
    # Without JavaScript the form posts and the whole page comes back with the number shown.
    page = client.post(f"/distributors/{d.id}/reveal-id")
    assert page.status_code == 200 and "<html" in body(page) and number in body(page)
    assert audit_count("distributor.reveal_id", d.id) == 2
    # Reloading the page masks it again.
    assert number not in body(client.get(f"/distributors/{d.id}"))


def test_unknown_distributor_is_404(client, admin):
    assert client.get("/distributors/999999").status_code == 404


# --- create and edit -------------------------------------------------------------------------------

def test_create_shows_errors_in_place_with_422(client, admin):
    client.get("/distributors/new")
    response = client.post("/distributors/new", person(name="", phone="123", id_number="110105198001010000"))
    assert response.status_code == 422
    page = body(response)
    assert re.search(r'id="name"[^>]*aria-invalid="true"', page) or re.search(r'aria-invalid="true"[^>]*id="name"',
                                                                            page)
    assert "Enter the name." in page
    assert 'id="phone-errors"' in page and 'id="id_number-errors"' in page
    assert db.session.scalar(select(func.count()).select_from(Distributor)) == 0


def test_create_region_must_match_level(client, admin):
    client.get("/distributors/new")
    response = client.post("/distributors/new", person(level="city"))
    assert response.status_code == 422
    assert "朝阳区 is a county, not a city." in body(response)
    assert 'id="region-errors"' in body(response)
    # The picker keeps the choice that was made.
    assert re.search(r'<option value="110105"\s+selected', body(response))


def test_create_person_then_company(client, admin):
    client.get("/distributors/new")
    response = client.post("/distributors/new", person())
    assert response.status_code == 302
    d = db.session.scalar(select(Distributor).where(Distributor.name == "王五"))
    assert response.headers["Location"].endswith(f"/distributors/{d.id}")
    assert d.region_code == "110105" and d.level == "county" and str(d.profit_share) == "12.50" and d.exclusive
    assert d.warehouse is not None
    assert "王五" in body(client.get(response.headers["Location"]))  # flash and page
    code = credit_code()
    response = client.post("/distributors/new", person(
        kind="company", name="联系人", company_name="北京水务公司", credit_code=code, id_number="",
        level="city", upline_id=str(d.id), exclusive="", **{"region_code__county": ""}))
    assert response.status_code == 302, body(response)
    company = db.session.scalar(select(Distributor).where(Distributor.credit_code == code))
    assert company.display_name == "北京水务公司" and company.upline_id == d.id and not company.exclusive


def test_create_company_needs_company_fields(client, admin):
    client.get("/distributors/new")
    response = client.post("/distributors/new", person(kind="company", id_number=""))
    assert response.status_code == 422
    assert 'id="company_name-errors"' in body(response) and 'id="credit_code-errors"' in body(response)


def test_duplicate_id_number_and_credit_code_are_form_errors(client, admin, make_distributor):
    number, code = id_number(), credit_code()
    existing = make_distributor(id_number=number, name="老代理")
    make_distributor("440100", kind="company", company_name="已有公司", credit_code=code)
    client.get("/distributors/new")
    response = client.post("/distributors/new", person(id_number=number))
    assert response.status_code == 409
    page = body(response)
    assert 'id="id_number-errors"' in page and "An active distributor (老代理) already has this number." in page
    response = client.post("/distributors/new", person(kind="company", company_name="新公司", credit_code=code,
                                                       id_number=""))
    assert response.status_code == 409 and 'id="credit_code-errors"' in body(response)
    assert db.session.scalar(select(func.count()).select_from(Distributor)) == 2
    assert existing.id


def test_edit_keeps_the_stored_id_number_when_left_empty(client, admin, make_distributor):
    number = id_number()
    d = make_distributor("110105", id_number=number, name="旧名")
    form = body(client.get(f"/distributors/{d.id}/edit"))
    assert 'value="旧名"' in form and number not in form
    assert re.search(r'name="id_number"[^>]*value=""', form) or 'name="id_number" type="text" value=""' in form \
        or not re.search(r'name="id_number"[^>]*value="[^"]', form)
    response = client.post(f"/distributors/{d.id}/edit", person(name="新名", id_number="", profit_share="20"))
    assert response.status_code == 302
    db.session.refresh(d)
    assert d.name == "新名" and d.id_number == number and str(d.profit_share) == "20.00"
    assert audit_count("distributor.update", d.id) == 1


def test_edit_errors_in_place_and_loops_refused(client, admin, make_distributor):
    top = make_distributor()
    below = make_distributor(upline_id=top.id)
    client.get(f"/distributors/{top.id}/edit")
    response = client.post(f"/distributors/{top.id}/edit", person(profit_share="150", upline_id=str(below.id)))
    assert response.status_code == 422
    page = body(response)
    assert 'id="profit_share-errors"' in page
    response = client.post(f"/distributors/{top.id}/edit", person(upline_id=str(below.id)))
    assert response.status_code == 422 and "This would make a loop in the network." in body(response)
    response = client.post(f"/distributors/{top.id}/edit", person(upline_id="999999"))
    assert response.status_code == 422 and 'id="upline_id-errors"' in body(response)


def test_reviewer_cannot_edit(client, login_as, make_distributor):
    d = make_distributor()
    login_as("reviewer")
    assert client.get(f"/distributors/{d.id}/edit").status_code == 403
    assert client.post(f"/distributors/{d.id}/edit", person()).status_code == 403
    assert client.post(f"/distributors/{d.id}/status",
                       {"status": "suspended", "reason": "x", "confirm": "y"}).status_code == 403


# --- status ----------------------------------------------------------------------------------------

def test_status_needs_confirmation_and_reason(client, admin, make_distributor):
    d = make_distributor()
    client.get(f"/distributors/{d.id}")
    response = client.post(f"/distributors/{d.id}/status", {"status": "suspended", "reason": "欠款"})
    assert response.status_code == 422 and "Tick the box to confirm." in body(response)
    response = client.post(f"/distributors/{d.id}/status", {"status": "suspended", "reason": "", "confirm": "y"})
    assert response.status_code == 422 and "Give a reason." in body(response)
    db.session.refresh(d)
    assert d.status == "active"


def test_suspend_reactivate_and_terminate(client, admin, make_distributor, make_user, grant):
    d = make_distributor()
    g = grant(d, "110105")
    staff = make_user("distributor", distributor_id=d.id)
    client.get(f"/distributors/{d.id}")
    response = client.post(f"/distributors/{d.id}/status", {"status": "suspended", "reason": "欠款", "confirm": "y"})
    assert response.status_code == 302
    page = body(client.get(response.headers["Location"]))
    assert "The distributor is suspended." in page and "欠款" in page
    db.session.refresh(d)
    assert d.status == "suspended" and d.status_changed_on is not None
    response = client.post(f"/distributors/{d.id}/status", {"status": "active", "confirm": "y"}, htmx=True)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/distributors/{d.id}"
    response = client.post(f"/distributors/{d.id}/status", {"status": "terminated", "reason": "违约", "confirm": "y"})
    assert response.status_code == 302
    db.session.refresh(d)
    db.session.refresh(g)
    db.session.refresh(staff)
    assert d.status == "terminated" and g.effective_to is not None and not staff.active
    page = body(client.get(f"/distributors/{d.id}"))
    assert "A terminated distributor cannot change status." in page
    response = client.post(f"/distributors/{d.id}/status", {"status": "active", "confirm": "y"})
    assert response.status_code == 422


# --- territory grants ------------------------------------------------------------------------------

def test_grant_and_end_a_territory_through_the_page(client, english, make_distributor):
    english("reviewer")  # territories.manage without distributors.manage
    d = make_distributor("440100")
    page = body(client.get(f"/distributors/{d.id}"))
    assert "Grant a region" in page and "Change status" not in page
    response = client.post(f"/distributors/{d.id}/grants", {**GUANGZHOU, "exclusive": "y",
                                                            "effective_from": "2026-01-01", "note": "合同 A"})
    assert response.status_code == 302 and response.headers["Location"].endswith("#territories")
    g = db.session.scalar(select(TerritoryGrant).where(TerritoryGrant.distributor_id == d.id))
    assert g.region_code == "440100" and g.exclusive and g.effective_from == date(2026, 1, 1)
    assert "Territory granted." in body(client.get(f"/distributors/{d.id}"))
    response = client.post(f"/distributors/{d.id}/grants/{g.id}/end", {"effective_to": "2025-12-31"})
    assert response.status_code == 422 and "A grant cannot end before it starts" in body(response)
    assert f'id="end-{g.id}-errors"' in body(response)
    response = client.post(f"/distributors/{d.id}/grants/{g.id}/end", {"effective_to": "2026-12-31", "reason": "到期"})
    assert response.status_code == 302
    db.session.refresh(g)
    assert g.effective_to == date(2026, 12, 31)
    assert audit_count("territory.end", d.id) == 1


def test_grant_conflict_is_shown_to_the_user(client, admin, make_distributor, grant):
    holder = make_distributor("440106", name="天河代理")
    grant(holder, "440106")
    d = make_distributor("440100")
    client.get(f"/distributors/{d.id}")
    response = client.post(f"/distributors/{d.id}/grants", {**GUANGZHOU, "exclusive": "y"})
    assert response.status_code == 409
    page = body(response)
    assert 'id="grant-region-errors"' in page
    assert "The territory overlaps 天河区, held exclusively by 天河代理" in page
    assert db.session.scalar(select(func.count()).select_from(TerritoryGrant).where(
        TerritoryGrant.distributor_id == d.id)) == 0
    # A non-exclusive grant may overlap.
    assert client.post(f"/distributors/{d.id}/grants", {**GUANGZHOU}).status_code == 302


def test_grant_needs_a_region_and_end_needs_a_date(client, admin, make_distributor, grant):
    d = make_distributor()
    g = grant(d, "110105")
    client.get(f"/distributors/{d.id}")
    response = client.post(f"/distributors/{d.id}/grants", {"exclusive": "y"})
    assert response.status_code == 422 and "Choose a region from the list." in body(response)
    response = client.post(f"/distributors/{d.id}/grants/{g.id}/end", {})
    assert response.status_code == 422 and "Enter the last day." in body(response)


def test_another_distributors_grant_under_this_url_is_404(client, admin, make_distributor, grant):
    d, other = make_distributor("110105"), make_distributor("440106")
    foreign = grant(other, "440106")
    client.get(f"/distributors/{d.id}")
    assert client.post(f"/distributors/{d.id}/grants/{foreign.id}/end", {"effective_to": "2026-12-31"}).status_code \
        == 404


def test_grants_need_territories_manage(client, login_as, make_distributor, make_user):
    from dms.accounts import services as accounts
    from dms.core.jobs import commit

    role = accounts.create_role(None, code="viewer", name="Viewer", description="",
                                permissions=["distributors.view", "scope.all_distributors"])
    commit()
    d = make_distributor()
    login_as(make_user(role.code))
    page = body(client.get(f"/distributors/{d.id}"))
    assert "region_code__province" not in page
    assert client.post(f"/distributors/{d.id}/grants", {**BEIJING_CHAOYANG}).status_code == 403


# --- targets ---------------------------------------------------------------------------------------

def test_targets_add_replace_and_delete(client, admin, make_distributor):
    d = make_distributor()
    client.get(f"/distributors/{d.id}")
    response = client.post(f"/distributors/{d.id}/targets", {"period": "month", "period_start": "2026-03-15",
                                                             "amount": "10000", "quantity": ""})
    assert response.status_code == 302 and response.headers["Location"].endswith("#targets")
    response = client.post(f"/distributors/{d.id}/targets", {"period": "month", "period_start": "2026-03-02",
                                                             "amount": "", "quantity": "300"})
    assert response.status_code == 302
    client.post(f"/distributors/{d.id}/targets", {"period": "quarter", "period_start": "2026-05-05", "amount": "5"})
    targets = list(db.session.scalars(select(DistributorTarget).where(DistributorTarget.distributor_id == d.id)
                                      .order_by(DistributorTarget.period_start)))
    assert [(t.period, t.period_start, t.amount, t.quantity) for t in targets] == [
        ("month", date(2026, 3, 1), None, 300), ("quarter", date(2026, 4, 1), 5, None)]
    page = body(client.get(f"/distributors/{d.id}"))
    assert f'data-testid="target-{targets[0].id}"' in page
    gone = targets[0].id
    response = client.post(f"/distributors/{d.id}/targets/{gone}/delete")
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(DistributorTarget).where(
        DistributorTarget.id == gone)) == 0
    assert audit_count("distributor.target_delete", d.id) == 1


def test_target_errors_in_place(client, admin, make_distributor):
    d = make_distributor()
    client.get(f"/distributors/{d.id}")
    response = client.post(f"/distributors/{d.id}/targets", {"period": "month", "period_start": "2026-03-15"})
    assert response.status_code == 422 and "Give an amount, a quantity or both." in body(response)
    response = client.post(f"/distributors/{d.id}/targets", {"period": "month", "period_start": "", "amount": "-5"})
    assert response.status_code == 422
    assert 'id="amount-errors"' in body(response) and 'id="period_start-errors"' in body(response)


def test_another_distributors_target_under_this_url_is_404(client, admin, make_distributor):
    from dms.core.jobs import commit
    from dms.distributors import services

    d, other = make_distributor(), make_distributor()
    target = services.set_target(None, other, {"period": "month", "period_start": date(2026, 3, 1), "quantity": 1})
    commit()
    client.get(f"/distributors/{d.id}")
    assert client.post(f"/distributors/{d.id}/targets/{target.id}/delete").status_code == 404
    assert db.session.get(DistributorTarget, target.id) is not None


def test_targets_need_distributors_manage(client, login_as, make_distributor):
    d = make_distributor()
    login_as("reviewer")
    client.get(f"/distributors/{d.id}")
    assert client.post(f"/distributors/{d.id}/targets", {"period": "month", "period_start": "2026-03-15",
                                                         "amount": "1"}).status_code == 403


# --- a distributor's own user ----------------------------------------------------------------------

def test_distributor_user_sees_only_itself(client, login_distributor, make_distributor, grant):
    other = make_distributor("440106", name="别家")
    other_grant = grant(other, "440106")
    user, own = login_distributor(make_distributor("110105", name="自家"))
    listing = body(client.get("/distributors"))
    assert "自家" in listing and "别家" not in listing
    assert "别家" not in body(client.get("/distributors?region_code=440106", htmx=True))
    page = client.get(f"/distributors/{own.id}")
    assert page.status_code == 200
    assert own.id_number_masked in body(page) and own.id_number not in body(page)
    assert 'data-testid="reveal-id"' not in body(page) and "Change status" not in body(page)
    for url in (f"/distributors/{other.id}", f"/distributors/{other.id}/edit"):
        assert client.get(url).status_code == 404, url
    for url in (f"/distributors/{other.id}/reveal-id", f"/distributors/{other.id}/targets",
                f"/distributors/{other.id}/edit", f"/distributors/{other.id}/status",
                f"/distributors/{other.id}/grants", f"/distributors/{other.id}/grants/{other_grant.id}/end",
                f"/distributors/{other.id}/targets/1/delete"):
        assert client.post(url, {}).status_code == 404, url
    # Their own distributor: they may look, not change.
    assert client.get(f"/distributors/{own.id}/edit").status_code == 403
    assert client.post(f"/distributors/{own.id}/reveal-id").status_code == 403
    assert user.distributor_id == own.id


def test_pages_have_no_inline_scripts_or_styles(client, admin, make_distributor, grant):
    d = make_distributor()
    grant(d, "110105")
    for url in ("/distributors", f"/distributors/{d.id}", f"/distributors/{d.id}/edit", "/distributors/new"):
        page = body(client.get(url))
        for tag in re.findall(r"<script[^>]*>", page):
            assert "src=" in tag, (url, tag)
        assert " style=" not in page and " on" + "click=" not in page, url
        assert page.count('id="csrf_token"') <= 1, url  # ids stay unique with several forms on a page
