"""The region picker's fragments with CSRF on and htmx headers; public, like the regions themselves."""

import re

import pytest


@pytest.fixture
def user(login_as):
    return login_as("distributor")


def test_options_fragment_is_only_options(client, user):
    response = client.get("/regions/options?parent=110000&level=city", htmx=True)
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    html = response.get_data(as_text=True).strip()
    assert html.startswith("<option") and html.endswith("</option>") and "<html" not in html
    assert '<option value="110100">市辖区</option>' in html


def test_options_take_the_parent_from_the_pickers_select(client, user):
    html = client.get("/regions/options?level=county&name=area&area__city=110100", htmx=True).get_data(as_text=True)
    assert '<option value="110105">朝阳区</option>' in html
    empty = client.get("/regions/options?level=county&name=area&area__city=", htmx=True).get_data(as_text=True)
    assert empty.count("<option") == 1  # the placeholder only: the city list was emptied


def test_options_without_htmx_is_a_page(client, user):
    response = client.get("/regions/options?parent=110000&level=city")
    assert response.status_code == 200 and "<html" in response.get_data(as_text=True)
    assert "HX-Request" in response.headers["Vary"]


def test_options_refuse_a_bad_level_or_name(client, user):
    assert client.get("/regions/options?level=street", htmx=True).status_code == 400
    assert client.get("/regions/options?level=city&name=a%22b", htmx=True).status_code == 400


def test_search_fragment_lists_full_paths_with_picker_buttons(client, user):
    response = client.get("/regions/search?q=朝阳", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and "HX-Request" in response.headers["Vary"]
    assert "北京市 / 市辖区 / 朝阳区" in html
    assert 'hx-get="/regions/picker?name=region&amp;code=110105"' in html
    assert "onclick" not in html and "<script" not in html
    nothing = client.get("/regions/search?q=nowhere", htmx=True).get_data(as_text=True)
    assert "nowhere" in nothing and "<button" not in nothing


def test_search_reads_the_pickers_search_box(client, user):
    html = client.get("/regions/search?name=area&area__q=东莞", htmx=True).get_data(as_text=True)
    assert "广东省 / 东莞市" in html and "#region-picker-area" in html


def test_picker_redrawn_with_a_choice(client, user):
    html = client.get("/regions/picker?name=region&code=110105", htmx=True).get_data(as_text=True)
    assert 'id="region-picker-region"' in html and "<html" not in html
    assert '<input type="hidden" name="region" value="110105"' in html
    assert '<option value="110105" selected>朝阳区</option>' in html


def test_picker_page_works_without_javascript(client, user):
    html = client.get("/regions/picker?name=region&region__province=440000").get_data(as_text=True)
    assert "<html" in html and '<option value="440000" selected>' in html and '<option value="440100">' in html


def test_macro_in_a_form(render_picker):
    html = render_picker("441900", required=True)
    assert 'name="region__province" id="region-picker-region-province" required' in html
    assert '<option value="441900" selected>东莞市</option>' in html
    assert 'hx-trigger="change" hx-target="#region-picker-region-city"' in html
    assert "<script" not in html and not re.search(r"\son[a-z]+=", html)
    assert html.count('<option value="">') == 3 and html.count('<option value="') > 40
    assert '<input type="hidden" name="region" value=""' in render_picker()


@pytest.mark.parametrize("url", ["/regions/options?parent=110000&level=city", "/regions/search?q=朝阳",
                                 "/regions/picker?code=110105"])
def test_public_without_login(client, url):
    """Regions are published reference data, and the public application form (/apply) uses the picker."""
    assert client.get(url).status_code == 200
    assert client.get(url, htmx=True).status_code == 200
