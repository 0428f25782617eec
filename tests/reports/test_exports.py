"""Report exports: every report downloads as CSV and XLSX with its full rows; the files open in csv and openpyxl."""

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.reports import test_reports as worked
from tests.reports.test_reports import NOV, OCT, SEP

# The worked dataset's fixtures (tests/reports/test_reports.py describes it).
world, targets, ledger, movements, campaign = (worked.world, worked.targets, worked.ledger, worked.movements,
                                               worked.campaign)

D = Decimal


def read_csv(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    text = response.get_data().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def read_xlsx(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert response.headers["Content-Disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    return {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}


def test_sales_csv_and_xlsx(client, login_as, world, english):
    login_as("admin")
    query = f"start={SEP}&end={NOV}&region=110000&group=distributor"
    rows = read_csv(client.get(f"/reports/sales?{query}&format=csv"))
    assert rows[0] == ["Distributor", "Orders", "Units", "Amount", "Share %"]
    assert rows[1:] == [["乙代理", "1", "5", "100.00", "51.28"], ["甲代理", "3", "7", "95.00", "48.72"],
                        ["Total", "4", "12", "195.00", ""]]
    lines = read_csv(client.get(f"/reports/sales?{query}&format=csv&sheet=2"))
    assert lines[0][:3] == ["Order", "Day", "Distributor"] and len(lines) == 6
    assert sum(D(r[-1]) for r in lines[1:]) == D("195.00")
    sheets = read_xlsx(client.get(f"/reports/sales?{query}&format=xlsx"))
    assert list(sheets) == ["Sales", "Lines"]
    assert sheets["Sales"][1][:4] == ["乙代理", 1, 5, 100]
    assert sheets["Sales"][-1][:4] == ["Total", 4, 12, 195]
    assert len(sheets["Lines"]) == 6 and sum(D(str(r[-1])) for r in sheets["Lines"][1:]) == D("195.00")
    assert sheets["Lines"][1][1].date().isoformat() == "2026-10-05"


def test_a_distributor_exports_only_its_rows(client, login_distributor, world, english):
    login_distributor(world["A"])
    sheets = read_xlsx(client.get(f"/reports/sales?start={SEP}&end={NOV}&group=product&format=xlsx"))
    assert {r[2] for r in sheets["Lines"][1:]} == {"甲代理"}
    assert sheets["Sales"][-1][3] == 95


def test_trend_ranking_satisfaction_exports(client, login_as, world, targets, english):
    login_as("admin")
    rows = read_csv(client.get(f"/reports/trend?granularity=month&start={SEP}&end={NOV}&format=csv"))
    assert [r[0] for r in rows] == ["Month", SEP, OCT, NOV, "Total"]
    assert rows[2][3:] == ["4", "12", "195.00", "48.75"]
    sheets = read_xlsx(client.get(f"/reports/ranking?start={OCT}&end={OCT}&format=xlsx"))
    ranking = sheets["Ranking"]
    assert [r[0] for r in ranking[1:4]] == [1, 2, 3]
    assert ranking[2][1] == "甲代理" and ranking[2][4] == 95 and ranking[2][8] == 50
    sheets = read_xlsx(client.get(f"/reports/satisfaction?start={SEP}&end={OCT}&format=xlsx"))
    assert list(sheets) == ["By distributor", "By month"]
    assert sheets["By month"][1:] == [[SEP, 1, 2, 0, 1, 0, 0, 0], [OCT, 3, 4, 0, 0, 1, 1, 1],
                                      ["All ratings", 4, 3.5, 0, 1, 1, 1, 1]]


def test_turnover_commission_campaign_exports(client, login_as, world, movements, ledger, campaign, english):
    login_as("admin")
    sheets = read_xlsx(client.get(f"/reports/turnover?start={OCT}&end={OCT}&format=xlsx"))
    lines = sheets["Turnover"]
    assert lines[0][:3] == ["Warehouse", "SKU", "Product"]
    p1_hq = next(r for r in lines if r[1] == "P1" and r[0] == movements["HQ"].name)
    assert p1_hq[3:] == [200, 150, 50, 5, 250, 1000, 750, 875, 0.29, 108.5]
    assert sheets["By warehouse"][-1][2] == "Total" and sheets["By warehouse"][-1][7] == 520
    rows = read_csv(client.get(f"/reports/commissions?start={SEP}&end={OCT}&format=csv"))
    assert rows[0] == ["Month", "Commission", "Clawback", "Reward", "Adjustment", "Total", "Paid", "Entries"]
    assert rows[1:] == [[SEP, "0.00", "0.00", "50.00", "0.00", "50.00", "0.00", "1"],
                        [OCT, "15.00", "-2.00", "0.00", "0.00", "13.00", "10.00", "3"],
                        ["Total", "15.00", "-2.00", "50.00", "0.00", "63.00", "10.00", "4"]]
    rows = read_csv(client.get(f"/reports/commissions?start={SEP}&end={OCT}&format=csv&sheet=2"))
    assert [r[0] for r in rows[1:]] == ["乙代理", "甲代理", "Total"]
    sheets = read_xlsx(client.get(f"/reports/campaigns?start={OCT}&end={OCT}&format=xlsx"))
    row = sheets["Campaigns"][1]
    assert row[0] == "十月促销" and row[5:7] == [2, 50] and row[12] == 20 and row[14] == 100


def test_formula_like_text_stays_text(client, login_as, make_distributor, world, english):
    from datetime import datetime

    from dms.extensions import db
    from dms.orders.models import Order, OrderLine

    evil = make_distributor("110105", name="=HYPERLINK(\"http://x\")")
    order = Order(distributor_id=evil.id, status="completed", delivered_at=datetime(2026, 10, 3, 4),
                  ship_region_code="110105", total=D("5.00"), subtotal=D("5.00"))
    order.lines.append(OrderLine(product_id=world["P1"].id, quantity=1, unit_price=D("5.00"), amount=D("5.00")))
    db.session.add(order)
    db.session.commit()
    login_as("admin")
    query = f"start={OCT}&end={OCT}&group=distributor"
    rows = read_csv(client.get(f"/reports/sales?{query}&format=csv"))
    assert any(r[0] == "'=HYPERLINK(\"http://x\")" for r in rows)
    book = load_workbook(io.BytesIO(client.get(f"/reports/sales?{query}&format=xlsx").get_data()))
    cells = [c for row in book["Sales"].iter_rows() for c in row if c.value == "=HYPERLINK(\"http://x\")"]
    assert cells and all(c.data_type == "s" for c in cells)


@pytest.mark.parametrize("kind", ["sales", "trend", "turnover", "ranking", "satisfaction", "commissions",
                                  "campaigns"])
def test_empty_reports_export_a_header(client, login_as, english, kind):
    login_as("admin")
    rows = read_csv(client.get(f"/reports/{kind}?format=csv"))
    assert rows and rows[0]
    sheets = read_xlsx(client.get(f"/reports/{kind}?format=xlsx"))
    assert all(rows[0] for rows in sheets.values())


@pytest.mark.parametrize("kind, params", [("sales", {"start": SEP, "end": NOV, "group": "region"}),
                                          ("trend", {"granularity": "week", "start": "2026-10-01",
                                                     "end": "2026-10-31"}),
                                          ("turnover", {"start": OCT, "end": OCT}),
                                          ("ranking", {"start": OCT, "end": OCT}),
                                          ("satisfaction", {"start": SEP, "end": OCT}),
                                          ("commissions", {"start": SEP, "end": OCT}),
                                          ("campaigns", {"start": OCT, "end": OCT})])
def test_the_pdf_templates_print_the_same_figures_and_chart(app, make_user, world, movements, ledger, campaign,
                                                             kind, params):
    """Each report's figures go through its PDF template (the page's chart markup, summary tables) into a PDF."""
    from flask import render_template

    from dms.core import jobs
    from dms.core.pdf import render_pdf_document
    from dms.core.time import utcnow
    from dms.reports import registry

    definition = registry.get(kind)
    figures = jobs.resolve(definition.build)(make_user("admin"), dict(params))
    context = {"title": figures["title"], "generated_at": utcnow(), "company": "DMS",
               "orientation": definition.orientation, **figures}
    with app.test_request_context("/"):
        html = render_template(definition.pdf_template, **context)
    assert "<svg" in html and str(figures["chart"]) in html
    data, pages = render_pdf_document(html)
    assert data.startswith(b"%PDF") and pages >= 1


def test_a_large_sales_report_prints_a_summary_only(app, make_user, world):
    """More groups than the PDF holds: the PDF shows the first rows and says the XLSX has them all."""
    from flask import render_template

    from dms.reports import registry, sales

    figures = sales.build(make_user("admin"), {"start": SEP, "end": NOV, "group": "product"})
    figures["rows"] = figures["rows"] * 50  # 100 rows
    with app.test_request_context("/"):
        html = render_template(registry.get("sales").pdf_template,
                               **{**figures, "generated_at": None, "company": "DMS", "orientation": "portrait"})
    assert html.count("<tr><td>") == sales.PDF_ROWS
    assert 'class="more"' in html
