"""Worked examples with exact amounts: levels, overrides, qualification, compression, caps, rule versions."""

from datetime import datetime
from decimal import Decimal as D

from sqlalchemy import select

from dms.commissions import ledger
from dms.commissions.models import CommissionEntry
from dms.extensions import db


def entries(order_id=None, kind=None):
    stmt = select(CommissionEntry).order_by(CommissionEntry.level, CommissionEntry.id)
    if order_id is not None:
        stmt = stmt.where(CommissionEntry.order_id == order_id)
    if kind is not None:
        stmt = stmt.where(CommissionEntry.kind == kind)
    return [(e.beneficiary_id, e.level, e.kind, e.amount) for e in db.session.scalars(stmt)]


def test_three_levels_with_product_category_and_level_overrides(app, chain, completed_order, make_product,
                                                                publish_rules):
    from dms.catalog.models import Category

    seller, city, province = chain(3)
    drinks = Category(name="饮品")
    db.session.add(drinks)
    db.session.commit()
    water, tea, plain = make_product(name="矿泉水"), make_product(name="茶", category_id=drinks.id), make_product()
    publish_rules(rates=("10", "5", "2"), overrides=[
        {"scope": "product", "product_id": water.id, "level": 1, "rate": D("12")},  # level 1 only
        {"scope": "category", "category_id": drinks.id, "level": None, "rate": D("3")},  # every level
        {"scope": "distributor_level", "distributor_level": "province", "level": 3, "rate": D("2.5")},
    ])
    order = completed_order(seller, lines=[(water, 10, "200.00"), (tea, 5, "150.00"), (plain, 3, "33.33")])
    assert ledger.accrue_order(order.id) == 3
    db.session.commit()
    # level 1: 200 x 12 % + 150 x 3 % + 33.33 x 10 % = 24 + 4.5 + 3.333 = 31.833 -> 31.83
    # level 2: 200 x 5 % + 150 x 3 % + 33.33 x 5 % = 10 + 4.5 + 1.6665 = 16.1665 -> 16.17
    # level 3 (a province distributor): 200 x 2.5 % + 150 x 3 % + 33.33 x 2.5 % = 5 + 4.5 + 0.83325 -> 10.33
    assert entries(order.id) == [(seller.id, 1, "accrual", D("31.83")), (city.id, 2, "accrual", D("16.17")),
                                 (province.id, 3, "accrual", D("10.33"))]
    assert ledger.accrue_order(order.id) == 0  # a retried job adds nothing
    db.session.commit()
    assert len(entries(order.id)) == 3


def test_unqualified_upline_is_skipped_not_compressed(app, chain, completed_order, publish_rules):
    seller, city, province = chain(3)
    publish_rules(rates=("10", "5", "2"), minimums=("0", "500", "0"))
    completed_order(province, amount="800.00", completed_at=datetime(2026, 10, 2))  # province qualifies
    order = completed_order(seller, amount="1000.00", completed_at=datetime(2026, 10, 10))
    ledger.accrue_order(order.id)
    db.session.commit()
    # the city has no personal volume in October: level 2 is not paid; the province keeps level 3.
    assert entries(order.id) == [(seller.id, 1, "accrual", D("100.00")), (province.id, 3, "accrual", D("20.00"))]


def test_compression_moves_the_skipped_level_up(app, chain, completed_order, publish_rules):
    seller, city, province = chain(3)
    publish_rules(rates=("10", "5", "2"), minimums=("0", "500", "0"), compression=True)
    completed_order(province, amount="600.00", completed_at=datetime(2026, 10, 2))
    order = completed_order(seller, amount="1000.00", completed_at=datetime(2026, 10, 10))
    ledger.accrue_order(order.id)
    db.session.commit()
    # the city (no volume) is skipped; the province (600 >= 500) earns level 2's rate; none is left for level 3.
    assert entries(order.id) == [(seller.id, 1, "accrual", D("100.00")), (province.id, 2, "accrual", D("50.00"))]


def test_qualification_counts_volume_up_to_the_order(app, chain, completed_order, publish_rules):
    seller, city, _ = chain(3)
    publish_rules(rates=("10", "5"), minimums=("0", "300"))
    first = completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 5))
    completed_order(city, amount="300.00", completed_at=datetime(2026, 10, 6))
    second = completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 7))
    ledger.accrue_order(first.id)
    ledger.accrue_order(second.id)
    db.session.commit()
    assert entries(first.id) == [(seller.id, 1, "accrual", D("10.00"))]
    assert entries(second.id) == [(seller.id, 1, "accrual", D("10.00")), (city.id, 2, "accrual", D("5.00"))]


def test_cap_per_order_pays_levels_in_order(app, chain, completed_order, publish_rules):
    seller, city, province = chain(3)
    publish_rules(rates=("10", "5", "2"), cap_per_order=D("120.00"))
    order = completed_order(seller, amount="1000.00")
    ledger.accrue_order(order.id)
    db.session.commit()
    assert entries(order.id) == [(seller.id, 1, "accrual", D("100.00")), (city.id, 2, "accrual", D("20.00"))]


def test_single_level_mode_pays_the_seller_only(app, chain, completed_order, publish_rules):
    seller, _, _ = chain(3)
    publish_rules(rates=("8",), mode="single", max_levels=1)
    order = completed_order(seller, amount="250.00")
    ledger.accrue_order(order.id)
    db.session.commit()
    assert entries(order.id) == [(seller.id, 1, "accrual", D("20.00"))]


def test_margin_base_uses_the_sellers_distributor_price(app, chain, completed_order, make_product, publish_rules):
    from dms.catalog.models import Price

    seller, city = chain(2)
    product = make_product()
    db.session.add(Price(product_id=product.id, kind="distributor", level="county", amount=D("6.50"),
                         effective_from=datetime(2026, 1, 1)))
    db.session.commit()
    publish_rules(rates=("10", "5"), base="margin")
    order = completed_order(seller, lines=[(product, 10, "100.00")])
    ledger.accrue_order(order.id)
    db.session.commit()
    # margin 100 - 10 x 6.50 = 35.00: 3.50 and 1.75
    assert entries(order.id) == [(seller.id, 1, "accrual", D("3.50")), (city.id, 2, "accrual", D("1.75"))]


def test_a_rule_change_between_two_orders(app, chain, completed_order, publish_rules):
    seller, city = chain(2)
    publish_rules(rates=("10", "5"), effective_from=datetime(2026, 1, 1))
    publish_rules(rates=("6", "3"), effective_from=datetime(2026, 10, 15))
    before = completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 14, 23))
    after = completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 15, 1))
    ledger.accrue_order(after.id)
    ledger.accrue_order(before.id)  # accrued late: still under the version in force at its completion
    db.session.commit()
    assert entries(before.id) == [(seller.id, 1, "accrual", D("10.00")), (city.id, 2, "accrual", D("5.00"))]
    assert entries(after.id) == [(seller.id, 1, "accrual", D("6.00")), (city.id, 2, "accrual", D("3.00"))]


def test_the_tree_as_it_stood_at_completion(app, chain, completed_order, make_distributor, publish_rules):
    from dms.distributors import upline_history

    seller, city = chain(2)
    other = make_distributor("110106", level="county", name="另一上级")
    publish_rules(rates=("10", "5"))
    order = completed_order(seller, amount="100.00", completed_at=datetime(2026, 10, 10))
    upline_history.link_upline(seller, other.id, at=datetime(2026, 10, 20))  # moved after the order
    db.session.commit()
    ledger.accrue_order(order.id)
    db.session.commit()
    assert entries(order.id) == [(seller.id, 1, "accrual", D("10.00")), (city.id, 2, "accrual", D("5.00"))]


def test_refund_claws_back_every_level(app, chain, completed_order, publish_rules):
    seller, city = chain(2)
    publish_rules(rates=("10", "5"))
    order = completed_order(seller, amount="100.00")
    ledger.accrue_order(order.id)
    order.status, order.refunded_at = "refunded", datetime(2026, 10, 12)
    db.session.commit()
    assert ledger.clawback_order(order.id) == 2
    assert ledger.clawback_order(order.id) == 0
    db.session.commit()
    assert entries(order.id, "clawback") == [(seller.id, 1, "clawback", D("-10.00")),
                                             (city.id, 2, "clawback", D("-5.00"))]
    assert sum(amount for *_, amount in entries(order.id)) == 0
