"""Coverage pages with CSRF on and htmx headers: the drill-down table, the gap report, shared territory."""

import csv
import io
import re

import pytest

ON = "2026-06-01"


def row(html: str, code: str) -> str:
    """The table row of region `code`."""
    match = re.search(rf'<tr data-region="{code}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {code}"
    return match.group(1)


COLUMNS = {"Grants in force": 1, "above": 2, "below": 3}  # the coverage table; the gap table has "below" at 2


def cell(html: str, code: str, column: str, gaps: bool = False) -> str:
    """One cell of a region's row by column name (labels are translated, so by position)."""
    cells = re.findall(r'<td data-label="[^"]*">(.*?)</td>', row(html, code), re.S)
    return cells[2 if gaps and column == "below" else COLUMNS[column]]


@pytest.fixture
def guangdong(make_distributor, grant):
    """A province agent (shared), a Guangzhou city agent and a Nanhai county agent (both exclusive)."""
    province = make_distributor("440000", name="省代理甲", exclusive=False)
    city = make_distributor("440100", name="广州代理乙")
    county = make_distributor("440605", name="南海代理丙", upline_id=city.id)
    grant(province, "440000", exclusive=False)
    grant(city, "440100")
    grant(county, "440605")
    return province, city, county


@pytest.fixture
def zhejiang(make_distributor, grant):
    """Hangzhou held exclusively and one county of Wenzhou; nothing at province level."""
    city = make_distributor("330100", name="杭州代理丁")
    county = make_distributor("330302", name="鹿城代理戊")
    grant(city, "330100")
    grant(county, "330302")
    return city, county


@pytest.fixture
def reviewer(login_as):
    return login_as("reviewer")


def _page(client, url, htmx=False):
    response = client.get(url, htmx=htmx)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert "HX-Request" in response.headers.get("Vary", "")
    return response.get_data(as_text=True)


def test_provinces_show_holders_badges_and_gaps(client, reviewer, guangdong, app):
    html = _page(client, f"/territories?on={ON}")
    assert "<html" in html and 'id="coverage-table"' in html
    gd = row(html, "440000")
    assert "省代理甲" in gd and "tag running" in gd  # the shared badge
    assert cell(html, "440000", "below").strip() == "2"
    assert "not-covered" not in gd
    assert 'data-testid="not-covered"' in row(html, "110000")  # Beijing: nobody
    assert cell(html, "110000", "below").strip() == "0"
    assert 'href="/territories?parent=440000&amp;on=2026-06-01"' in gd
    assert 'hx-get="/territories?parent=440000&amp;on=2026-06-01"' in gd
    if "distributors.show_distributor" in {r.endpoint for r in app.url_map.iter_rules()}:
        assert f"/{guangdong[0].id}" in gd


def test_drill_down_to_cities_as_an_htmx_fragment(client, reviewer, guangdong):
    html = _page(client, f"/territories?parent=440000&on={ON}", htmx=True)
    assert "<html" not in html and html.strip().startswith('<div id="coverage-table"')
    assert 'value="440000" form="coverage-date"' in html  # a new date keeps the level
    assert "广东省" in html and 'href="/territories?on=2026-06-01"' in html  # breadcrumb back to the provinces
    gz = row(html, "440100")
    assert "广州代理乙" in cell(html, "440100", "Grants in force") and "tag ok" in gz  # exclusive badge
    assert "省代理甲" in cell(html, "440100", "above")
    foshan = row(html, "440600")
    assert "省代理甲" in cell(html, "440600", "above") and "not-covered" not in foshan
    assert cell(html, "440600", "below").strip() == "1"
    assert "—" in cell(html, "440600", "Grants in force")


def test_drill_down_to_counties_without_javascript(client, reviewer, guangdong):
    html = _page(client, f"/territories?parent=440600&on={ON}")
    assert "<html" in html
    crumbs = html.split('class="crumbs"')[1].split("</nav>")[0]
    assert "广东省" in crumbs and "佛山市" in crumbs
    assert "南海代理丙" in cell(html, "440605", "Grants in force")
    assert "南海代理丙" not in row(html, "440607")
    assert "省代理甲" in cell(html, "440607", "above")
    assert "/territories?parent=440607" not in html  # counties have nothing to open


def test_a_county_parent_shows_its_city_and_unknown_is_404(client, reviewer, guangdong):
    html = _page(client, f"/territories?parent=440605&on={ON}")
    assert "南海代理丙" in row(html, "440605")
    assert client.get("/territories?parent=999999").status_code == 404


def test_dates_matter_and_a_bad_date_falls_back_to_today(client, reviewer, guangdong):
    before = _page(client, "/territories?on=2025-06-01")
    assert 'data-testid="not-covered"' in row(before, "440000")
    bad = _page(client, "/territories?on=yesterday")
    assert "yesterday" in bad and 'role="alert"' in bad


def test_uncovered_province_has_every_city_not_covered(client, reviewer, guangdong):
    html = _page(client, f"/territories?parent=110000&on={ON}", htmx=True)
    assert 'data-testid="not-covered"' in row(html, "110100")


def test_gaps_by_level_within_a_province(client, reviewer, zhejiang):
    html = _page(client, f"/territories/gaps?level=city&within=330000&on={ON}")
    summary = html.split('data-testid="gap-summary"')[1].split("</p>")[0]
    assert "10" in summary and "11" in summary and "1" in summary  # 10 of 11 cities; 1 partly covered
    assert 'data-region="330100"' not in html  # Hangzhou is held
    assert "浙江省 / 宁波市" in row(html, "330200")
    assert cell(html, "330300", "below", gaps=True).strip() == "1"  # Wenzhou: one county agent
    assert 'data-region="440100"' not in html  # only Zhejiang
    assert 'name="within" value="330000"' in html  # the picker shows the choice


def test_gaps_within_from_the_pickers_selects_and_counties(client, reviewer, zhejiang):
    html = _page(client, f"/territories/gaps?level=county&within__province=330000&within__city=330300&on={ON}",
                 htmx=True)
    assert html.strip().startswith('<div id="gaps-table"') and "<html" not in html
    assert 'data-region="330302"' not in html and 'data-region="330303"' in html
    assert len(re.findall(r"<tr data-region=", html)) == 11


def test_gaps_on_a_date_before_the_grants(client, reviewer, zhejiang):
    html = _page(client, "/territories/gaps?level=city&within=330000&on=2025-06-01")
    assert 'data-region="330100"' in html
    assert len(re.findall(r"<tr data-region=", html)) == 11


def test_gaps_paginate_and_empty_state(client, reviewer, zhejiang, guangdong):
    first = _page(client, f"/territories/gaps?level=county&on={ON}")
    assert len(re.findall(r"<tr data-region=", first)) == 50 and 'rel="next"' in first
    second = _page(client, f"/territories/gaps?level=county&on={ON}&page=2", htmx=True)
    assert len(re.findall(r"<tr data-region=", second)) == 50 and 'rel="prev"' in second
    assert row(first, "110101") and 'data-region="110101"' not in second
    none = _page(client, f"/territories/gaps?level=county&within=440000&on={ON}")  # the province agent covers all
    assert "<tr data-region=" not in none and 'class="empty"' in none


def test_gaps_csv(client, reviewer, zhejiang):
    response = client.get(f"/territories/gaps.csv?level=city&within=330000&on={ON}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 11  # a header and the ten uncovered cities
    assert ["330200", "宁波市", "浙江省 / 宁波市"] == rows[1][:3]


def test_overlaps_show_both_holders(client, reviewer, guangdong):
    html = _page(client, f"/territories/overlaps?on={ON}")
    summary = html.split('data-testid="overlap-summary"')[1].split("</p>")[0]
    assert "2" in summary
    table = html.split('id="overlaps-table"')[1]
    assert table.count("省代理甲") == 2 and "广州代理乙" in table and "南海代理丙" in table
    assert "广东省 / 佛山市 / 南海区" in table
    empty = _page(client, "/territories/overlaps?on=2025-06-01")
    assert 'class="empty"' in empty.split('id="overlaps-table"')[1]


def test_exclusive_grants_side_by_side_are_not_shared(client, reviewer, zhejiang):
    html = _page(client, f"/territories/overlaps?on={ON}")
    assert 'class="empty"' in html.split('id="overlaps-table"')[1]


@pytest.mark.parametrize("url", ["/territories", "/territories/gaps", "/territories/gaps.csv",
                                 "/territories/overlaps"])
def test_a_courier_is_refused_and_anonymous_must_log_in(client, login_as, url):
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    login_as("courier")
    assert client.get(url).status_code == 403


def test_navigation_leads_to_coverage(client, reviewer):
    html = _page(client, "/")
    assert 'href="/territories"' in html
