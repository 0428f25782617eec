"""Sales forecasts and reorder suggestions: the methods and their backtest, the weekly series, the job,
the reorder formula, the pages (scoped, in English) and the replenishment form's offer."""

import math
import warnings
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import func, select

D = Decimal


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture
def sale(app):
    """sale(distributor, product, quantity, at, status="delivered", refunded=False, region=None) -> Order.

    `at` is a business-zone (Asia/Shanghai) local datetime; it is stored as naive UTC in delivered_at
    (or completed_at for status completed with `dated="completed"`).
    """
    from dms.core.time import business_tz
    from dms.extensions import db
    from dms.orders.models import Order, OrderLine

    def make(distributor, product, quantity, at, status="delivered", refunded=False, region=None, dated="delivered",
             commit=True):
        moment = at.replace(tzinfo=business_tz()).astimezone(UTC).replace(tzinfo=None)
        order = Order(distributor_id=distributor.id if distributor else None, status=status, created_at=moment,
                      ship_name="客户", ship_phone="13800000000", ship_region_code=region,
                      refunded_at=moment + timedelta(days=1) if refunded else None)
        if dated == "delivered":
            order.delivered_at = moment
        order.completed_at = moment if status == "completed" else None
        order.lines.append(OrderLine(product_id=product.id, quantity=quantity, unit_price=D("10.00"),
                                     amount=D("10.00") * quantity))
        order.subtotal = order.total = D("10.00") * quantity
        db.session.add(order)
        if commit:
            db.session.commit()
        return order

    return make


def seasonal_units(weeks=156, seed=7):
    """Three years of weekly units: level 100, trend +0.3/week, a yearly sinusoid of amplitude 40, noise sd 6."""
    rng = np.random.default_rng(seed)
    t = np.arange(weeks)
    values = 100 + 0.3 * t + 40 * np.sin(2 * np.pi * t / 52) + rng.normal(0, 6, weeks)
    return [max(0, int(round(v))) for v in values]


@pytest.fixture
def weekly_sales(sale):
    """weekly_sales(distributor, product, units) -> one sale per week ending with the last complete week."""
    from dms.extensions import db
    from dms.reports import forecast

    def make(distributor, product, units, region=None):
        start = forecast.current_week() - timedelta(weeks=len(units))
        for n, quantity in enumerate(units):
            if quantity:
                day = start + timedelta(weeks=n, days=2)
                sale(distributor, product, quantity, datetime(day.year, day.month, day.day, 11), region=region,
                     commit=False)
        db.session.commit()

    return make


# --- the methods and the backtest -----------------------------------------------------------------

def test_holt_winters_beats_the_seasonal_naive_on_seasonal_data(app):
    from dms.reports import forecast

    history = [float(v) for v in seasonal_units()]
    tests = forecast.backtest(history)
    hw, naive = tests[forecast.HOLT_WINTERS], tests[forecast.SEASONAL_NAIVE]
    assert forecast.holdout_weeks(len(history)) == 8
    assert hw.wape < naive.wape
    assert hw.mape is not None and naive.mape is not None
    assert forecast.choose(tests) == forecast.HOLT_WINTERS
    result = forecast.forecast_series(history, forecast.week_of(datetime(2024, 1, 1).date()),
                                      datetime(2027, 1, 4).date())
    assert result.method == forecast.HOLT_WINTERS
    assert len(result.weeks) == forecast.HORIZON
    assert result.weeks[0][0].isoformat() == "2027-01-04" and result.weeks[1][0].isoformat() == "2027-01-11"
    assert all(units >= 0 for _w, units in result.weeks)


def test_the_chosen_method_is_the_one_with_the_lower_wape(app):
    from dms.reports import forecast

    # Repeats exactly every 52 weeks with no trend: the seasonal naive is perfect, so it must be chosen.
    pattern = [float(10 + (n % 52) % 7 * 3) for n in range(52)]
    tests = forecast.backtest(pattern * 3)
    assert tests[forecast.SEASONAL_NAIVE].wape == D("0.00")
    assert forecast.choose(tests) == forecast.SEASONAL_NAIVE
    for history in ([float(v) for v in seasonal_units(seed=11)], pattern * 3, [1.0, 5.0, 2.0, 8.0] * 6):
        tests = forecast.backtest(history)
        best = min(tests, key=lambda m: (tests[m].error, m != forecast.SEASONAL_NAIVE))
        assert forecast.forecast_series(history, datetime(2026, 1, 5).date(), datetime(2026, 1, 5).date()).method \
            == best


def test_seasonal_naive_repeats_the_same_week_a_season_ago(app):
    from dms.reports import forecast

    two_years = [float(n) for n in range(104)]
    assert forecast.season_length(104) == 52
    assert forecast.seasonal_naive(two_years, 3) == [52.0, 53.0, 54.0]
    assert forecast.season_length(10) == 4
    assert forecast.seasonal_naive([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 6) == [7, 8, 9, 10, 7, 8]
    assert forecast.season_length(3) == 1
    assert forecast.seasonal_naive([4, 6, 9], 2) == [9, 9]


def test_accuracy_mape_over_weeks_with_sales_and_wape_over_the_total(app):
    from dms.reports import forecast

    mape, wape = forecast.accuracy([10, 0, 20, 30], [12, 3, 15, 30])
    # MAPE = (2/10 + 5/20 + 0/30) / 3 = 15 %; WAPE = (2 + 3 + 5 + 0) / 60 = 16.67 %
    assert mape == D("15.00") and wape == D("16.67")
    assert forecast.accuracy([0, 0], [1, 2]) == (None, None)


def test_a_flat_series_forecasts_its_level_without_warnings(app):
    from dms.reports import forecast

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a degenerate fit must not warn
        for level in (5.0, 0.0):
            history = [level] * 30
            result = forecast.forecast_series(history, datetime(2026, 1, 5).date(), datetime(2026, 8, 3).date())
            assert [u for _w, u in result.weeks] == [D(str(level)).quantize(D("0.01"))] * 12
            assert result.method == forecast.SEASONAL_NAIVE  # a tie goes to the baseline
            if level:
                assert result.backtests[forecast.HOLT_WINTERS].wape == D("0.00")
            else:
                assert result.backtests[forecast.HOLT_WINTERS].wape is None  # nothing sold: undefined
        # Nearly flat, intermittent and all-but-zero series fit without raising or warning.
        for history in ([5.0] * 29 + [6.0], [0.0, 0.0, 7.0] * 40, [0.0] * 119 + [1.0], [3.0] * 110 + [0.0] * 10):
            result = forecast.forecast_series(history, datetime(2026, 1, 5).date(), datetime(2026, 8, 3).date())
            assert all(u >= 0 and math.isfinite(u) for _w, u in result.weeks)


def test_a_short_series_has_no_backtest_and_repeats_its_last_week(app):
    from dms.reports import forecast

    result = forecast.forecast_series([3.0, 4.0], datetime(2026, 7, 20).date(), datetime(2026, 8, 3).date())
    assert result.backtests == {} and result.method == forecast.SEASONAL_NAIVE
    assert [u for _w, u in result.weeks] == [D("4.00")] * 12
    five = forecast.forecast_series([1.0, 2.0, 3.0, 4.0, 5.0], datetime(2026, 7, 6).date(),
                                    datetime(2026, 8, 10).date())
    assert five.holdout == 2 and set(five.backtests) == {forecast.HOLT_WINTERS, forecast.SEASONAL_NAIVE}
    assert forecast.holt_winters([7.0], 3) == [7.0, 7.0, 7.0]


# --- the weekly series from the orders ------------------------------------------------------------

def test_weekly_demand_counts_completed_sales_in_monday_weeks_of_the_business_zone(app, make_distributor,
                                                                                   make_product, sale):
    from dms.reports import forecast

    seller = make_distributor("110105")
    product = make_product()
    monday = datetime(2026, 6, 1)  # a Monday
    sale(seller, product, 2, monday - timedelta(minutes=30))  # Sunday 23:30 in Shanghai: the week before
    sale(seller, product, 3, monday + timedelta(minutes=30))  # Monday 00:30 in Shanghai (Sunday in UTC)
    sale(seller, product, 4, monday + timedelta(days=6, hours=23), status="completed", dated="completed")
    sale(seller, product, 50, monday + timedelta(days=1), refunded=True)  # refunded: out
    sale(seller, product, 60, monday + timedelta(days=1), status="refunded", refunded=True)
    sale(seller, product, 70, monday + timedelta(days=1), status="shipped", dated="none")  # not delivered yet
    sale(seller, product, 5, monday + timedelta(days=8), region="310104")  # shipped to Shanghai
    sale(None, product, 6, monday + timedelta(days=9))  # unassigned: overall only
    demand = forecast.weekly_demand(datetime(2026, 5, 18).date(), datetime(2026, 6, 22).date(), [product.id])
    week0, week1, week2 = (datetime(2026, 5, 25).date(), monday.date(), datetime(2026, 6, 8).date())
    assert dict(demand[(product.id, "all", "")]) == {week0: 2, week1: 7, week2: 11}
    assert dict(demand[(product.id, "distributor", str(seller.id))]) == {week0: 2, week1: 7, week2: 5}
    assert dict(demand[(product.id, "region", "110000")]) == {week0: 2, week1: 7}
    assert dict(demand[(product.id, "region", "310000")]) == {week2: 5}
    first, series = forecast.dense(demand[(product.id, "all", "")], datetime(2026, 6, 22).date())
    assert first == week0 and series == [2.0, 7.0, 11.0, 0.0]


def test_weeks_follow_a_zone_with_summer_time(app, make_distributor, make_product, sale):
    from dms.reports import forecast

    original = app.config["DMS_TIMEZONE"]
    app.config["DMS_TIMEZONE"] = "Europe/Berlin"
    try:
        seller, product = make_distributor("110105"), make_product()
        # Berlin moves its clocks on 2026-03-29: UTC+1 before, UTC+2 after.
        for at in (datetime(2026, 3, 23, 0, 30), datetime(2026, 3, 29, 23, 30),  # Monday, Sunday: week of 03-23
                   datetime(2026, 3, 30, 0, 30), datetime(2026, 4, 5, 23, 59),  # Monday, Sunday: week of 03-30
                   datetime(2026, 3, 22, 23, 30)):  # Sunday: week of 03-16
            sale(seller, product, 1, at)
        demand = forecast.weekly_demand(datetime(2026, 3, 9).date(), datetime(2026, 4, 13).date(), [product.id])
        assert {w.isoformat(): n for w, n in demand[(product.id, "all", "")].items()} == {
            "2026-03-16": 1, "2026-03-23": 2, "2026-03-30": 2}
    finally:
        app.config["DMS_TIMEZONE"] = original


# --- the job --------------------------------------------------------------------------------------

def test_refresh_forecasts_stores_the_better_method_and_is_idempotent(app, make_distributor, make_product,
                                                                      weekly_sales):
    from dms.core.schedule import PERIODIC
    from dms.extensions import db
    from dms.reports import forecast
    from dms.reports.models import SalesForecast

    seller = make_distributor("110105")
    seasonal, short = make_product(name="桶装水"), make_product(name="新品")
    weekly_sales(seller, seasonal, seasonal_units())
    weekly_sales(seller, short, [2, 3, 4])
    assert forecast.refresh_forecasts() == 6  # two products x (all, the distributor, its province)
    db.session.commit()
    rows = {(r.product_id, r.scope): r for r in db.session.scalars(select(SalesForecast))}
    overall = rows[(seasonal.id, "all")]
    assert overall.method == forecast.HOLT_WINTERS
    assert overall.wape < overall.baseline_wape and overall.mape is not None and overall.baseline_mape is not None
    assert overall.history_weeks == 156 and len(overall.weeks) == 12
    assert overall.weeks[0]["week"] == forecast.current_week().isoformat()
    assert rows[(seasonal.id, "distributor")].scope_key == str(seller.id)
    assert rows[(seasonal.id, "region")].scope_key == "110000"
    assert rows[(short.id, "all")].method == forecast.SEASONAL_NAIVE and rows[(short.id, "all")].wape is None
    before = {r.id: (r.method, r.weeks, r.wape) for r in db.session.scalars(select(SalesForecast))}
    assert forecast.refresh_forecasts() == 6
    db.session.commit()
    after = {r.id: (r.method, r.weeks, r.wape) for r in db.session.scalars(select(SalesForecast))}
    assert after == before
    job = next(p for p in PERIODIC if p.func == "dms.reports.forecast.refresh_forecasts")
    assert job.cron == "0 4 * * 1" and job.queue == "default"


def test_forecasts_of_series_without_sales_left_are_removed(app, make_distributor, make_product, weekly_sales):
    from dms.extensions import db
    from dms.orders.models import Order
    from dms.reports import forecast
    from dms.reports.models import SalesForecast

    product = make_product()
    weekly_sales(make_distributor("110105"), product, [4, 5, 6, 7])
    forecast.refresh_forecasts()
    db.session.commit()
    for order in db.session.scalars(select(Order)):
        order.status, order.refunded_at = "refunded", order.delivered_at
    db.session.commit()
    forecast.refresh_forecasts()
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(SalesForecast)) == 0


# --- the reorder formula --------------------------------------------------------------------------

def test_reorder_formula_exact_numbers(app):
    from dms.reports import reorder

    figures = reorder.formula(["10.00", "12.00", "30.00"], [8, 12, 8, 12], available=5, incoming=0, lead=2)
    # demand = 10 + 12 = 22; sigma = sqrt(16/3) = 2.3094; safety = 1.65 x 2.3094 x sqrt(2) = 5.3889
    assert figures.demand == D("22.00")
    assert figures.sigma.quantize(D("0.0001")) == D("2.3094")
    assert figures.safety.quantize(D("0.0001")) == D("5.3889")
    assert figures.quantity == 23  # ceil(22 + 5.3889 - 5)
    assert reorder.formula(["10.00", "12.00"], [8, 12, 8, 12], available=5, incoming=3).quantity == 20
    assert reorder.formula(["10.00", "12.00"], [8, 12, 8, 12], available=40).quantity == 0
    exact = reorder.formula(["10.50", "10.50"], [10, 10, 10], available=1)  # sigma 0: ceil(21 - 1) = 20 exactly
    assert exact.safety == 0 and exact.quantity == 20
    assert reorder.formula(["4", "4", "4"], [1], available=0, lead=3).quantity == 12  # one week: sigma 0


def test_lead_time_comes_from_the_setting(app):
    from dms.reports import reorder

    assert reorder.lead_weeks() == 2
    app.config["DMS_REORDER_LEAD_WEEKS"] = 3
    try:
        assert reorder.lead_weeks() == 3
        app.config["DMS_REORDER_LEAD_WEEKS"] = 99
        assert reorder.lead_weeks() == 12
    finally:
        app.config.pop("DMS_REORDER_LEAD_WEEKS")


def test_suggestions_use_the_distributors_forecast_and_its_available_stock(app, make_distributor, make_product,
                                                                           weekly_sales):
    from dms.distributors.models import Warehouse
    from dms.extensions import db
    from dms.inventory import services
    from dms.reports import forecast, reorder
    from dms.reports.models import SalesForecast

    seller = make_distributor("110105")
    product = make_product(name="矿泉水")
    units = [10, 12, 8, 12, 10, 12, 8, 12]
    weekly_sales(seller, product, units)
    forecast.refresh_forecasts()
    warehouse = db.session.scalar(select(Warehouse).where(Warehouse.distributor_id == seller.id))
    services.receive(None, warehouse, [{"product": product, "quantity": 7}])
    db.session.commit()
    row = db.session.scalar(select(SalesForecast).where(SalesForecast.scope == "distributor"))
    demand = D(row.weeks[0]["units"]) + D(row.weeks[1]["units"])
    safety = D("1.65") * reorder.sigma(units) * D(2).sqrt()
    suggestion, = reorder.suggestions(warehouse)
    assert suggestion.product.id == product.id and suggestion.figures.available == 7
    assert suggestion.quantity == max(0, math.ceil(demand + safety - 7))
    assert reorder.suggestions(services.hq_warehouse()) == []


# --- the pages ------------------------------------------------------------------------------------

def test_forecast_page_in_english_shows_both_methods_and_a_chart(app, client, english, login_as, make_distributor,
                                                                 make_product, weekly_sales):
    from dms.extensions import db
    from dms.reports import forecast

    seller = make_distributor("110105")
    product = make_product(name="Spring water", sku="SW-1")
    weekly_sales(seller, product, seasonal_units())
    forecast.refresh_forecasts()
    db.session.commit()
    login_as("admin")
    response = client.get("/reports/forecasts")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in ("Sales forecasts", "Overall", "Method used:", "Holt-Winters", "Seasonal naive", "MAPE", "WAPE",
                 "How the forecasts are made", "Spring water", 'data-method="holt_winters"', "<svg",
                 "Recompute now"):
        assert text in html, text
    assert html.count('data-testid="forecast-week"') == 12
    fragment = client.get(f"/reports/forecasts?product={product.id}", htmx=True).get_data(as_text=True)
    assert 'id="forecasts-list"' in fragment and "<html" not in fragment
    regional = client.get("/reports/forecasts?region=110105").get_data(as_text=True)
    assert 'data-testid="forecast"' in regional  # the province of 110105 is 110000
    assert client.get("/reports/forecasts?region=440000").get_data(as_text=True).count('data-testid="forecast"') == 0
    # the exports: every forecast week of the scope, with the method and both backtests
    import io

    from openpyxl import load_workbook

    csv_text = client.get("/reports/forecasts?format=csv").get_data(as_text=True)
    assert csv_text.count("SW-1") == 12 and "Holt-Winters" in csv_text
    rows = list(load_workbook(io.BytesIO(client.get("/reports/forecasts?format=xlsx").data),
                              read_only=True).active.iter_rows(values_only=True))
    assert rows[0][:4] == ("Product", "SKU", "Week", "Units") and len(rows) == 13
    assert client.get("/reports/forecasts?format=doc").status_code == 400


def test_a_distributor_sees_only_its_own_forecasts(app, client, english, login_distributor, make_distributor,
                                                   make_product, weekly_sales):
    from dms.distributors.models import Warehouse
    from dms.extensions import db
    from dms.reports import forecast

    mine, theirs = make_distributor("110105"), make_distributor("310104")
    own_product, foreign_product = make_product(name="Own water", sku="OWN-1"), make_product(name="Their tea",
                                                                                              sku="TEA-1")
    weekly_sales(mine, own_product, [5, 6, 7, 8, 9, 10])
    weekly_sales(theirs, foreign_product, [5, 6, 7, 8, 9, 10])
    forecast.refresh_forecasts()
    db.session.commit()
    login_distributor(mine)
    for url in ("/reports/forecasts", f"/reports/forecasts?distributor={theirs.id}",
                "/reports/forecasts?region=310000"):
        html = client.get(url).get_data(as_text=True)
        assert "Own water" in html and "Their tea" not in html, url
        assert "Recompute now" not in html
    foreign_warehouse = db.session.scalar(select(Warehouse).where(Warehouse.distributor_id == theirs.id))
    assert client.get(f"/reports/reorder-suggestions?warehouse={foreign_warehouse.id}").status_code == 404
    assert client.get(f"/reports/reorder-suggestions/{foreign_warehouse.id}/fill", htmx=True).status_code == 404
    assert client.post("/reports/forecasts/refresh", {"product": str(own_product.id)}).status_code == 403
    own = client.get("/reports/reorder-suggestions").get_data(as_text=True)
    assert 'data-product="OWN-1"' in own and "TEA-1" not in own


def test_hq_filters_by_distributor_and_recomputes_one_product(app, client, english, login_as, make_distributor,
                                                              make_product, weekly_sales):
    from dms.extensions import db
    from dms.reports.models import SalesForecast

    seller = make_distributor("110105")
    product = make_product(name="Jar water", sku="JW-1")
    weekly_sales(seller, product, [3, 4, 5, 6, 7])
    login_as("admin")
    assert "No forecasts yet" in client.get("/reports/forecasts").get_data(as_text=True)
    response = client.post("/reports/forecasts/refresh", {"product": str(product.id)})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(SalesForecast)) == 3
    html = client.get(f"/reports/forecasts?distributor={seller.id}").get_data(as_text=True)
    assert "Jar water" in html and seller.name in html
    assert client.post("/reports/forecasts/refresh", {"product": "999999"}).status_code == 404
    table = client.get("/reports/reorder-suggestions").get_data(as_text=True)
    assert 'data-product="JW-1"' in table and "Suggestion = max(0" in table


def test_the_replenishment_form_offers_the_suggestions_and_fills_them_in(app, client, english, login_distributor,
                                                                         make_distributor, make_product,
                                                                         weekly_sales):
    from dms.extensions import db
    from dms.reports import forecast

    seller = make_distributor("110105")
    product = make_product(name="Bottled water", sku="BW-1")
    weekly_sales(seller, product, [20, 22, 18, 20, 21, 19, 20, 22])
    forecast.refresh_forecasts()
    db.session.commit()
    login_distributor(seller)
    form = client.get("/inventory/replenishment/new").get_data(as_text=True)
    assert 'data-testid="reorder-offer"' in form and 'data-testid="offer-BW-1"' in form
    assert 'data-testid="fill-suggestions"' in form and "Fill in the suggested quantities" in form
    assert f'id="qty-{product.id}"' in form
    warehouse_id = int(form.split("/reports/reorder-suggestions/")[1].split("/fill")[0])
    filled = client.get(f"/reports/reorder-suggestions/{warehouse_id}/fill", htmx=True).get_data(as_text=True)
    assert f'id="qty-{product.id}"' in filled and 'hx-swap-oob="true"' in filled
    assert 'name="qty-' + str(product.id) + '"' in filled and 'value=""' not in filled


def test_the_replenishment_form_without_forecasts_has_no_offer(app, client, english, login_distributor):
    login_distributor()
    form = client.get("/inventory/replenishment/new")
    assert form.status_code == 200 and 'data-testid="reorder-offer"' not in form.get_data(as_text=True)


def test_the_forecast_report_prints_as_a_pdf(app, make_user, make_distributor, make_product, weekly_sales):
    from dms.core.jobs import commit
    from dms.extensions import db
    from dms.reports import forecast, pdf_jobs, registry
    from dms.reports.forecast_views import build_forecasts

    seller = make_distributor("110105")
    product = make_product(name="Printed water")
    weekly_sales(seller, product, [5, 6, 7, 8, 9, 10, 11, 12])
    forecast.refresh_forecasts()
    db.session.commit()
    admin = make_user("admin")
    figures = build_forecasts(admin, {"distributor": str(seller.id)})
    assert [r["product"].id for r in figures["rows"]] == [product.id] and figures["scope_label"] == seller.name
    assert registry.get("forecasts").build == "dms.reports.forecast_views.build_forecasts"
    report_file = pdf_jobs.request_report(admin, "forecasts", {})
    commit()
    db.session.refresh(report_file)
    assert report_file.pages and report_file.pages >= 1
