"""The reports on a worked dataset: exact figures, drill-down, scoping, htmx fragments, bad parameters.

The dataset (business time zone Asia/Shanghai, UTC+8; timestamps below are UTC):
- distributors A (朝阳区, county), B (海淀区, county), both in 北京市; C (徐汇区, 上海市, county);
- products P1 (distributor prices: province 5.00, county 6.00) and P2 (no distributor price);
- sales (delivered or completed, not refunded):
  o1 A 10-05 P1 3 x 10 = 30.00 + P2 1 = 20.00 | o2 A 10-12 P1 2 = 20.00 | o3 B 10-20 P2 5 = 100.00
  o4 C 09-15 P1 1 = 10.00 | o5 C 10-31 16:30 UTC = 11-01 00:30 local, no address, P1 4 = 40.00
  o8 A completed 10-25 (no delivery recorded) P2 1 = 25.00
  not sales: o6 A refunded (P1 100 = 1000.00), o7 B pending (P2 1 = 20.00).
"""

from datetime import date, datetime
from decimal import Decimal

import pytest

D = Decimal
SEP, OCT, NOV = "2026-09", "2026-10", "2026-11"


@pytest.fixture
def world(app, make_distributor, make_product):
    """The worked dataset above: {"A","B","C","P1","P2","orders"}."""
    from dms.catalog.models import Price
    from dms.extensions import db
    from dms.orders.models import Order, OrderLine, OrderRating

    a = make_distributor("110105", name="甲代理")
    b = make_distributor("110108", name="乙代理")
    c = make_distributor("310104", name="丙代理")
    p1 = make_product(name="桶装水", sku="P1", price="10.00")
    p2 = make_product(name="饮水机", sku="P2", price="20.00")
    for level, amount in (("province", "5.00"), ("county", "6.00")):
        db.session.add(Price(product_id=p1.id, kind="distributor", level=level, amount=D(amount),
                             effective_from=datetime(2025, 1, 1)))

    def order(distributor, lines, *, delivered=None, completed=None, status="completed", region="own"):
        moment = delivered or completed
        o = Order(distributor_id=distributor.id, warehouse_id=distributor.warehouse.id, status=status,
                  created_at=moment or datetime(2026, 10, 1), delivered_at=delivered, completed_at=completed,
                  ship_region_code=distributor.region_code if region == "own" else region,
                  ship_name="客户", ship_phone="13800000000",
                  refunded_at=datetime(2026, 10, 8) if status == "refunded" else None)
        for product, quantity, amount in lines:
            o.lines.append(OrderLine(product_id=product.id, quantity=quantity, unit_price=D(amount) / quantity,
                                     amount=D(amount)))
        o.subtotal = o.total = sum((D(x) for _p, _q, x in lines), D("0.00"))
        db.session.add(o)
        db.session.flush()
        return o

    orders = {
        1: order(a, [(p1, 3, "30.00"), (p2, 1, "20.00")], delivered=datetime(2026, 10, 5, 4)),
        2: order(a, [(p1, 2, "20.00")], delivered=datetime(2026, 10, 12, 4), status="delivered"),
        3: order(b, [(p2, 5, "100.00")], delivered=datetime(2026, 10, 20, 4)),
        4: order(c, [(p1, 1, "10.00")], delivered=datetime(2026, 9, 15, 4)),
        5: order(c, [(p1, 4, "40.00")], delivered=datetime(2026, 10, 31, 16, 30), region=None),
        6: order(a, [(p1, 100, "1000.00")], delivered=datetime(2026, 10, 6, 4), status="refunded"),
        7: order(b, [(p2, 1, "20.00")], status="pending"),
        8: order(a, [(p2, 1, "25.00")], completed=datetime(2026, 10, 25, 4)),
    }
    for number, score, at in ((1, 5, datetime(2026, 10, 6)), (2, 3, datetime(2026, 10, 13)),
                              (3, 4, datetime(2026, 10, 21)), (4, 2, datetime(2026, 9, 16))):
        db.session.add(OrderRating(order_id=orders[number].id, score=score, at=at))
    db.session.commit()
    return {"A": a, "B": b, "C": c, "P1": p1, "P2": p2, "orders": orders}


@pytest.fixture
def hq_user(make_user):
    return make_user("admin")


@pytest.fixture
def a_user(make_user, world):
    return make_user("distributor", distributor_id=world["A"].id)


def build(module, actor, **params):
    import importlib

    return importlib.import_module(f"dms.reports.{module}").build(actor, params)


def by_label(rows):
    return {r.label: (r.order_count, r.units, r.amount, r.share) for r in rows}


# ---------------------------------------------------------------- sales

def test_sales_by_region_at_province_level(world, hq_user):
    figures = build("sales", hq_user, start=SEP, end=NOV, group="region")
    assert by_label(figures["rows"]) == {"北京市": (4, 12, D("195.00"), D("79.59")),
                                         "上海市": (2, 5, D("50.00"), D("20.41"))}
    assert [r.label for r in figures["rows"]] == ["北京市", "上海市"]
    assert figures["totals"] == {"orders": 6, "units": 17, "amount": D("245.00")}
    assert figures["next_dimension"] == "distributor"
    assert figures["rows"][0].drill == {"start": "2026-09-01", "end": "2026-11-30", "region": "110000",
                                        "group": "distributor"}


def test_sales_drill_down_region_distributor_product_month(world, hq_user):
    figures = build("sales", hq_user, start=SEP, end=NOV, region="110000", group="distributor")
    assert by_label(figures["rows"]) == {"乙代理": (1, 5, D("100.00"), D("51.28")),
                                         "甲代理": (3, 7, D("95.00"), D("48.72"))}
    assert [r.label for r in figures["rows"]] == ["乙代理", "甲代理"]
    drill = figures["rows"][1].drill
    assert drill["distributor"] == str(world["A"].id) and drill["group"] == "product"
    figures = build("sales", hq_user, **drill)
    assert by_label(figures["rows"]) == {"桶装水 (P1)": (2, 5, D("50.00"), D("52.63")),
                                         "饮水机 (P2)": (2, 2, D("45.00"), D("47.37"))}
    drill = figures["rows"][0].drill
    assert drill["group"] == "month" and drill["product"] == str(world["P1"].id)
    figures = build("sales", hq_user, **drill)
    assert by_label(figures["rows"]) == {OCT: (2, 5, D("50.00"), D("100.00"))}
    assert [c["name"] for c in figures["filters"]] == ["region", "distributor", "product"]
    assert figures["rows"][0].drill is None  # every dimension is filtered: nothing left to drill into


def test_sales_by_month_counts_the_business_day_and_month_drill_narrows_the_period(world, hq_user):
    figures = build("sales", hq_user, start=SEP, end=NOV, group="month")
    assert by_label(figures["rows"]) == {SEP: (1, 1, D("10.00"), D("4.08")), OCT: (4, 12, D("195.00"), D("79.59")),
                                         NOV: (1, 4, D("40.00"), D("16.33"))}
    assert [r.label for r in figures["rows"]] == [SEP, OCT, NOV]
    drill = figures["rows"][1].drill
    assert drill == {"start": "2026-10-01", "end": "2026-10-31", "group": "region"}
    assert build("sales", hq_user, **drill)["totals"]["amount"] == D("195.00")


def test_sales_region_filter_groups_one_level_down(world, hq_user):
    figures = build("sales", hq_user, start=SEP, end=NOV, region="110000", group="region")
    assert by_label(figures["rows"]) == {"市辖区": (4, 12, D("195.00"), D("100.00"))}
    figures = build("sales", hq_user, start=SEP, end=NOV, region="110100", group="region")
    assert by_label(figures["rows"]) == {"海淀区": (1, 5, D("100.00"), D("51.28")),
                                         "朝阳区": (3, 7, D("95.00"), D("48.72"))}


def test_sales_by_days_and_scoping(world, hq_user, a_user):
    figures = build("sales", hq_user, start="2026-10-05", end="2026-10-12", group="distributor")
    assert by_label(figures["rows"]) == {"甲代理": (2, 6, D("70.00"), D("100.00"))}
    mine = build("sales", a_user, start=SEP, end=NOV, group="region")
    assert by_label(mine["rows"]) == {"北京市": (3, 7, D("95.00"), D("100.00"))}
    assert "distributor" not in dict(mine["dimensions"])
    from dms.core.errors import ValidationError

    with pytest.raises(ValidationError):
        build("sales", a_user, group="distributor")
    with pytest.raises(ValidationError):
        build("sales", a_user, distributor=str(world["B"].id))


@pytest.mark.parametrize("params", [{"start": "2026-13"}, {"start": "yesterday"}, {"end": "2026-02-30"},
                                    {"start": "2026-10", "end": "2026-09"}, {"group": "colour"},
                                    {"region": "999999"}, {"region": "abc"}, {"product": "x"},
                                    {"product": "999999"}, {"distributor": "-1"}, {"start": "1999-01"},
                                    {"start": "2010-01", "end": "2026-01"}])
def test_sales_bad_parameters_are_validation_errors(world, hq_user, params):
    from dms.core.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        build("sales", hq_user, **params)
    assert caught.value.fields


def test_sales_sheets_have_the_lines(world, hq_user):
    from dms.reports import sales

    figures = build("sales", hq_user, start=SEP, end=NOV, region="110000", group="distributor")
    summary, lines = sales.sheets(hq_user, figures["params"], figures)
    assert summary.rows[-1][1:] == [4, 12, D("195.00"), None]
    lines = list(lines.rows)
    assert len(lines) == 5 and sum(r[-1] for r in lines) == D("195.00")
    assert lines[0][:2] == [f"DD{world['orders'][1].id:06d}", date(2026, 10, 5)]
    assert {r[3] for r in lines} == {"110105", "110108"}


# ---------------------------------------------------------------- trend

def test_trend_by_month(world, hq_user):
    figures = build("trend", hq_user, granularity="month", start=SEP, end=NOV)
    assert [(b.label, b.orders, b.units, b.amount, b.average) for b in figures["rows"]] == [
        (SEP, 1, 1, D("10.00"), D("10.00")), (OCT, 4, 12, D("195.00"), D("48.75")),
        (NOV, 1, 4, D("40.00"), D("40.00"))]
    assert figures["totals"] == {"orders": 6, "units": 17, "amount": D("245.00"), "average": D("40.83")}


def test_trend_by_week_fills_empty_weeks_and_cuts_the_ends(world, hq_user):
    figures = build("trend", hq_user, granularity="week", start="2026-10-01", end="2026-10-31")
    assert [(b.label, b.start, b.end, b.orders, b.amount) for b in figures["rows"]] == [
        ("2026-W40", date(2026, 10, 1), date(2026, 10, 4), 0, D("0.00")),
        ("2026-W41", date(2026, 10, 5), date(2026, 10, 11), 1, D("50.00")),
        ("2026-W42", date(2026, 10, 12), date(2026, 10, 18), 1, D("20.00")),
        ("2026-W43", date(2026, 10, 19), date(2026, 10, 25), 2, D("125.00")),
        ("2026-W44", date(2026, 10, 26), date(2026, 10, 31), 0, D("0.00"))]


def test_trend_by_day_with_product_and_distributor_filters(world, hq_user, a_user):
    figures = build("trend", hq_user, granularity="day", start="2026-10-04", end="2026-10-13",
                    product=str(world["P1"].id))
    amounts = {b.label: b.amount for b in figures["rows"] if b.amount}
    assert len(figures["rows"]) == 10 and amounts == {"2026-10-05": D("30.00"), "2026-10-12": D("20.00")}
    figures = build("trend", hq_user, granularity="month", start=SEP, end=NOV, distributor=str(world["C"].id))
    assert [b.amount for b in figures["rows"]] == [D("10.00"), D("0.00"), D("40.00")]
    mine = build("trend", a_user, granularity="month", start=SEP, end=NOV)
    assert [b.amount for b in mine["rows"]] == [D("0.00"), D("95.00"), D("0.00")]
    from dms.core.errors import ValidationError

    with pytest.raises(ValidationError):
        build("trend", a_user, distributor=str(world["C"].id))
    with pytest.raises(ValidationError):
        build("trend", hq_user, granularity="day", start="2024-01-01", end="2026-01-01")
    with pytest.raises(ValidationError):
        build("trend", hq_user, granularity="hour")


# ---------------------------------------------------------------- ranking

@pytest.fixture
def targets(world):
    from dms.distributors.models import DistributorTarget
    from dms.extensions import db

    db.session.add(DistributorTarget(distributor_id=world["A"].id, period="month", period_start=date(2026, 10, 1),
                                     amount=D("190.00")))
    db.session.add(DistributorTarget(distributor_id=world["B"].id, period="quarter",
                                     period_start=date(2026, 10, 1), amount=D("300.00")))
    db.session.commit()


def test_ranking_of_one_month(world, targets, hq_user):
    figures = build("performance_ranking", hq_user, start=OCT, end=OCT)
    rows = [(r.rank, r.distributor.name, r.amount, r.orders, r.average, r.target, r.attainment, r.previous, r.growth)
            for r in figures["rows"]]
    assert rows == [(1, "乙代理", D("100.00"), 1, D("100.00"), None, None, D("0.00"), None),
                    (2, "甲代理", D("95.00"), 3, D("31.67"), D("190.00"), D("50.00"), D("0.00"), None),
                    (3, "丙代理", D("0.00"), 0, None, None, None, D("10.00"), D("-100.00"))]
    assert figures["previous_start"] == date(2026, 9, 1) and figures["previous_end"] == date(2026, 9, 30)
    assert figures["totals"]["amount"] == D("195.00") and figures["totals"]["attainment"] == D("102.63")


def test_ranking_of_a_quarter_counts_quarterly_targets_and_growth(world, targets, hq_user, a_user):
    figures = build("performance_ranking", hq_user, start=OCT, end="2026-12")
    b = next(r for r in figures["rows"] if r.distributor.id == world["B"].id)
    assert (b.target, b.attainment) == (D("300.00"), D("33.33"))
    figures = build("performance_ranking", hq_user, start=OCT, end=NOV)
    c = next(r for r in figures["rows"] if r.distributor.id == world["C"].id)
    assert (c.amount, c.previous, c.growth) == (D("40.00"), D("10.00"), D("300.00"))
    assert figures["previous_start"] == date(2026, 8, 1)
    mine = build("performance_ranking", a_user, start=OCT, end=OCT)
    assert [(r.rank, r.distributor.id, r.amount) for r in mine["rows"]] == [(1, world["A"].id, D("95.00"))]


# ---------------------------------------------------------------- satisfaction

def test_satisfaction_by_distributor_and_month(world, hq_user, a_user):
    figures = build("satisfaction", hq_user, start=SEP, end=OCT)
    overall = figures["overall"]
    assert (overall.count, overall.average, overall.counts) == (4, D("3.50"), {1: 0, 2: 1, 3: 1, 4: 1, 5: 1})
    assert [(t.label, t.count, t.average) for t in figures["by_distributor"]] == [
        ("甲代理", 2, D("4.00")), ("乙代理", 1, D("4.00")), ("丙代理", 1, D("2.00"))]
    assert [(t.label, t.count, t.average) for t in figures["by_month"]] == [(SEP, 1, D("2.00")), (OCT, 3, D("4.00"))]
    assert overall.percent(5) == D("25.00")
    mine = build("satisfaction", a_user, start=SEP, end=OCT)
    assert (mine["overall"].count, mine["overall"].average) == (2, D("4.00"))
    assert build("satisfaction", hq_user, start=NOV, end=NOV)["overall"].count == 0


# ---------------------------------------------------------------- commissions

@pytest.fixture
def ledger(world):
    from dms.commissions.models import CommissionEntry
    from dms.extensions import db

    for who, kind, amount, period, status in (("A", "accrual", "10.00", OCT, "paid"),
                                              ("A", "clawback", "-2.00", OCT, "accrued"),
                                              ("B", "accrual", "5.00", OCT, "payable"),
                                              ("B", "reward", "50.00", SEP, "accrued"),
                                              ("A", "adjustment", "3.00", NOV, "accrued")):
        db.session.add(CommissionEntry(beneficiary_id=world[who].id, kind=kind, amount=D(amount), period=period,
                                       status=status, available_on=date(2026, 11, 1), level=1 if kind == "accrual"
                                       else 0))
    db.session.commit()


def test_commission_summary(world, ledger, hq_user, a_user):
    figures = build("commission_summary", hq_user, start=SEP, end=OCT)
    months = {s.label: (s.amounts, s.total, s.paid, s.entries) for s in figures["by_month"]}
    zero = D("0.00")
    assert months == {
        SEP: ({"accrual": zero, "clawback": zero, "reward": D("50.00"), "adjustment": zero}, D("50.00"), zero, 1),
        OCT: ({"accrual": D("15.00"), "clawback": D("-2.00"), "reward": zero, "adjustment": zero}, D("13.00"),
              D("10.00"), 3)}
    assert [(s.label, s.total, s.paid) for s in figures["by_distributor"]] == [("乙代理", D("55.00"), zero),
                                                                               ("甲代理", D("8.00"), D("10.00"))]
    assert (figures["overall"].total, figures["overall"].entries) == (D("63.00"), 4)
    mine = build("commission_summary", a_user, start=SEP, end=NOV)
    assert [(s.label, s.total) for s in mine["by_month"]] == [(OCT, D("8.00")), (NOV, D("3.00"))]
    only = build("commission_summary", hq_user, start=SEP, end=NOV, kind="accrual")
    assert only["overall"].total == D("15.00")


# ---------------------------------------------------------------- turnover

@pytest.fixture
def movements(world, hq_warehouse):
    from dms.extensions import db
    from dms.inventory.models import Batch, StockMovement

    batches = {}
    for key in ("P1", "P2"):
        batches[key] = Batch(product_id=world[key].id, code="")
        db.session.add(batches[key])
    db.session.flush()
    a_warehouse = world["A"].warehouse
    for warehouse, key, kind, delta, at in (
            (a_warehouse, "P1", "receipt", 100, datetime(2026, 9, 20)),
            (a_warehouse, "P1", "issue", -30, datetime(2026, 10, 5)),
            (a_warehouse, "P1", "transfer_out", -10, datetime(2026, 10, 10)),
            (a_warehouse, "P1", "issue", -20, datetime(2026, 10, 20)),
            (a_warehouse, "P1", "return", 5, datetime(2026, 10, 22)),
            (a_warehouse, "P1", "receipt", 40, datetime(2026, 10, 25)),
            (a_warehouse, "P1", "issue", -10, datetime(2026, 11, 3)),
            (hq_warehouse, "P1", "receipt", 200, datetime(2026, 9, 1)),
            (hq_warehouse, "P1", "issue", -50, datetime(2026, 10, 15)),
            (hq_warehouse, "P2", "receipt", 10, datetime(2026, 10, 2))):
        db.session.add(StockMovement(at=at, warehouse_id=warehouse.id, product_id=world[key].id,
                                     batch_id=batches[key].id, kind=kind, on_hand_delta=delta))
    db.session.commit()
    return {"A": a_warehouse, "HQ": hq_warehouse}


def test_turnover_per_product_and_warehouse(world, movements, hq_user):
    figures = build("turnover", hq_user, start=OCT, end=OCT)
    rows = {(li.warehouse.id, li.product.sku): (li.opening, li.closing, li.issued, li.unit_cost, li.cogs, li.average,
                                                li.turnover, li.days) for li in figures["rows"]}
    assert rows == {
        (movements["A"].id, "P1"): (100, 85, 45, D("6.00"), D("270.00"), D("555.00"), D("0.49"), D("63.7")),
        (movements["HQ"].id, "P1"): (200, 150, 50, D("5.00"), D("250.00"), D("875.00"), D("0.29"), D("108.5")),
        (movements["HQ"].id, "P2"): (0, 10, 0, None, None, None, None, None),
    }
    total = figures["total"]
    assert (total.cogs, total.average, total.turnover, total.days) == (D("520.00"), D("1430.00"), D("0.36"), D("85.3"))
    assert figures["days"] == 31 and figures["uncosted"] == 1
    hq_sub = next(s for s in figures["subtotals"] if s.warehouse.id == movements["HQ"].id)
    assert (hq_sub.cogs, hq_sub.average, hq_sub.turnover) == (D("250.00"), D("875.00"), D("0.29"))


def test_turnover_is_scoped_and_filtered(world, movements, hq_user, a_user):
    mine = build("turnover", a_user, start=OCT, end=OCT)
    assert [(li.warehouse.id, li.product.sku) for li in mine["rows"]] == [(movements["A"].id, "P1")]
    assert [w.id for w in mine["warehouses"]] == [movements["A"].id]
    from dms.core.errors import ValidationError

    with pytest.raises(ValidationError):
        build("turnover", a_user, warehouse=str(movements["HQ"].id))
    only = build("turnover", hq_user, start=OCT, end=OCT, warehouse=str(movements["HQ"].id),
                 product=str(world["P1"].id))
    assert [(li.product.sku, li.cogs) for li in only["rows"]] == [("P1", D("250.00"))]
    # days of a shorter period: 10-01..10-15 -> HQ P1 issued 50, closing 150 (same figures, 15 days)
    half = build("turnover", hq_user, start="2026-10-01", end="2026-10-15", warehouse=str(movements["HQ"].id))
    p1 = next(li for li in half["rows"] if li.product.sku == "P1")
    assert (p1.turnover, p1.days) == (D("0.29"), D("52.5"))


# ---------------------------------------------------------------- campaigns

@pytest.fixture
def campaign(world):
    from dms.campaigns.models import Campaign, CampaignRegion
    from dms.extensions import db

    row = Campaign(name="十月促销", starts_on=date(2026, 10, 1), ends_on=date(2026, 10, 31), mechanism="percent_off",
                   percent_off=D("10"), cost=D("10.00"), status="ended", code="OCT26")
    row.products = [world["P1"]]
    row.regions = [CampaignRegion(region_code="110000", role="target")]
    db.session.add(row)
    db.session.add(Campaign(name="草稿", starts_on=date(2026, 10, 1), ends_on=date(2026, 10, 31),
                            mechanism="percent_off", percent_off=D("5"), status="draft"))
    db.session.commit()
    return row


def test_campaign_evaluations(world, campaign, hq_user, a_user):
    figures = build("campaign_reports", hq_user, start=OCT, end=OCT)
    assert [e.campaign.name for e in figures["rows"]] == ["十月促销"]
    e = figures["rows"][0]
    assert (e.current.orders, e.current.revenue, e.baseline.revenue, e.uplift) == (2, D("50.00"), D("0.00"),
                                                                                   D("50.00"))
    assert (e.incremental_margin, e.roi) == (D("20.00"), D("1.0000"))
    assert figures["totals"] == {"orders": 2, "revenue": D("50.00"), "incremental": D("50.00"), "cost": D("10.00")}
    assert build("campaign_reports", hq_user, start=NOV, end=NOV)["rows"] == []
    from dms.core.errors import Forbidden

    with pytest.raises(Forbidden):
        build("campaign_reports", a_user)


# ---------------------------------------------------------------- pages

def test_index_lists_the_reports(client, login_as, english):
    login_as("admin")
    html = client.get("/reports").get_data(as_text=True)
    for kind in ("sales", "trend", "turnover", "ranking", "satisfaction", "campaigns", "commissions"):
        assert f'data-testid="report-{kind}"' in html


def test_index_for_a_distributor_leaves_out_campaigns(client, login_distributor, english):
    login_distributor()
    response = client.get("/reports")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-testid="report-sales"' in html and 'data-testid="report-campaigns"' not in html
    assert client.get("/reports/campaigns").status_code == 403


def test_sales_page_and_htmx_fragment(client, login_as, world, english):
    login_as("admin")
    response = client.get(f"/reports/sales?start={SEP}&end={NOV}&group=region")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" in html
    assert "北京市" in html and "CN¥195.00" in html and "CN¥245.00" in html and "<svg" in html
    assert 'data-testid="drill"' in html and "region=110000" in html
    assert "format=csv" in html and "format=xlsx" in html
    assert "Sales are orders delivered or completed" in html
    fragment = client.get(f"/reports/sales?start={SEP}&end={NOV}&region=110000&group=distributor", htmx=True)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body and body.lstrip().startswith('<div id="report-sales"')
    assert "乙代理" in body and "CN¥100.00" in body and "HX-Request" in fragment.headers.get("Vary", "")


def test_report_pages_render_for_hq(client, login_as, world, targets, ledger, movements, campaign, english):
    login_as("admin")
    for url, expected in (("/reports/trend?granularity=week&start=2026-10-01&end=2026-10-31", "CN¥125.00"),
                          (f"/reports/turnover?start={OCT}&end={OCT}", "108.5"),
                          (f"/reports/ranking?start={OCT}&end={OCT}", "50%"),
                          (f"/reports/satisfaction?start={SEP}&end={OCT}", "3.5"),
                          (f"/reports/campaigns?start={OCT}&end={OCT}", "十月促销"),
                          (f"/reports/commissions?start={SEP}&end={OCT}", "CN¥63.00")):
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200, url
        assert expected in html, url
        assert "<svg" in html and 'data-testid="report-filters"' in html, url
    html = client.get(f"/reports/campaigns?start={OCT}&end={OCT}").get_data(as_text=True)
    assert f"/campaigns/{campaign.id}/effect" in html


def test_distributor_pages_show_only_their_rows(client, login_distributor, world, ledger, movements, english):
    login_distributor(world["A"])
    html = client.get(f"/reports/sales?start={SEP}&end={NOV}&group=product").get_data(as_text=True)
    assert "CN¥95.00" in html and "CN¥245.00" not in html and 'name="distributor"' not in html
    html = client.get(f"/reports/ranking?start={OCT}&end={OCT}").get_data(as_text=True)
    assert "甲代理" in html and "乙代理" not in html
    html = client.get(f"/reports/commissions?start={SEP}&end={OCT}").get_data(as_text=True)
    assert "CN¥8.00" in html and "乙代理" not in html
    html = client.get(f"/reports/turnover?start={OCT}&end={OCT}").get_data(as_text=True)
    assert "63.7" in html and "108.5" not in html
    assert client.get(f"/reports/sales?distributor={world['B'].id}").status_code == 400


def test_empty_states(client, login_as, english):
    login_as("admin")
    for url in ("/reports/sales", "/reports/trend", "/reports/turnover", "/reports/satisfaction",
                "/reports/commissions", "/reports/campaigns"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert 'data-testid="empty"' in response.get_data(as_text=True), url


@pytest.mark.parametrize("url, message", [
    ("/reports/sales?start=2026-13", "Enter a month (2026-05) or a day (2026-05-01)."),
    ("/reports/sales?group=nope", "Choose one from the list."),
    ("/reports/trend?granularity=hour", "Choose one from the list."),
    ("/reports/trend?start=2026-10&end=2026-01", "The end of the period is before its start."),
    ("/reports/turnover?warehouse=abc", "Choose one from the list."),
    ("/reports/ranking?start=soon", "Enter a month (2026-05) or a day (2026-05-01)."),
    ("/reports/satisfaction?distributor=x", "Choose one from the list."),
    ("/reports/commissions?kind=bonus", "Choose one from the list."),
    ("/reports/campaigns?status=draft", "Choose one from the list."),
    ("/reports/sales?format=pdf", "Choose CSV or XLSX."),
    ("/reports/sales?format=csv&start=2026-13", "Enter a month (2026-05) or a day (2026-05-01)."),
    ("/reports/sales?format=xlsx&end=2026-02-30", "Enter a month (2026-05) or a day (2026-05-01)."),
    ("/reports/sales?format=csv&sheet=9", "There is no such table in this report.")])
def test_bad_parameters_answer_400_with_a_message(client, login_as, english, url, message):
    login_as("admin")
    response = client.get(url)
    assert response.status_code == 400, url
    assert message in response.get_data(as_text=True)


def test_bad_parameters_in_htmx_keep_the_form(client, login_as, english):
    login_as("admin")
    response = client.get("/reports/sales?start=2026-13", htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and body.lstrip().startswith('<div id="report-sales"')
    assert "Enter a month (2026-05) or a day (2026-05-01)." in body and 'value="2026-13"' in body


def test_reports_need_login_and_permission(client, login_as):
    assert client.get("/reports/sales").status_code in (302, 401)
    login_as("courier")
    assert client.get("/reports/sales").status_code == 403


def test_the_pdf_button_gets_the_report_and_its_parameters(client, login_as, world, english):
    login_as("admin")
    html = client.get(f"/reports/sales?start={SEP}&end={NOV}&group=month").get_data(as_text=True)
    if 'data-testid="report-pdf"' not in html:
        pytest.skip("the PDF button fragment is not there yet")
    assert 'name="kind" value="sales"' in html
    assert "group=month" in html and "start=2026-09-01" in html


def test_every_report_is_registered_for_printing(app):
    from dms.reports import registry

    for kind in ("sales", "trend", "turnover", "ranking", "satisfaction", "campaigns", "commissions"):
        definition = registry.get(kind)
        assert definition is not None and definition.pdf_template == f"reports/pdf/{kind}.html"
        assert app.jinja_env.get_template(definition.pdf_template) is not None
