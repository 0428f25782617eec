"""The dealer scorecard: the formula on a worked month, weights, idempotent recompute, pages and scoping."""

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from dms.core.models import AuditLog
from dms.core.schedule import PERIODIC
from dms.extensions import db
from dms.reports import scorecard as sc
from dms.reports.models import ScorecardScore, ScorecardWeight

OCT = date(2026, 10, 1)


def order(distributor, total, *, delivered_at, paid_before=timedelta(days=1), status="completed", refunded_at=None):
    """An order written with the ORM in its final state (the state machine is tested elsewhere)."""
    from dms.orders.models import Order

    placed = delivered_at - paid_before - timedelta(hours=1)
    row = Order(distributor_id=distributor.id, status=status, created_at=placed, paid_at=delivered_at - paid_before,
                delivered_at=delivered_at, completed_at=delivered_at + timedelta(days=1) if status == "completed"
                else None, refunded_at=refunded_at, subtotal=D(total), total=D(total), ship_name="客户",
                ship_phone="13800000000")
    db.session.add(row)
    db.session.flush()
    return row


def rate(row, score, at):
    from dms.orders.models import OrderRating

    db.session.add(OrderRating(order_id=row.id, score=score, at=at))


def stock(distributor, product, kind, delta, at):
    from dms.inventory.models import Batch, StockMovement

    batch = db.session.scalar(select(Batch).where(Batch.product_id == product.id))
    if batch is None:
        batch = Batch(product_id=product.id, code="")
        db.session.add(batch)
        db.session.flush()
    db.session.add(StockMovement(at=at, warehouse_id=distributor.warehouse.id, product_id=product.id,
                                 batch_id=batch.id, kind=kind, on_hand_delta=delta))


def visit(customer, status, planned_on):
    from dms.customers.models import Interaction

    db.session.add(Interaction(customer_id=customer.id, distributor_id=customer.distributor_id, kind="visit",
                               status=status, planned_on=planned_on,
                               happened_at=datetime(2026, 10, 20, 4) if status == "done" else None))


@pytest.fixture
def worked(make_distributor, make_product):
    """October 2026 for two distributors (A with every criterion, B with two) and C with nothing.

    A: target 1,000.00, sold 10 x 80.00 = 800.00 (80 %); September 8 x 80.00 = 640.00 (+25 %); one order
    refunded in October (1 / 10 = 10 %); 100 units at the start, 45 issued, 5 returned (40 / 80 = 0.5 turns);
    4 visits planned, 3 done (75 %); ratings 5, 4, 4 (4.33); 8 of 10 deliveries within 2 days (80 %).
    B: 5 x 100.00, no target, no sales in September, no stock, no visits, no ratings; no refund (0 %);
    3 of 5 on time (60 %).
    """
    from dms.customers.models import Customer
    from dms.distributors.models import DistributorTarget

    a, b, c = (make_distributor(name=name) for name in ("甲代理", "乙代理", "丙代理"))
    db.session.add(DistributorTarget(distributor_id=a.id, period="month", period_start=OCT, amount=D("1000.00")))
    db.session.add(DistributorTarget(distributor_id=b.id, period="quarter", period_start=OCT, amount=D("9000.00")))
    october = []
    for n in range(10):
        late = n >= 8
        october.append(order(a, "80.00", delivered_at=datetime(2026, 10, 10, 4) + timedelta(hours=n),
                             paid_before=timedelta(days=4 if late else 1)))
    for n in range(8):
        order(a, "80.00", delivered_at=datetime(2026, 9, 10, 4) + timedelta(hours=n))
    order(a, "80.00", delivered_at=datetime(2026, 9, 20, 4), status="refunded", refunded_at=datetime(2026, 10, 5, 4))
    for score, row in zip((5, 4, 4), october, strict=False):
        rate(row, score, datetime(2026, 10, 15, 4))
    september_order = order(a, "80.00", delivered_at=datetime(2026, 8, 25, 4))
    rate(september_order, 1, datetime(2026, 9, 26, 4))  # September's rating is not October's
    product = make_product()
    stock(a, product, "receipt", 100, datetime(2026, 9, 15, 4))
    stock(a, product, "issue", -45, datetime(2026, 10, 12, 4))
    stock(a, product, "return", 5, datetime(2026, 10, 20, 4))
    stock(a, product, "receipt", 50, datetime(2026, 11, 2, 4))
    customer = Customer(distributor_id=a.id, name="客户甲")
    db.session.add(customer)
    db.session.flush()
    for status in ("done", "done", "done", "cancelled"):
        visit(customer, status, date(2026, 10, 8))
    visit(customer, "done", None)  # logged without a plan: neither planned nor done
    visit(customer, "planned", date(2026, 11, 2))
    for n in range(5):
        order(b, "100.00", delivered_at=datetime(2026, 10, 10, 4), paid_before=timedelta(days=3 if n >= 3 else 1))
    # 17:00 UTC on 31 October is already 1 November in the business time zone: November's sale.
    order(b, "100.00", delivered_at=datetime(2026, 10, 31, 17))
    db.session.commit()
    return a, b, c


def test_the_formula_on_the_worked_month(worked):
    a, b, c = worked
    parts = sc.components(OCT)
    got = {code: (str(p.value), str(p.points)) for code, p in parts[a.id].items()}
    assert got == {
        "target_attainment": ("80.00", "80.00"),
        "sales_growth": ("25.00", "75.00"),
        "return_rate": ("10.00", "50.00"),
        "stock_turnover": ("0.50", "50.00"),
        "visit_compliance": ("75.00", "75.00"),
        "satisfaction": ("4.33", "83.33"),
        "on_time_delivery": ("80.00", "80.00"),
    }
    # Renormalised: B has data for two criteria only (return rate 0 % -> 100, on time 3 / 5 -> 60).
    assert {code: (str(p.value), str(p.points)) for code, p in parts[b.id].items()} == {
        "return_rate": ("0.00", "100.00"), "on_time_delivery": ("60.00", "60.00")}
    assert c.id not in parts

    rows = sc.compute_month("2026-10")
    db.session.commit()
    scores = {s.distributor_id: s for s in rows}
    # A: (25x80 + 15x75 + 15x50 + 10x50 + 10x75 + 15x83.33 + 10x80) / 100 = 7174.95 / 100 = 71.75
    assert scores[a.id].score == D("71.75")
    # B: (15x100 + 10x60) / (15 + 10) = 2100 / 25 = 84.00
    assert scores[b.id].score == D("84.00")
    assert c.id not in scores
    stored = db.session.scalar(select(ScorecardScore).where(ScorecardScore.distributor_id == a.id))
    assert stored.period == "2026-10"
    assert stored.components["stock_turnover"] == {"value": "0.50", "points": "50.00", "issued": 40, "opening": 100,
                                                   "closing": 60, "average": "80"}
    assert stored.components["target_attainment"]["target"] == "1000.00"
    assert stored.weights["target_attainment"] == "25.00" and len(stored.weights) == 7
    assert [s.distributor_id for s in sc.ranking(hq_actor(), "2026-10")] == [b.id, a.id]


def hq_actor():
    """An actor with HQ scope, for the service-level ranking."""

    class HQ:
        distributor_id = None

        def can(self, code):
            return True

    return HQ()


def test_visit_compliance_matches_the_customers_area_rule(worked):
    from dms.customers.interactions import visit_compliance

    a, _b, _c = worked
    own = visit_compliance(a.id, OCT, date(2026, 10, 31))
    assert own == {"planned": 4, "done": 3, "rate": D("0.7500")}
    assert sc.visit_compliance(OCT)[a.id].points == own["rate"] * 100


def test_renormalisation_and_zero_weights():
    part = sc.Component
    weights = {code: D(w) for code, w in zip(sc.CRITERIA, ("25", "15", "15", "10", "10", "15", "10"), strict=True)}
    # Only satisfaction (15) and on-time delivery (10) have data: (15x40 + 10x90) / 25 = 60.00
    assert sc.composite({"satisfaction": part(D("2.6"), D("40.00"), {}),
                         "on_time_delivery": part(D("90"), D("90.00"), {})}, weights) == D("60.00")
    weights["satisfaction"] = D("0")
    assert sc.composite({"satisfaction": part(D("2.6"), D("40.00"), {}),
                         "on_time_delivery": part(D("90"), D("90.00"), {})}, weights) == D("90.00")
    # Data only for criteria weighted 0: no score.
    assert sc.composite({"satisfaction": part(D("2.6"), D("40.00"), {})}, weights) is None


def test_points_are_clipped():
    from dms.reports.scorecard import _clip

    assert _clip(D("-12.5")) == D("0.00") and _clip(D("130")) == D("100.00") and _clip(D("33.335")) == D("33.34")


def test_recompute_is_idempotent_and_drops_stale_scores(worked):
    from dms.orders.models import Order

    a, b, _c = worked
    first = {s.distributor_id: (s.id, s.score, s.components) for s in sc.compute_month("2026-10")}
    db.session.commit()
    again = {s.distributor_id: (s.id, s.score, s.components) for s in sc.compute_month(OCT)}
    db.session.commit()
    assert again == first
    assert db.session.scalar(select(func.count(ScorecardScore.id))) == 2
    # B's sales turn out cancelled: a rerun removes its score rather than keeping a stale one.
    for row in db.session.scalars(select(Order).where(Order.distributor_id == b.id)):
        row.status, row.delivered_at = "cancelled", None
    db.session.commit()
    assert [s.distributor_id for s in sc.compute_month(OCT)] == [a.id]
    db.session.commit()
    assert db.session.scalars(select(ScorecardScore.distributor_id)).all() == [a.id]


def test_new_weights_change_the_next_computation(worked):
    a, _b, _c = worked

    class Admin:
        id = None

        def can(self, code):
            return True

    sc.set_weights(Admin(), {code: "0" for code in sc.CRITERIA} | {"target_attainment": "50", "satisfaction": "50"})
    rows = {s.distributor_id: s for s in sc.compute_month(OCT)}
    # (50x80 + 50x83.33) / 100 = 81.665 -> 81.67; B has data only for criteria now weighted 0: no score
    assert rows[a.id].score == D("81.67") and len(rows) == 1
    assert rows[a.id].weights["satisfaction"] == "50.00"


def test_the_monthly_job_is_registered():
    entry = next(p for p in PERIODIC if p.func == "dms.reports.scorecard.compute_last_month")
    assert entry.cron == "0 3 1 * *" and entry.queue == "reports"
    assert sc.compute_last_month() == 0  # nothing to score: stores nothing, fails nothing


def test_the_report_is_registered_for_printing(worked):
    from dms.reports.registry import get

    definition = get("scorecard")
    assert definition.endpoint == "reports.scorecard" and definition.build == "dms.reports.scorecard.build"
    sc.compute_month(OCT)
    db.session.commit()
    figures = sc.build(hq_actor(), {"period": "2026-10"})
    assert [s.score for s in figures["rows"]] == [D("84.00"), D("71.75")]


# --- pages ---------------------------------------------------------------------------------------------------

def test_ranking_page_shows_the_formula_and_the_points(client, english, login_as, worked):
    a, b, _c = worked
    login_as("admin")
    html = client.get("/reports/scorecard?period=2026-10").get_data(as_text=True)
    assert "No score for this month yet." in html
    response = client.post("/reports/scorecard/recompute", {"period": "2026-10"})
    assert response.status_code == 302 and "period=2026-10" in response.headers["Location"]
    assert db.session.scalar(select(AuditLog).where(AuditLog.action == "scorecard.recompute")) is not None
    page = client.get("/reports/scorecard?period=2026-10")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "How the score is computed" in html and 'data-testid="formula"' in html
    assert "Σ (w<sub>i</sub> × p<sub>i</sub>) ÷ Σ w<sub>i</sub>" in html
    assert "within 2 days of payment" in html
    assert html.index(f'data-testid="score-{b.id}"') < html.index(f'data-testid="score-{a.id}"')
    assert "71.75" in html and "84.00" in html and "83.33" in html
    assert f'href="/reports/scorecard/distributors/{a.id}"' in html and f'href="/distributors/{a.id}"' in html
    fragment = client.get("/reports/scorecard?period=2026-10", htmx=True).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="scorecard-ranking">') and "<html" not in fragment
    bad = client.get("/reports/scorecard?period=2026-13").get_data(as_text=True)
    assert "Enter a month as YYYY-MM" in bad


def test_recompute_refuses_a_bad_or_future_month(client, english, login_as):
    login_as("admin")
    client.get("/reports/scorecard")
    assert client.post("/reports/scorecard/recompute", {"period": "oops"}).status_code == 422
    response = client.post("/reports/scorecard/recompute", {"period": "2999-01"})
    assert response.status_code == 422 and "This month has not begun yet." in response.get_data(as_text=True)


def test_weights_edit_validates_in_place_and_is_audited(client, english, login_as):
    admin = login_as("admin")
    page = client.get("/reports/scorecard/weights")
    assert page.status_code == 200 and 'value="25.00"' in page.get_data(as_text=True)
    good = {code: "10" for code in sc.CRITERIA}
    response = client.post("/reports/scorecard/weights", good | {"sales_growth": "150", "return_rate": "abc",
                                                                  "stock_turnover": "-1", "satisfaction": "1.234"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert html.count("A number from 0 to 100, at most two decimals.") == 4
    assert 'id="sales_growth-errors"' in html and 'value="150"' in html
    response = client.post("/reports/scorecard/weights", {code: "0" for code in sc.CRITERIA})
    assert response.status_code == 422
    assert "Give at least one criterion a weight above 0." in response.get_data(as_text=True)
    assert db.session.get(ScorecardWeight, "sales_growth").weight == D("15.00")  # nothing saved
    response = client.post("/reports/scorecard/weights", good | {"satisfaction": "32.5"})
    assert response.status_code == 302
    assert db.session.get(ScorecardWeight, "satisfaction").weight == D("32.50")
    assert db.session.get(ScorecardWeight, "satisfaction").updated_by_id == admin.id
    entry = db.session.scalar(select(AuditLog).where(AuditLog.action == "scorecard.weights"))
    assert entry.changes["satisfaction"] == ["15.00", "32.50"] and entry.actor_id == admin.id
    htmx = client.post("/reports/scorecard/weights", good | {"return_rate": ""}, htmx=True)
    assert htmx.status_code == 422 and htmx.get_data(as_text=True).lstrip().startswith('<div id="scorecard-weights">')


def test_only_hq_managers_set_weights_or_recompute(client, login_as, login_distributor):
    login_as("reviewer")  # HQ scope, but does not edit distributors
    assert client.get("/reports/scorecard").status_code == 200
    assert client.get("/reports/scorecard/weights").status_code == 403
    assert client.post("/reports/scorecard/recompute", {"period": "2026-10"}).status_code == 403
    client.get("/logout")
    login_distributor()
    assert client.get("/reports/scorecard/weights").status_code == 403
    assert client.post("/reports/scorecard/weights", {code: "10" for code in sc.CRITERIA}).status_code == 403


def test_a_distributor_sees_only_its_own_scores(client, english, login_distributor, worked):
    a, b, _c = worked
    sc.compute_month(OCT)
    db.session.commit()
    login_distributor(a)
    ranking = client.get("/reports/scorecard?period=2026-10").get_data(as_text=True)
    assert f'data-testid="score-{a.id}"' in ranking and f'data-testid="score-{b.id}"' not in ranking
    assert "Recompute a month" not in ranking and "Set weights" not in ranking
    assert client.get(f"/reports/scorecard/distributors/{b.id}").status_code == 404
    assert client.get("/reports/scorecard/distributors/999999").status_code == 404


def test_history_page_and_the_distributor_page_panel(client, english, login_as, login_distributor, worked,
                                                     monkeypatch):
    a, _b, _c = worked
    monkeypatch.setattr(sc, "current_month", lambda: date(2026, 12, 1))
    sc.compute_month(OCT)
    sc.compute_month("2026-09")
    db.session.add(ScorecardScore(distributor_id=a.id, period="2025-10", score=D("12.34"), components={},
                                  weights={}))  # 14 months before December 2026: outside the last 12
    db.session.commit()
    login_distributor(a)
    page = client.get(f"/reports/scorecard/distributors/{a.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Scorecard of 甲代理" in html
    assert 'data-testid="history-2026-10"' in html and 'data-testid="history-2026-09"' in html
    assert html.index("history-2026-10") < html.index("history-2026-09")
    assert "71.75" in html and "history-2025-10" not in html and "12.34" not in html
    detail = client.get(f"/distributors/{a.id}").get_data(as_text=True)
    assert 'id="scorecard"' in detail and "71.75" in detail and "Scorecard history" in detail


def test_the_month_is_computed_with_set_based_queries(worked, make_distributor):
    from sqlalchemy import event

    def count_queries():
        seen = []
        listener = lambda *args: seen.append(1)  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            sc.components(OCT)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        return len(seen)

    before = count_queries()
    for _n in range(4):
        order(make_distributor(), "50.00", delivered_at=datetime(2026, 10, 12, 4))
    db.session.commit()
    assert count_queries() == before <= 10  # the same few queries whatever the number of distributors


def test_the_ranking_exports_to_csv_and_xlsx(client, english, login_as):
    import io

    from openpyxl import load_workbook

    from dms.reports.models import ScorecardScore

    login_as("admin")
    a = _export_distributor()
    db.session.add(ScorecardScore(distributor_id=a.id, period="2026-10", score=D("71.75"),
                                  components={"satisfaction": {"value": "4.50", "points": "87.50"}}, weights={}))
    db.session.commit()
    csv_body = client.get("/reports/scorecard?period=2026-10&format=csv").get_data(as_text=True)
    assert "71.75" in csv_body and "87.50" in csv_body and a.display_name in csv_body
    xlsx = client.get("/reports/scorecard?period=2026-10&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.data), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Rank", "Distributor", "Score") and rows[1][1] == a.display_name
    assert client.get("/reports/scorecard?period=2026-10&format=pdf").status_code == 400


def _export_distributor():
    from dms.distributors.models import Distributor

    d = Distributor(kind="person", name="导出甲", level="county", status="active")
    db.session.add(d)
    db.session.commit()
    return d
