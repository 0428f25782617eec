"""Commission distribution as properties: the ledger pays what a simple model of the rule says, and a refund
takes back exactly what was paid.

The model (below, with exact fractions): the seller and its uplines in order; a beneficiary whose
personal volume this month, up to the sale, is below its level's minimum is skipped (its level lost,
or given to the next one with compression); each line's rate is a product override, else a
distributor-level override, else the level's rate (a level-specific override before an every-level one);
a level earns its lines' base x rate / 100 rounded half up to the fen; levels are paid from the first
until the cap is used up. Each example writes its rule version and orders in a transaction rolled back
afterwards; the chain of distributors and the products are made once per test.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from dms.catalog.models import Price
from dms.commissions import ledger
from dms.commissions.models import CommissionEntry, RuleLevel, RuleOverride, RuleVersion
from dms.extensions import db
from dms.orders.models import Order, OrderLine
from tests.commissions.conftest import chain  # noqa: F401 - the fixture: a seller under a city under a province
from tests.properties.strategies import cents, half_up, rolled_back

SALE_AT = datetime(2026, 10, 15, 4)
# Other orders of the beneficiaries: (completed, refunded) and whether they count towards October's volume.
OTHER_ORDERS = {
    "earlier this month": (datetime(2026, 10, 5, 4), None, True),
    "after the sale": (datetime(2026, 10, 20, 4), None, False),
    "last month": (datetime(2026, 9, 10, 4), None, False),
    "refunded before the sale": (datetime(2026, 10, 3, 4), datetime(2026, 10, 8, 4), False),
}
COSTS = (Decimal("3.20"), Decimal("0.00"), Decimal("12.75"))  # each product's distributor price (every level)
# 0.000 .. 30.000 %, often a round rate: with amounts in fen those give exact half fens, where rounding rules differ.
rates = st.one_of(st.integers(0, 30_000).map(lambda n: Decimal(n).scaleb(-3)),
                  st.sampled_from(["0.5", "1", "2.5", "5", "10", "12.5", "15"]).map(Decimal))


@dataclass
class Rule:
    """A rule version to publish for the example."""

    mode: str
    level_rates: list[Decimal]
    minimums: list[Decimal]
    base: str
    compression: bool
    cap: Decimal | None
    product_overrides: dict[tuple[int, int | None], Decimal]  # (product index, level or None): rate
    level_overrides: dict[tuple[str, int | None], Decimal]  # (distributor level, level or None): rate


@st.composite
def rule_versions(draw) -> Rule:
    """A version of 1 to 4 levels, with minimums, overrides, compression and a cap drawn at random."""
    n = draw(st.integers(1, 4))
    minimum = st.one_of(st.just(Decimal(0)), cents(0, 150_000))
    level_or_all = st.one_of(st.none(), st.integers(1, n))
    return Rule(
        mode=draw(st.sampled_from(["multi", "multi", "single"])),
        level_rates=draw(st.lists(rates, min_size=n, max_size=n)),
        minimums=draw(st.lists(minimum, min_size=n, max_size=n)),
        base=draw(st.sampled_from(["net", "margin"])),
        compression=draw(st.booleans()),
        cap=draw(st.one_of(st.none(), cents(0, 20_000))),
        product_overrides=draw(st.dictionaries(st.tuples(st.integers(0, 2), level_or_all), rates, max_size=3)),
        level_overrides=draw(st.dictionaries(st.tuples(st.sampled_from(["county", "city", "province"]),
                                                       level_or_all), rates, max_size=2)),
    )


sale_lines = st.lists(st.tuples(st.integers(0, 2), st.integers(1, 5), st.one_of(cents(0, 2_000), cents(0, 60_000))),
                      min_size=1, max_size=3,
                      unique_by=lambda line: line[0])
other_orders = st.lists(st.tuples(st.integers(0, 2), st.sampled_from(sorted(OTHER_ORDERS)), cents(1, 100_000)),
                        max_size=4)


@pytest.fixture
def network(chain, make_product):  # noqa: F811 - the imported fixture
    """The seller, its city and province uplines, and three products with distributor prices since 2025."""
    products = [make_product() for _cost in COSTS]
    for product, cost in zip(products, COSTS, strict=True):
        db.session.add_all(Price(product_id=product.id, kind="distributor", level=level, amount=cost,
                                 effective_from=datetime(2025, 1, 1)) for level in ("province", "city", "county"))
    db.session.commit()
    return {"chain": chain(3), "products": products}


def publish(rule: Rule, products) -> RuleVersion:
    """The rule as a published version in force since January (uncommitted)."""
    version = RuleVersion(number=1, status="published", effective_from=datetime(2026, 1, 1),
                          published_at=datetime(2026, 1, 1), mode=rule.mode, max_levels=len(rule.level_rates),
                          base=rule.base, compression=rule.compression, cap_per_order=rule.cap)
    version.levels = [RuleLevel(level=n, rate=rate, min_personal_volume=minimum)
                      for n, (rate, minimum) in enumerate(zip(rule.level_rates, rule.minimums, strict=True), start=1)]
    version.overrides = (
        [RuleOverride(scope="product", product_id=products[p].id, level=level, rate=rate)
         for (p, level), rate in rule.product_overrides.items()]
        + [RuleOverride(scope="distributor_level", distributor_level=dl, level=level, rate=rate)
           for (dl, level), rate in rule.level_overrides.items()])
    db.session.add(version)
    db.session.flush()
    return version


def place(distributor, products, lines, completed_at, refunded_at=None) -> Order:
    """A completed (or refunded) order written directly (uncommitted); lines are (product index, qty, amount)."""
    order = Order(distributor_id=distributor.id, status="refunded" if refunded_at else "completed",
                  created_at=completed_at, completed_at=completed_at, refunded_at=refunded_at, ship_name="客户",
                  ship_phone="13800000000")
    for p, quantity, amount in lines:
        order.lines.append(OrderLine(product_id=products[p].id, quantity=quantity, amount=amount,
                                     unit_price=half_up(amount / quantity)))
    order.subtotal = order.total = sum((amount for _p, _q, amount in lines), Decimal("0.00"))
    db.session.add(order)
    db.session.flush()
    return order


def model_shares(rule: Rule, beneficiaries, volumes: list[Decimal], lines) -> list[tuple[int, int, Decimal]]:
    """[(beneficiary id, level, amount)] the rule pays, worked out independently with fractions."""
    paid_levels = 1 if rule.mode == "single" else len(rule.level_rates)
    seller_level = beneficiaries[0].level
    assert seller_level == "county"
    bases = [Fraction(amount) - (Fraction(COSTS[p]) * quantity if rule.base == "margin" else 0)
             for p, quantity, amount in lines]
    shares, level, left = [], 1, rule.cap  # the cap left (exact: amounts have two places)
    for beneficiary, volume in zip(beneficiaries, volumes, strict=True):
        if level > paid_levels:
            break
        if volume < rule.minimums[level - 1]:
            level += 0 if rule.compression else 1
            continue

        def rate(p, level=level, who=beneficiary):
            for key, table in (((p, level), rule.product_overrides), ((p, None), rule.product_overrides),
                               ((who.level, level), rule.level_overrides), ((who.level, None), rule.level_overrides)):
                if key in table:
                    return Fraction(table[key])
            return Fraction(rule.level_rates[level - 1])

        earned = half_up(sum(base * rate(p) / 100 for base, (p, _q, _a) in zip(bases, lines, strict=True)))
        if earned > 0:
            if left is not None:
                earned = min(earned, left)
                left -= earned
            if earned > 0:
                shares.append((beneficiary.id, level, earned))
        level += 1
    return shares


def volumes_of(beneficiaries, sale_lines, others) -> list[Decimal]:
    """Each beneficiary's personal volume in October up to the sale, by the model."""
    totals = [Decimal(0)] * len(beneficiaries)
    totals[0] += sum(amount for _p, _q, amount in sale_lines)
    for who, kind, amount in others:
        if OTHER_ORDERS[kind][2]:
            totals[who] += amount
    return totals


def ledger_rows(order_id: int, kind: str) -> list[tuple[int, int, Decimal]]:
    """(beneficiary, level, amount) of the order's entries of one kind, by level."""
    stmt = (select(CommissionEntry.beneficiary_id, CommissionEntry.level, CommissionEntry.amount)
            .where(CommissionEntry.order_id == order_id, CommissionEntry.kind == kind)
            .order_by(CommissionEntry.level))
    return [tuple(row) for row in db.session.execute(stmt)]


def net_by_beneficiary(order_id: int) -> dict[int, Decimal]:
    """The sum of every entry of the order, per beneficiary."""
    stmt = (select(CommissionEntry.beneficiary_id, func.sum(CommissionEntry.amount))
            .where(CommissionEntry.order_id == order_id).group_by(CommissionEntry.beneficiary_id))
    return {who: Decimal(str(total)) for who, total in db.session.execute(stmt)}


def write_example(network, rule, lines, others):
    """Publish the rule, place the other orders and the sale; return the sale."""
    beneficiaries, products = network["chain"], network["products"]
    publish(rule, products)
    for who, kind, amount in others:
        completed_at, refunded_at, _counts = OTHER_ORDERS[kind]
        place(beneficiaries[who], products, [(0, 1, amount)], completed_at, refunded_at)
    return place(beneficiaries[0], products, lines, SALE_AT)


# A sale at a loss on one line: level 1 (no rate on the profitable line) comes out negative and earns nothing;
# it must not free cap for level 2, which may be paid at most the cap.
LOSS_AT_LEVEL_1 = Rule("multi", [Decimal(10), Decimal(10)], [Decimal(0)] * 2, "margin", False, Decimal("1.00"),
                       {(0, 1): Decimal(0)}, {})


@settings(max_examples=70)
@given(rule=rule_versions(), lines=sale_lines, others=other_orders)
@example(rule=LOSS_AT_LEVEL_1, lines=[(0, 1, Decimal("100.00")), (2, 5, Decimal("0.00"))], others=[])
def test_accrual_pays_what_the_rule_says(network, rule, lines, others):
    beneficiaries = network["chain"]
    expected = model_shares(rule, beneficiaries, volumes_of(beneficiaries, lines, others), lines)
    with rolled_back():
        sale = write_example(network, rule, lines, others)
        assert ledger.accrue_order(sale.id) == len(expected)
        assert ledger_rows(sale.id, "accrual") == expected
        paid = sum((amount for _b, _l, amount in expected), Decimal(0))
        assert rule.cap is None or paid <= rule.cap
        assert ledger.accrue_order(sale.id) == 0 and ledger_rows(sale.id, "accrual") == expected  # a retry adds nothing


@settings(max_examples=50)
@given(level_rates=st.lists(rates, min_size=1, max_size=3), lines=sale_lines)
def test_levels_share_the_base_by_their_rates(network, level_rates, lines):
    """Without overrides, minimums or cap: level n earns base x rate n / 100, each rounded half up once."""
    rule = Rule("multi", level_rates, [Decimal(0)] * len(level_rates), "net", False, None, {}, {})
    base = sum(amount for _p, _q, amount in lines)
    with rolled_back():
        sale = write_example(network, rule, lines, [])
        ledger.accrue_order(sale.id)
        rows = ledger_rows(sale.id, "accrual")
        paid = [half_up(base * rate / 100) for rate in level_rates]
        payees = zip(network["chain"][:len(paid)], paid, strict=True)
        assert rows == [(who.id, n, amount) for n, (who, amount) in enumerate(payees, start=1) if amount > 0]
        # The sum is the rule's share of the base, off by at most half a fen per level (one rounding each).
        total = sum((amount for _b, _l, amount in rows), Decimal(0))
        assert abs(total - base * sum(level_rates) / 100) <= Decimal("0.005") * len(level_rates)


@settings(max_examples=50)
@given(rule=rule_versions(), lines=sale_lines, others=other_orders, accrue_first=st.booleans(),
       refunded_at=st.sampled_from([datetime(2026, 10, 16, 4), datetime(2026, 11, 2, 4)]))
def test_clawback_of_a_refund_cancels_the_accrual_per_beneficiary(network, rule, lines, others, accrue_first,
                                                                  refunded_at):
    with rolled_back():
        sale = write_example(network, rule, lines, others)
        if accrue_first:
            ledger.accrue_order(sale.id)
        accrued = ledger_rows(sale.id, "accrual")
        sale.status, sale.refunded_at = "refunded", refunded_at
        db.session.flush()
        ledger.clawback_order(sale.id)  # the refund's job may run before the completion's: it accrues first
        accruals, clawbacks = ledger_rows(sale.id, "accrual"), ledger_rows(sale.id, "clawback")
        assert accruals == model_shares(rule, network["chain"], volumes_of(network["chain"], lines, others), lines)
        if accrue_first:
            assert accruals == accrued
        assert [(b, lv, -amount) for b, lv, amount in clawbacks] == accruals
        assert all(total == 0 for total in net_by_beneficiary(sale.id).values())
        assert ledger.clawback_order(sale.id) == 0 and ledger.accrue_order(sale.id) == 0  # retries add nothing
        assert all(total == 0 for total in net_by_beneficiary(sale.id).values())
