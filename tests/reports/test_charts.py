"""Server-drawn SVG charts: well-formed, accessible, values placed where they belong, text escaped."""

import xml.etree.ElementTree as ET
from decimal import Decimal

from markupsafe import Markup

from dms.core import charts

NS = {"svg": "http://www.w3.org/2000/svg"}


def parse(markup):
    assert isinstance(markup, Markup)
    return ET.fromstring(str(markup))  # noqa: S314 - our own markup


def test_line_chart_is_well_formed_accessible_svg():
    svg = parse(charts.line_chart(["2026-01", "2026-02", "2026-03"],
                                  [charts.Series("Amount", [Decimal("100.00"), Decimal("200.00"), Decimal("50.00")])],
                                  title="Sales by month", description="Monthly sales"))
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    assert svg.get("viewBox") == "0 0 640 240" and svg.get("width") == "100%" and svg.get("role") == "img"
    title, desc = svg.find("svg:title", NS), svg.find("svg:desc", NS)
    assert title.text == "Sales by month" and desc.text == "Monthly sales"
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    text = str(ET.tostring(svg))
    assert "script" not in text and "href" not in text and "style=" not in text
    labels = [t.text for t in svg.find("svg:g[@data-axis='x']", NS).findall("svg:text", NS)]
    assert labels == ["2026-01", "2026-02", "2026-03"]
    ticks = [t.text for t in svg.find("svg:g[@data-axis='y']", NS).findall("svg:text", NS)]
    assert ticks == ["0", "50", "100", "150", "200"]


def test_line_chart_values_map_to_coordinates():
    # frame: left 56, right 16, top 16, bottom 36 of 640 x 240 -> inner 568 x 188; ticks 0..200
    svg = parse(charts.line_chart(["a", "b", "c"], [charts.Series("S", [0, 200, 100])], title="t"))
    points = svg.find(".//svg:polyline", NS).get("points").split()
    assert points == ["56,204", "340,16", "624,110"]
    circles = [(c.get("cx"), c.get("cy")) for c in svg.iter("{http://www.w3.org/2000/svg}circle")]
    assert circles == [("56", "204"), ("340", "16"), ("624", "110")]


def test_two_series_have_a_legend_and_distinct_dashes():
    svg = parse(charts.line_chart(["a", "b"], [charts.Series("This year", [1, 2]), charts.Series("Last year", [2, 1])],
                                  title="t"))
    lines = svg.findall(".//svg:polyline", NS)
    assert len(lines) == 2 and lines[0].get("stroke") != lines[1].get("stroke")
    assert lines[0].get("stroke-dasharray") is None and lines[1].get("stroke-dasharray") == "6 4"
    legend = [t.text for t in svg.find("svg:g[@class='legend']", NS).findall("svg:text", NS)]
    assert sorted(legend) == ["Last year", "This year"]


def test_bar_chart_heights_are_proportional():
    svg = parse(charts.bar_chart(["x", "y"], [Decimal("50"), Decimal("100")], title="Bars"))
    rects = svg.findall(".//svg:rect", NS)
    assert [r.get("data-value") for r in rects] == ["50", "100"]
    # ticks 0..100, inner height 188 from y=16: 100 -> full height, 50 -> half of it
    heights = [float(r.get("height")) for r in rects]
    assert heights == [94.0, 188.0]
    assert [float(r.get("y")) for r in rects] == [110.0, 16.0]


def test_horizontal_bars_and_negative_values():
    svg = parse(charts.bar_chart(["gain", "loss"], [Decimal("30"), Decimal("-10")], title="Net", horizontal=True))
    rects = svg.findall(".//svg:rect", NS)
    zero_line = svg.findall("svg:line", NS)[-1]
    zero = float(zero_line.get("x1"))
    gain, loss = rects
    assert float(gain.get("x")) == zero and float(gain.get("width")) > 0
    assert abs(float(loss.get("x")) + float(loss.get("width")) - zero) < 0.11
    assert float(gain.get("width")) > float(loss.get("width"))


def test_text_is_escaped():
    evil = '<script>alert("x")</script> & "q"'
    markup = charts.bar_chart([evil], [1], title=evil, description=evil, horizontal=True)
    assert "<script>" not in str(markup)
    svg = parse(markup)
    assert svg.find("svg:title", NS).text == evil
    assert all(el.tag.split("}")[1] != "script" for el in svg.iter())


def test_empty_chart_says_so():
    svg = parse(charts.line_chart([], [], title="Nothing", empty_message="No sales & no orders"))
    assert svg.find("svg:text[@data-empty='1']", NS).text == "No sales & no orders"
    svg = parse(charts.bar_chart([], [], title="Nothing"))
    assert svg.find("svg:text[@data-empty='1']", NS) is not None


def test_many_labels_are_thinned():
    labels = [f"d{n}" for n in range(30)]
    svg = parse(charts.line_chart(labels, [charts.Series("S", list(range(30)))], title="t"))
    shown = [t.text for t in svg.find("svg:g[@data-axis='x']", NS).findall("svg:text", NS)]
    assert len(shown) <= charts.MAX_X_LABELS + 1 and shown[0] == "d0" and shown[-1] == "d29"


def test_nice_ticks_and_compact_numbers():
    assert charts.nice_ticks(0, 87) == [0, 25, 50, 75, 100]
    assert charts.nice_ticks(0, 130) == [0, 50, 100, 150]
    assert charts.nice_ticks(-10, 30)[0] == -10 and charts.nice_ticks(-10, 30)[-1] == 30
    assert charts.nice_ticks(0, 0) == [0, 0.25, 0.5, 0.75, 1.0]
    assert charts.compact_number(1200) == "1.2k" and charts.compact_number(2500000) == "2.5M"
    assert charts.compact_number(Decimal("0.50")) == "0.5" and charts.compact_number(40) == "40"
