"""The simulator: exact figures of a sample order under the version in force and under a draft; bad input; scope."""

import re
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from dms.commissions import rules, simulator
from dms.commissions.models import CommissionEntry
from dms.core.errors import NotFound, ValidationError
from dms.extensions import db


def shares(result):
    return [(s.beneficiary.id, s.level, s.rate, s.amount, s.capped) for s in result.shares]


def draft_with(actor, rates, **settings):
    """A draft with these rates per level (and settings), saved through the rules service."""
    draft = rules.create_draft(actor)
    minimums = settings.pop("minimums", ())
    data = {"mode": "multi", "max_levels": len(rates), "base": "net", "hold_days": 7, "compression": False,
            "levels": [{"rate": r, "min_personal_volume": minimums[n] if n < len(minimums) else "0"}
                       for n, r in enumerate(rates)], **settings}
    rules.set_rules(actor, draft, data)
    db.session.commit()
    return draft


@pytest.fixture
def network(app, chain, make_product, make_user, publish_rules):
    """A county seller under a city under a province, rules 10/5/2 in force, a product at 33.33."""
    seller, city, province = chain(3)
    version = publish_rules(rates=("10", "5", "2"))
    product = make_product(name="矿泉水", price="33.33")
    return {"seller": seller, "city": city, "province": province, "version": version, "product": product,
            "admin": make_user("admin")}


def test_the_version_in_force_to_the_cent(network):
    n = network
    result = simulator.simulate(n["admin"], n["seller"].id, [{"product_id": n["product"].id, "quantity": 3}])
    # 3 x 33.33 = 99.99: 9.999 -> 10.00, 4.9995 -> 5.00, 1.9998 -> 2.00
    assert (result.amount, result.base, result.version.id) == (D("99.99"), D("99.99"), n["version"].id)
    assert shares(result) == [(n["seller"].id, 1, D("10"), D("10.00"), False),
                              (n["city"].id, 2, D("5"), D("5.00"), False),
                              (n["province"].id, 3, D("2"), D("2.00"), False)]
    assert result.total == D("17.00") and not result.skipped and not result.cap_reached
    assert db.session.scalar(select(func.count()).select_from(CommissionEntry)) == 0


def test_a_draft_with_other_rates_and_a_discount(network):
    n = network
    draft = draft_with(n["admin"], ("7.5", "2.5", "1"))
    lines = [{"product_id": n["product"].id, "quantity": 3, "discount": "0.99"}]
    result = simulator.simulate(n["admin"], n["seller"].id, lines, version_id=draft.id)
    # 99.99 - 0.99 = 99.00: 7.425 -> 7.43, 2.475 -> 2.48, 0.99
    assert result.amount == D("99.00") and result.version.status == "draft"
    assert [(s.level, s.amount) for s in result.shares] == [(1, D("7.43")), (2, D("2.48")), (3, D("0.99"))]
    assert result.total == D("10.90")
    # the version in force is untouched by the draft
    current = simulator.simulate(n["admin"], n["seller"].id, lines)
    assert [s.amount for s in current.shares] == [D("9.90"), D("4.95"), D("1.98")]


def test_skipped_levels_and_the_cap(network):
    n = network
    draft = draft_with(n["admin"], ("10", "5", "2"), minimums=("0", "500", "0"), cap_per_order="11.00")
    result = simulator.simulate(n["admin"], n["seller"].id, [{"product_id": n["product"].id, "quantity": 3}],
                                version_id=draft.id)
    assert [(k.level, k.beneficiary.id, k.personal_volume, k.minimum) for k in result.skipped] == [
        (2, n["city"].id, D("0.00"), D("500.00"))]
    # level 1 takes 10.00 of the cap of 11.00; level 2 is skipped (not compressed); level 3 gets the 1.00 left
    assert [(s.level, s.amount, s.capped) for s in result.shares] == [(1, D("10.00"), False), (3, D("1.00"), True)]
    assert result.cap_reached and result.total == D("11.00")


def test_the_sample_order_counts_towards_its_sellers_volume(network):
    n = network
    draft = draft_with(n["admin"], ("10", "5", "2"), minimums=("99.99", "0", "0"))
    line = [{"product_id": n["product"].id, "quantity": 3}]
    result = simulator.simulate(n["admin"], n["seller"].id, line, version_id=draft.id)
    # 3 x 33.33 = 99.99 reaches level 1's minimum exactly, as the completed order would
    assert [(s.level, s.amount, s.personal_volume) for s in result.shares][0] == (1, D("10.00"), D("99.99"))
    short = simulator.simulate(n["admin"], n["seller"].id, [{"product_id": n["product"].id, "quantity": 2}],
                               version_id=draft.id)
    assert [k.level for k in short.skipped] == [1]


def test_bad_input_names_the_fields(network):
    n = network
    with pytest.raises(ValidationError) as caught:
        simulator.simulate(n["admin"], None, [{"product_id": 999999, "quantity": 1},
                                              {"product_id": n["product"].id, "quantity": "many"}], version_id="x")
    assert set(caught.value.fields) == {"seller_id", "version_id", "lines.0.product_id", "lines.1.quantity"}
    with pytest.raises(ValidationError) as caught:
        simulator.simulate(n["admin"], n["seller"].id, [])
    assert set(caught.value.fields) == {"lines"}


def test_a_distributor_previews_its_own_sales_under_the_version_in_force(network, make_user):
    n = network
    user = make_user("distributor", distributor_id=n["seller"].id)
    draft = draft_with(n["admin"], ("1", "1", "1"))
    line = [{"product_id": n["product"].id, "quantity": 3}]
    assert simulator.simulate(user, n["seller"].id, line).total == D("17.00")
    with pytest.raises(NotFound):
        simulator.simulate(user, n["city"].id, line)
    with pytest.raises(NotFound):
        simulator.simulate(user, n["seller"].id, line, version_id=draft.id)


# --- the page --------------------------------------------------------------------------------------

def post(client, n, version="", quantity="3", htmx=True, **extra):
    data = {"version_id": version, "seller_id": str(n["seller"].id), "lines-0-product_id": str(n["product"].id),
            "lines-0-quantity": quantity, "lines-1-product_id": "", "lines-1-quantity": "", **extra}
    return client.post("/commissions/simulator", data, htmx=htmx)


def amounts(html):
    return re.findall(r'data-testid="share-amount">([^<]*)<', html)


def test_the_page_shows_the_shares_for_the_current_version_and_a_draft(client, english, login_as, network):
    n = network
    login_as("admin")
    draft = draft_with(n["admin"], ("7.5", "2.5", "1"))
    page = client.get(f"/commissions/simulator?version={draft.id}").get_data(as_text=True)
    assert f'<option selected value="{draft.id}">' in page or f'value="{draft.id}" selected' in page
    response = post(client, n)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="simulation"')
    assert [a.strip() for a in amounts(html)] == ["CN¥10.00", "CN¥5.00", "CN¥2.00"]
    assert "CN¥17.00" in html and "CN¥99.99" in html and n["city"].name in html
    html = post(client, n, version=str(draft.id)).get_data(as_text=True)
    assert [a.strip() for a in amounts(html)] == ["CN¥7.50", "CN¥2.50", "CN¥1.00"]
    assert "Draft" in html
    assert db.session.scalar(select(func.count()).select_from(CommissionEntry)) == 0


def test_the_page_states_skips_and_the_cap(client, english, login_as, network):
    n = network
    login_as("admin")
    draft = draft_with(n["admin"], ("10", "5", "2"), minimums=("0", "500", "0"), cap_per_order="11.00")
    html = post(client, n, version=str(draft.id), htmx=False).get_data(as_text=True)
    assert "<html" in html
    assert f"Level 2, {n['city'].name}: personal volume CN¥0.00 is below the minimum CN¥500.00." in html
    assert "The level is not paid (no compression)." in html
    assert "The cap per order (CN¥11.00) was reached" in html and "capped" in html


@pytest.mark.parametrize("changes, status, message", [
    ({"lines-0-quantity": "abc"}, 422, "A whole number from 1 to 100000."),
    ({"lines-0-quantity": "0"}, 422, "A whole number from 1 to 100000."),
    ({"lines-0-product_id": "junk"}, 422, "Choose an existing product."),
    ({"lines-0-product_id": "", "lines-0-quantity": ""}, 422, "Add at least one product."),
    ({"seller_id": ""}, 422, "Choose the selling distributor."),
    ({"seller_id": "99999999"}, 422, "Choose the selling distributor."),
    ({"version_id": "abc"}, 422, "Choose a version from the list."),
    ({"lines-0-discount": "-5"}, 422, "An amount such as 500.00."),
    ({"lines-0-discount": "500"}, 422, "At most the line's amount, 99.99."),
])
def test_bad_input_is_a_422_with_its_message(client, english, login_as, network, changes, status, message):
    n = network
    login_as("admin")
    data = {"version_id": "", "seller_id": str(n["seller"].id), "lines-0-product_id": str(n["product"].id),
            "lines-0-quantity": "3", **changes}
    for htmx in (True, False):
        response = client.post("/commissions/simulator", data, htmx=htmx)
        html = response.get_data(as_text=True)
        assert response.status_code == status, html[:300]
        assert message in html.replace("&#39;", "'")


def test_no_version_in_force_is_a_message(client, english, login_as, chain, make_product):
    seller, _city, _province = chain(3)
    product = make_product()
    login_as("admin")
    response = client.post("/commissions/simulator", {"seller_id": str(seller.id), "version_id": "",
                                                      "lines-0-product_id": str(product.id),
                                                      "lines-0-quantity": "1"}, htmx=True)
    assert response.status_code == 422 and "No version is in force yet" in response.get_data(as_text=True)


def test_lines_are_added_and_removed(client, english, login_as, network):
    n = network
    login_as("admin")
    page = client.get("/commissions/simulator").get_data(as_text=True)
    assert page.count('data-testid="sample-line"') == 3
    html = post(client, n, add_line="1").get_data(as_text=True)
    assert html.lstrip().startswith('<fieldset class="panel" id="sample-lines"')
    assert html.count('data-testid="sample-line"') == 3
    html = post(client, n, htmx=False, remove_line="1").get_data(as_text=True)
    assert "<html" in html and html.count('data-testid="sample-line"') == 1


def test_a_distributor_is_fixed_to_itself(client, english, login_distributor, network):
    n = network
    draft = draft_with(n["admin"], ("1", "1", "1"))
    login_distributor(n["city"])
    page = client.get("/commissions/simulator").get_data(as_text=True)
    versions = re.search(r'<select[^>]*id="version_id".*?</select>', page, re.S).group(0)
    assert versions.count("<option") == 1 and f'value="{draft.id}"' not in versions
    assert 'name="seller_id"' not in page and n["city"].name in page
    # the seller sent is ignored: the city sells, so the city is level 1 and the province level 2
    html = post(client, n).get_data(as_text=True)
    assert [a.strip() for a in amounts(html)] == ["CN¥10.00", "CN¥5.00"]
    response = post(client, n, version=str(draft.id))
    assert response.status_code == 404


def test_a_reviewer_may_simulate(client, english, login_as, network):
    login_as("reviewer")
    assert [a.strip() for a in amounts(post(client, network).get_data(as_text=True))] == [
        "CN¥10.00", "CN¥5.00", "CN¥2.00"]


def test_the_default_locale(client, login_as, network):
    login_as("admin")
    response = post(client, network)
    assert response.status_code == 200 and "¥10.00" in response.get_data(as_text=True)
