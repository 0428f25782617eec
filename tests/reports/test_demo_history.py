"""`flask dms seed-demo` writes a year of completed orders once: weekly and yearly shapes, stock in the ledger
dated with the orders, ratings, and nothing that other demos count (黄丽's orders, the campaign's regions)."""

import time
from collections import Counter
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from dms.core.periods import business_date, current_month
from dms.core.time import business_today
from dms.distributors.models import Distributor
from dms.extensions import db
from dms.inventory import services as inventory
from dms.inventory.models import StockBalance, StockMovement
from dms.orders import services
from dms.orders.models import Order, OrderLine, OrderRating

# Imported once the app exists (below): importing a seeder module first would put it first in DEMO_SEEDERS.
demo = None


def _history():
    return list(db.session.scalars(select(Order).where(Order.note == demo.HISTORY_NOTE).order_by(Order.id)))


def _units_by(orders, sku: str, key) -> Counter:
    counts = Counter()
    for order in orders:
        for line in order.lines:
            if line.product.sku == sku:
                counts[key(order)] += line.quantity
    return counts


@pytest.fixture(autouse=True)
def _demo_module(app):
    global demo
    from dms.reports import demo as module

    demo = module


def test_seed_demo_writes_a_year_of_history_once(app):
    runner = app.test_cli_runner()
    started = time.monotonic()
    first_run = runner.invoke(args=["dms", "seed-demo"])
    seconds = time.monotonic() - started
    assert first_run.exit_code == 0, first_run.output
    db.session.expire_all()
    orders = _history()
    assert 300 <= len(orders) <= 2000
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert seconds < 90  # the whole seed-demo; the history alone takes well under 30 s
    _check_other_demos_untouched(orders)
    _check_timestamps_and_ledger(orders)
    _check_shapes_and_ratings(orders)
    from dms.reports.models import SalesForecast, ScorecardScore

    # the derived figures are there too: forecasts with their backtests, and three months of scores
    forecasts = db.session.scalars(select(SalesForecast)).all()
    assert forecasts and all(f.weeks and f.method in ("holt_winters", "seasonal_naive") for f in forecasts)
    assert len(set(db.session.scalars(select(ScorecardScore.period)))) == 3
    figures = (len(forecasts), db.session.scalar(select(func.count(ScorecardScore.id))))

    lines = db.session.scalar(select(func.count(OrderLine.id)).join(Order).where(Order.note == demo.HISTORY_NOTE))
    counts = (len(orders), lines, db.session.scalar(select(func.count(StockMovement.id))))
    again = runner.invoke(args=["dms", "seed-demo"])
    assert again.exit_code == 0, again.output
    db.session.expire_all()
    lines = db.session.scalar(select(func.count(OrderLine.id)).join(Order).where(Order.note == demo.HISTORY_NOTE))
    assert (len(_history()), lines, db.session.scalar(select(func.count(StockMovement.id)))) == counts
    assert inventory.ledger_differences() == [] and services.stock_differences() == []
    assert (db.session.scalar(select(func.count(SalesForecast.id))),
            db.session.scalar(select(func.count(ScorecardScore.id)))) == figures
    check = runner.invoke(args=["dms", "check"])
    assert check.exit_code == 0, check.output


def _check_other_demos_untouched(orders):
    """Not 黄丽's, not shipped to the campaign's regions; each agent's own warehouse and customers."""
    nanhai = db.session.scalar(select(Distributor).where(Distributor.region_code == "440605"))
    assert all(o.distributor_id != nanhai.id for o in orders)
    assert not {o.ship_region_code for o in orders} & {"440605", "440106"}
    assert {o.distributor.region_code for o in orders} == {s[0] for s in demo.SELLERS}
    assert all(o.warehouse_id == o.distributor.warehouse.id and o.customer.distributor_id == o.distributor_id
               for o in orders)


def _check_timestamps_and_ledger(orders):
    """The flow's timestamps in order, all before this month; reserved when placed, issued when shipped."""
    first, last = demo.window()
    assert (first, last) == (current_month() - timedelta(days=7 * 52), current_month() - timedelta(days=1))
    for o in orders:
        assert o.status == "completed" and o.total == sum(line.amount for line in o.lines)
        assert o.created_at < o.paid_at < o.assigned_at < o.shipped_at < o.delivered_at < o.completed_at
        assert first <= business_date(o.delivered_at) and business_date(o.completed_at) <= last
        assert [e.to_status for e in o.events if e.kind == "transition"] == [
            "paid", "assigned", "shipped", "delivered", "completed"]
        assert o.payments[0].amount == o.total and o.payments[0].at == o.paid_at
        assert o.customer.created_at <= o.created_at
    by_order = {str(o.id): o for o in orders}
    movements = db.session.scalars(select(StockMovement).where(StockMovement.source_type == services.STOCK_SOURCE,
                                                               StockMovement.source_id.in_(list(by_order)))).all()
    assert {m.kind for m in movements} == {"reserve", "issue"} and {m.source_id for m in movements} == set(by_order)
    for m in movements:
        order = by_order[m.source_id]
        assert m.at == (order.created_at if m.kind == "reserve" else order.shipped_at)
    receipts = db.session.scalars(select(StockMovement).where(StockMovement.source_type == demo.STOCK_RECEIPTS)).all()
    assert receipts and min(r.at for r in receipts) < min(o.created_at for o in orders)
    # No lot is expired today, and the agents are left with some stock, far less than they received.
    assert all(r.batch.expiry_date is None or r.batch.expiry_date > business_today() for r in receipts)
    warehouses = {o.warehouse_id for o in orders}
    left = db.session.scalar(select(func.sum(StockBalance.on_hand)).where(StockBalance.warehouse_id.in_(warehouses)))
    assert 0 < left < sum(r.on_hand_delta for r in receipts) / 5


def _check_shapes_and_ratings(orders):
    """Weekends peak; bottled water in summer, flour and oil in winter; ratings mostly 4-5."""
    by_weekday = Counter(business_date(o.delivered_at).weekday() for o in orders)
    assert (by_weekday[5] + by_weekday[6]) / 2 > 1.3 * sum(by_weekday[d] for d in range(5)) / 5

    def season(order):
        month = business_date(order.delivered_at).month
        return "summer" if month in (6, 7, 8) else "winter" if month in (12, 1, 2) else "other"

    water = _units_by(orders, "W-550", season)
    assert water["summer"] > 2 * water["winter"]
    flour, oil = _units_by(orders, "F-5KG", season), _units_by(orders, "O-5L", season)
    assert flour["winter"] + oil["winter"] > 1.6 * (flour["summer"] + oil["summer"])
    ratings = db.session.scalars(select(OrderRating).join(Order).where(Order.note == demo.HISTORY_NOTE)).all()
    assert len(ratings) > len(orders) / 5
    scores = Counter(r.score for r in ratings)
    assert set(scores) <= {1, 2, 3, 4, 5} and (scores[4] + scores[5]) > 0.7 * len(ratings)
    assert all(r.order.delivered_at <= r.at <= r.order.completed_at for r in ratings)


def test_the_plan_is_deterministic():
    first, last = date(2025, 1, 6), date(2025, 12, 28)

    def sellers():
        customers = [(SimpleNamespace(id=k), first - timedelta(days=10)) for k in range(3)]
        return [{"key": "X", "rate": 0.8, "bias": 0.0, "customers": customers}]

    def signature(plans):
        return [(p["customer"].id, p["lines"], p["created"], p["delivered"], p["seed"]) for p in plans]

    import random

    one = demo._plan(random.Random(demo.SEED), sellers(), first, last)
    two = demo._plan(random.Random(demo.SEED), sellers(), first, last)
    assert one and signature(one) == signature(two)
