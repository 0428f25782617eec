"""Money parsing and rounding, as properties: every accepted amount is the exact half-up fen of what was sent.

Reference model: `strategies.half_up`, ROUND_HALF_UP done with exact fractions. Checked against it: the
order amounts parser (orders.pricing.money), the price parser (catalog.services.parse_money), the rule
rate parser (commissions.rules._decimal, three places) and HQ's commission adjustment (ledger.adjust).
"""

from decimal import Decimal, InvalidOperation

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dms.catalog.services import parse_money
from dms.commissions import ledger, rules
from dms.core.errors import ValidationError
from dms.orders import pricing
from tests.properties.strategies import MAX_AMOUNT, any_places, cents, half_up, rolled_back, spellings

# Text a person or a client might type into an amount field: digits, signs, separators, exponents, junk.
amount_text = st.one_of(
    st.text(alphabet="0123456789.-+eE, _", max_size=14),
    st.text(max_size=12),
    st.sampled_from(["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "1e999999", "-0", "-0.00", "0e-30",
                     "1e-999999", " 12.345 ", "１２.５", "٣.٥", "1_000.005", "9" * 40]),
)


def _parses_as(text) -> Decimal | None:
    """What Python's Decimal makes of the text after trimming, or None when it is not a number at all."""
    try:
        return Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        return None


def _plain_fen(amount: Decimal) -> bool:
    """Two places, not signed: prints as '500.00', never '-0.00' or '5E+2'."""
    return amount.as_tuple().exponent == -2 and not amount.is_signed()


# --- orders.pricing.money: discounts, COD payments, a client's total -------------------------------

@settings(max_examples=150)
@given(value=any_places.flatmap(lambda v: st.tuples(st.just(v), spellings(v))))
def test_order_money_is_the_half_up_fen_of_what_was_sent(value):
    exact, sent = value
    assert pricing.money(sent, "amount") == half_up(exact)
    assert _plain_fen(pricing.money(sent, "amount"))


@settings(max_examples=150)
@given(text=amount_text)
def test_order_money_of_any_text_is_an_error_or_the_half_up_fen(text):
    number = _parses_as(text)
    try:
        amount = pricing.money(text, "amount")
    except ValidationError as error:
        assert set(error.fields) == {"amount"}
        # Refused exactly when it is not a finite number from 0 to the column's maximum.
        assert number is None or not number.is_finite() or number < 0 or number > MAX_AMOUNT
        return
    assert number is not None and number.is_finite() and 0 <= number <= MAX_AMOUNT
    assert amount == half_up(number) and _plain_fen(amount)


@settings(max_examples=60)
@given(value=st.one_of(st.none(), st.booleans(), st.just(""), st.decimals(max_value=Decimal("-0.000001")),
                       st.integers(max_value=-1), st.floats(max_value=-1e-6),
                       st.decimals(min_value=MAX_AMOUNT + Decimal("0.005"), allow_infinity=False)))
def test_order_money_refuses_missing_negative_and_too_large(value):
    with pytest.raises(ValidationError):
        pricing.money(value, "amount")


@settings(max_examples=100)
@given(lines=st.lists(st.tuples(cents(0, 10**7), st.integers(1, 1000), st.integers(0, 100)), min_size=1,
                      max_size=8))
def test_order_totals_add_up_from_half_up_lines(lines):
    priced = []
    for unit_price, quantity, discount_percent in lines:
        gross = half_up(unit_price * quantity)
        discount = half_up(gross * discount_percent / 100)
        priced.append(pricing.PricedLine(None, quantity, unit_price, discount, gross - discount))
    subtotal, discount, total = pricing.totals(priced)
    assert subtotal == sum(half_up(p * q) for p, q, _d in lines)
    assert total == sum(line.amount for line in priced) == subtotal - discount
    assert all(_plain_fen(x) or x == 0 for x in (subtotal, discount, total))


# --- catalog.services.parse_money: prices (no rounding: more than two places is refused) ------------

@settings(max_examples=150)
@given(amount=st.one_of(cents(0, 10**11), any_places))
def test_price_is_taken_exactly_when_it_has_at_most_two_places(amount):
    try:
        parsed = parse_money(str(amount))
    except ValueError:
        assert half_up(amount) != amount or amount > MAX_AMOUNT  # only more places than two (or too large)
        return
    assert parsed == amount and _plain_fen(parsed)
    assert parse_money(str(parsed)) == parsed  # what it prints parses back to itself


@settings(max_examples=150)
@given(text=amount_text)
def test_price_of_any_text_is_an_error_or_a_plain_fen(text):
    try:
        parsed = parse_money(text)
    except ValueError as error:
        assert str(error)  # a message for the form
        return
    number = _parses_as(str(text).replace(",", ""))
    assert parsed == number and 0 <= parsed <= MAX_AMOUNT and _plain_fen(parsed)


# --- commissions.rules: a level's rate, three places half up, 0 to 100 -----------------------------

@settings(max_examples=150)
@given(text=st.one_of(amount_text, st.decimals(min_value=-5, max_value=105, allow_nan=False).map(str)))
def test_rule_rate_is_the_half_up_thousandth_or_an_error(text):
    errors = {}
    rate = rules._decimal(text, "rate", errors, high=Decimal(100), places=rules.RATE)
    number = _parses_as(text)
    if rate is None:
        assert errors["rate"]
        assert (number is None or not number.is_finite() or abs(number) > 1000  # (1e999999 is slow to round)
                or not 0 <= half_up(number, 3) <= 100)
        return
    assert not errors and rate == half_up(number, 3) and rate.as_tuple().exponent == -3


@pytest.fixture
def beneficiary(make_distributor):
    """One distributor for every example of a test (made once, before the examples)."""
    return make_distributor()


# --- commissions.ledger.adjust: HQ's manual adjustment, half up like every amount ---------------------

@settings(max_examples=80)
@given(amount=st.one_of(st.integers(-10**9, 10**9).map(lambda n: Decimal(10 * n + 5).scaleb(-3)),
                        st.decimals(min_value=Decimal("-1000000.01"), max_value=Decimal("1000000.01"), places=4)))
def test_adjustment_is_the_half_up_fen_of_the_amount(beneficiary, amount):
    expected = half_up(amount)
    with rolled_back():
        try:
            entry = ledger.adjust(None, beneficiary.id, str(amount), "property test")
        except ValidationError as error:
            assert set(error.fields) == {"amount"}
            assert expected == 0 or abs(expected) > ledger.MAX_ADJUSTMENT
            return
        assert entry.amount == expected and entry.amount != 0 and abs(entry.amount) <= ledger.MAX_ADJUSTMENT
