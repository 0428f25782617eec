"""Dashboards: every figure on a worked dataset with exact numbers, scoping, links, and a fixed query count.

The business day is Wednesday 2026-10-14 in Asia/Shanghai (UTC+8): the day runs from 2026-10-13 16:00
UTC, the week from Monday 2026-10-12 (2026-10-11 16:00 UTC), the month from 2026-09-30 16:00 UTC.
"""

import itertools
import re
from datetime import date, datetime
from decimal import Decimal

import pytest

from tests.sql_recorder import recorded_statements

D = Decimal
TODAY = date(2026, 10, 14)
_n = itertools.count(1)


def utc(*args) -> datetime:
    return datetime(*args)


@pytest.fixture
def fixed_today(monkeypatch):
    """The dashboards count the worked dataset's day, whatever the clock says."""
    monkeypatch.setattr("dms.reports.dashboards.business_today", lambda: TODAY)
    return TODAY


@pytest.fixture
def add_order(app, make_product):
    """add_order(distributor, status, total, created_at, **timestamps) -> Order, written with the ORM."""
    from dms.extensions import db
    from dms.orders.models import Order, OrderLine

    product = {}

    def make(distributor, status, total="10.00", created_at=utc(2026, 10, 1, 4), **fields):
        if "p" not in product:
            product["p"] = make_product()
        order = Order(distributor_id=distributor.id if distributor else None, status=status, created_at=created_at,
                      ship_name="客户", ship_phone="13800000000", subtotal=D(total), total=D(total), **fields)
        order.lines.append(OrderLine(product_id=product["p"].id, quantity=1, unit_price=D(total), amount=D(total)))
        db.session.add(order)
        db.session.commit()
        return order

    return make


@pytest.fixture
def extras(app, make_product):
    """Rows written with the ORM: customers, targets, alerts, commission entries, follow-ups, applications."""
    from dms.commissions.models import CommissionEntry
    from dms.customers.models import Customer, Interaction
    from dms.distributors.models import Application, DistributorTarget
    from dms.extensions import db
    from dms.inventory.models import StockAlert

    class Extras:
        def customer(self, distributor, created_at):
            row = Customer(distributor_id=distributor.id if distributor else None, name=f"客户{next(_n)}",
                           phone=f"139{next(_n):08d}", created_at=created_at)
            db.session.add(row)
            db.session.commit()
            return row

        def target(self, distributor, amount, period_start=date(2026, 10, 1), period="month"):
            db.session.add(DistributorTarget(distributor_id=distributor.id, period=period, period_start=period_start,
                                             amount=D(amount)))
            db.session.commit()

        def alert(self, warehouse_id, kind, status="open"):
            db.session.add(StockAlert(warehouse_id=warehouse_id, product_id=make_product().id, kind=kind,
                                      day=TODAY, status=status, quantity=1))
            db.session.commit()

        def entry(self, distributor, amount, status):
            db.session.add(CommissionEntry(beneficiary_id=distributor.id, kind="adjustment", amount=D(amount),
                                           period="2026-10", status=status, available_on=TODAY, reason="test"))
            db.session.commit()

        def follow_up(self, customer, user, on, done=False, status="done"):
            db.session.add(Interaction(customer_id=customer.id, distributor_id=customer.distributor_id,
                                       user_id=user.id, kind="call", status=status, happened_at=utc(2026, 10, 1),
                                       follow_up_on=on, follow_up_done_at=utc(2026, 10, 13) if done else None))
            db.session.commit()

        def application(self, state):
            db.session.add(Application(applicant_type="person", name=f"申请人{next(_n)}", phone="13700000000",
                                       region_code="110105", level="county", state=state,
                                       status_token_hash=f"{next(_n):064d}"))
            db.session.commit()

    return Extras()


@pytest.fixture
def world(app, make_distributor, make_user, add_order, extras, grant, hq_warehouse):
    """The worked dataset: distributors A and B with orders, customers, stock alerts, commissions, follow-ups."""
    a = make_distributor("110105", name="甲代理")
    b = make_distributor("120101", name="乙代理")
    c = make_distributor("460100", name="丙代理")  # active, sells nothing: the bottom of the month
    d = make_distributor("110106", name="丁代理")
    d.status = "suspended"  # not ranked
    user_a, user_b = make_user("distributor", distributor_id=a.id), make_user("distributor", distributor_id=b.id)
    admin = make_user("admin")

    # A's orders.
    add_order(a, "paid", "20.00", utc(2026, 10, 14, 2))  # today (10:00), waiting for dispatch
    add_order(a, "pending", "15.00", utc(2026, 10, 13, 15))  # 23:00 yesterday: not today
    add_order(a, "cancelled", "5.00", utc(2026, 10, 13, 16, 30))  # 00:30 today: today, any status
    add_order(a, "delivered", "100.00", utc(2026, 10, 10), delivered_at=utc(2026, 10, 12, 1))  # Monday: this week
    add_order(a, "completed", "50.00", utc(2026, 10, 10), delivered_at=utc(2026, 10, 11, 17),  # Monday 01:00
              completed_at=utc(2026, 10, 13))
    add_order(a, "completed", "70.00", utc(2026, 10, 9), delivered_at=utc(2026, 10, 11, 15),  # Sunday 23:00
              completed_at=utc(2026, 10, 11, 15))
    add_order(a, "refunded", "999.00", utc(2026, 10, 12), delivered_at=utc(2026, 10, 13),
              completed_at=utc(2026, 10, 13), refunded_at=utc(2026, 10, 13, 10))  # never a sale
    add_order(a, "completed", "30.00", utc(2026, 9, 20), delivered_at=utc(2026, 9, 30, 15),  # 30 Sep 23:00
              completed_at=utc(2026, 9, 30, 15))
    # B's orders, and one no territory covers.
    add_order(b, "paid", "10.00", utc(2026, 10, 14, 3))
    add_order(b, "completed", "300.00", utc(2026, 10, 12), delivered_at=utc(2026, 10, 13),
              completed_at=utc(2026, 10, 13))
    add_order(None, "pending", "8.00", utc(2026, 10, 14, 4))
    add_order(d, "completed", "500.00", utc(2026, 10, 12), delivered_at=utc(2026, 10, 13),
              completed_at=utc(2026, 10, 13))

    ca1 = extras.customer(a, utc(2026, 10, 5))
    extras.customer(a, utc(2026, 9, 30, 16, 30))  # 1 Oct 00:30: this month
    extras.customer(a, utc(2026, 9, 30, 15))  # 30 Sep 23:00: last month
    cb = extras.customer(b, utc(2026, 10, 2))

    extras.target(a, "400.00")
    extras.target(b, "200.00")
    extras.target(a, "9000.00", period_start=date(2026, 9, 1))  # last month's: not this one

    extras.alert(a.warehouse.id, "low_stock")
    extras.alert(a.warehouse.id, "low_stock")
    extras.alert(a.warehouse.id, "near_expiry")
    extras.alert(a.warehouse.id, "low_stock", status="closed")
    extras.alert(b.warehouse.id, "near_expiry")
    extras.alert(hq_warehouse.id, "low_stock")

    extras.entry(a, "12.50", "payable")
    extras.entry(a, "7.50", "payable")
    extras.entry(a, "5.00", "accrued")
    extras.entry(a, "100.00", "paid")
    extras.entry(b, "3.00", "payable")

    extras.follow_up(ca1, user_a, TODAY)  # due today
    extras.follow_up(ca1, user_a, date(2026, 10, 10))  # overdue
    extras.follow_up(ca1, user_a, date(2026, 10, 15))  # tomorrow: not due
    extras.follow_up(ca1, user_a, date(2026, 10, 9), done=True)  # done
    extras.follow_up(cb, user_b, date(2026, 10, 1))

    extras.application("submitted")
    extras.application("under_review")
    extras.application("approved")

    grant(a, "110105")  # one county
    grant(b, "120100")  # a city: its 16 counties
    grant(c, "460000")  # a province: its 26 counties
    grant(d, "110106", end=date(2026, 6, 30))  # ended: covers nothing today
    return {"a": a, "b": b, "c": c, "d": d, "user_a": user_a, "user_b": user_b, "admin": admin}


# --- the figures ----------------------------------------------------------------------------------

def test_distributor_figures_on_the_worked_dataset(world):
    from dms.reports.dashboards import dashboard

    f = dashboard(world["user_a"], TODAY)
    assert not f.hq and f.distributor.id == world["a"].id
    assert f.todays_orders == 2
    assert f.week_sales == D("150.00")  # 100 delivered Monday + 50 delivered Monday 01:00; not Sunday's, not refunded
    assert f.awaiting_dispatch == 1
    assert f.new_customers == 2
    assert (f.low_stock, f.near_expiry) == (2, 1)
    assert f.month_volume == D("120.00")  # completed in October: 50 + 70
    assert f.month_target == D("400.00")
    assert f.attainment == D("30.0")
    assert f.commission_payable == D("20.00")
    assert f.follow_ups_due == 2 and f.follow_ups_who == "team"
    # Headquarters' figures are not a distributor's.
    assert f.top == [] and f.counties is None and f.open_applications is None and f.unassigned_orders is None


def test_each_distributor_sees_only_its_own_figures(world):
    from dms.reports.dashboards import dashboard

    f = dashboard(world["user_b"], TODAY)
    assert (f.todays_orders, f.week_sales, f.awaiting_dispatch, f.new_customers) == (1, D("300.00"), 1, 1)
    assert (f.low_stock, f.near_expiry, f.commission_payable, f.follow_ups_due) == (0, 1, D("3.00"), 1)
    assert (f.month_volume, f.month_target, f.attainment) == (D("300.00"), D("200.00"), D("150.0"))


def test_network_figures_on_the_worked_dataset(world):
    from dms.reports.dashboards import dashboard

    f = dashboard(world["admin"], TODAY)
    assert f.hq and f.distributor is None
    assert f.todays_orders == 4  # A's two, B's one, the unassigned one
    assert f.week_sales == D("950.00")  # A 150 + B 300 + the suspended D's 500
    assert f.awaiting_dispatch == 2
    assert f.new_customers == 3
    assert (f.low_stock, f.near_expiry, f.open_alerts) == (3, 2, 5)
    assert (f.month_target, f.month_volume, f.attainment) == (D("600.00"), D("420.00"), D("70.0"))
    assert (f.targeted, f.on_target) == (2, 1)
    assert f.commission_payable == D("23.00")
    assert f.follow_ups_due == 3
    assert [(r.name, r.sales) for r in f.top] == [("乙代理", D("300.00")), ("甲代理", D("220.00")),
                                                  ("丙代理", D("0.00"))]
    assert f.bottom == []  # three active distributors: all in the top five
    assert (f.counties_covered, f.counties, f.coverage) == (43, 2975, D("1.4"))
    assert f.open_applications == 2
    assert f.unassigned_orders == 1


def test_top_and_bottom_do_not_overlap(world):
    from dms.reports.dashboards import Periods, ranking

    top, bottom = ranking(Periods(TODAY), limit=1)
    assert [r.name for r in top] == ["乙代理"]
    assert [(r.name, r.sales) for r in bottom] == [("丙代理", D("0.00"))]


def test_no_dashboard_without_a_distributor_or_permission(world, make_user):
    from dms.reports.dashboards import dashboard

    assert dashboard(make_user("courier"), TODAY) is None
    assert dashboard(make_user("distributor"), TODAY) is None  # a distributor role but no distributor


def test_no_target_means_no_attainment(world, make_distributor, make_user):
    from dms.reports.dashboards import dashboard

    lone = make_distributor("110108")
    f = dashboard(make_user("distributor", distributor_id=lone.id), TODAY)
    assert f.month_target is None and f.attainment is None and f.month_volume == D("0.00")
    assert (f.todays_orders, f.week_sales, f.commission_payable) == (0, D("0.00"), D("0.00"))


# --- a fixed number of queries --------------------------------------------------------------------

def _queries(fn) -> int:
    fn()  # warm: the user's roles and permissions are loaded once per request, not per figure
    with recorded_statements() as seen:
        fn()
    return len(seen)


def _more_data(world, add_order, extras, make_distributor, make_user):
    """Ten times more of everything, and more distributors."""
    for _ in range(10):
        for who in (world["a"], world["b"]):
            add_order(who, "paid", "1.00", utc(2026, 10, 14, 5))
            add_order(who, "completed", "2.00", utc(2026, 10, 12), delivered_at=utc(2026, 10, 13),
                      completed_at=utc(2026, 10, 13))
            customer = extras.customer(who, utc(2026, 10, 6))
            extras.alert(who.warehouse.id, "low_stock")
            extras.entry(who, "1.00", "payable")
            extras.follow_up(customer, world["user_a"], date(2026, 10, 11))
        extra = make_distributor("110108")
        extras.target(extra, "10.00")
        add_order(extra, "completed", "4.00", utc(2026, 10, 12), delivered_at=utc(2026, 10, 13),
                  completed_at=utc(2026, 10, 13))
        extras.application("submitted")


@pytest.mark.parametrize("who", ["user_a", "admin"])
def test_query_count_does_not_grow_with_data(world, who, add_order, extras, make_distributor, make_user):
    from dms.extensions import db
    from dms.reports.dashboards import dashboard

    user_id = world[who].id

    def run():
        from dms.accounts.models import User

        return dashboard(db.session.get(User, user_id), TODAY)

    before = _queries(run)
    _more_data(world, add_order, extras, make_distributor, make_user)
    db.session.expire_all()
    after = _queries(run)
    assert after == before
    assert before == (9 if who == "user_a" else 13)  # one query per figure (HQ: targets 2)
    assert run().todays_orders == (12 if who == "user_a" else 24)  # the new rows were counted


# --- the pages ------------------------------------------------------------------------------------

def _tile(body: str, key: str) -> str:
    found = re.search(rf'data-testid="value-{key}">([^<]*)<', body)
    assert found, f"no tile {key}"
    return found.group(1)


def _link(body: str, key: str) -> str:
    found = re.search(rf'<a href="([^"]+)" data-testid="link-{key}">', body)
    assert found, f"no link on tile {key}"
    return found.group(1).replace("&amp;", "&")


def test_distributor_dashboard_page(world, client, login_as, english, fixed_today):
    login_as(world["user_a"])
    response = client.get("/dashboard")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Dashboard · 甲代理" in body and "Today&#39;s orders" in body
    assert _tile(body, "todays_orders") == "2"
    assert _tile(body, "week_sales") == "CN¥150.00"
    assert _tile(body, "awaiting_dispatch") == "1"
    assert _tile(body, "new_customers") == "2"
    assert (_tile(body, "low_stock"), _tile(body, "near_expiry")) == ("2", "1")
    assert _tile(body, "target") == "30%"
    assert _tile(body, "commission_payable") == "CN¥20.00"
    assert _tile(body, "follow_ups_due") == "2"
    assert "乙代理" not in body and 'data-testid="tile-coverage"' not in body
    assert _link(body, "todays_orders") == "/orders?date_from=2026-10-14&date_to=2026-10-14"
    assert _link(body, "week_sales") == "/orders?date_from=2026-10-12&date_to=2026-10-14"
    assert _link(body, "awaiting_dispatch") == "/dispatch"
    assert _link(body, "low_stock") == "/inventory/alerts?status=open&kind=low_stock"
    assert _link(body, "near_expiry") == "/inventory/alerts?status=open&kind=near_expiry"
    assert _link(body, "commission_payable") == "/commissions/entries?status=payable"
    assert _link(body, "follow_ups_due") == "/follow-ups?who=team"
    assert _link(body, "target") == f"/distributors/{world['a'].id}#targets"
    assert "How these figures are counted" in body
    # Every link opens a page the user may see.
    for key in ("todays_orders", "week_sales", "awaiting_dispatch", "new_customers", "low_stock", "near_expiry",
                "commission_payable", "follow_ups_due", "target"):
        assert client.get(_link(body, key).split("#")[0]).status_code == 200, key


def test_network_dashboard_page(world, client, login_as, english, fixed_today):
    login_as(world["admin"])
    body = client.get("/dashboard").get_data(as_text=True)
    assert "Network dashboard" in body
    assert _tile(body, "todays_orders") == "4"
    assert _tile(body, "week_sales") == "CN¥950.00"
    assert _tile(body, "target") == "70%"
    assert "1 of 2 distributors on target" in body
    assert _tile(body, "coverage") == "1.4%"
    assert "43 of 2,975 counties covered" in body
    assert (_tile(body, "open_applications"), _tile(body, "open_alerts"), _tile(body, "unassigned_orders")) == \
        ("2", "5", "1")
    assert _link(body, "awaiting_dispatch") == "/orders?status=paid"
    assert _link(body, "unassigned_orders") == "/orders?distributor=unassigned"
    assert _link(body, "coverage") == "/territories/gaps?level=county"
    assert _link(body, "open_applications") == "/applications"
    top = body[body.index('data-testid="rank-top"'):]
    assert top.index("乙代理") < top.index("甲代理") < top.index("丙代理") and "丁代理" not in top
    assert f'href="/distributors/{world["b"].id}"' in top
    for key in ("todays_orders", "awaiting_dispatch", "coverage", "open_applications", "open_alerts",
                "unassigned_orders", "target", "commission_payable", "new_customers"):
        assert client.get(_link(body, key)).status_code == 200, key


def test_page_query_count_does_not_grow_with_data(world, client, login_as, fixed_today, add_order, extras,
                                                  make_distributor, make_user):
    from dms.extensions import db

    login_as(world["admin"])
    before = _queries(lambda: client.get("/dashboard"))
    _more_data(world, add_order, extras, make_distributor, make_user)
    db.session.expire_all()
    assert _queries(lambda: client.get("/dashboard")) == before


def test_dashboard_fragment_for_htmx(world, client, login_as, english, fixed_today):
    login_as(world["user_a"])
    response = client.get("/dashboard", htmx=True)
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="dashboard"') and "<html" not in body
    assert "HX-Request" in response.headers.get("Vary", "")


def test_home_shows_the_dashboard_panel(world, client, login_as, english, fixed_today):
    login_as(world["user_a"])
    body = client.get("/").get_data(as_text=True)
    assert 'data-testid="home-dashboard"' in body
    assert body.index('data-testid="home-dashboard"') < body.index('<div class="cards">')  # above the areas
    assert _tile(body, "todays_orders") == "2" and _tile(body, "commission_payable") == "CN¥20.00"
    assert 'href="/dashboard"' in body


def test_home_without_a_dashboard(world, client, login_as, make_user):
    login_as(make_user("courier"))
    body = client.get("/").get_data(as_text=True)
    assert 'data-testid="home-dashboard"' not in body


def test_dashboard_needs_reports_view(world, client, login_as, make_user):
    login_as(make_user("courier"))
    assert client.get("/dashboard").status_code == 403


def test_chinese_is_the_default(world, client, login_as, fixed_today):
    login_as(world["user_a"])
    assert client.get("/dashboard").status_code == 200
