"""Shared pieces of the property tests: independent reference models, strategies, a rolled-back example."""

import math
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction

from hypothesis import strategies as st

MAX_AMOUNT = Decimal("999999999999.99")


def half_up(value, places: int = 2) -> Decimal:
    """`value` rounded half away from zero to `places` decimals, with exact fractions (no Decimal context)."""
    scaled = Fraction(value) * 10 ** places
    units = math.floor(abs(scaled) + Fraction(1, 2))
    return Decimal(-units if scaled < 0 else units).scaleb(-places)


def cents(low: int = 0, high: int = 10**8) -> st.SearchStrategy[Decimal]:
    """Amounts with exactly two places, as the ledger and the price list hold them."""
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-2))


# Amounts with any number of places, weighted towards exact halves of a fen (x.xx5), where rounding rules differ.
any_places = st.one_of(
    st.decimals(min_value=0, max_value=MAX_AMOUNT, allow_nan=False, allow_infinity=False),
    st.integers(0, 10**9).map(lambda n: Decimal(10 * n + 5).scaleb(-3)),
    st.integers(0, 10**6).map(lambda n: Decimal(n).scaleb(-4)),
)


def spellings(value: Decimal) -> st.SearchStrategy:
    """Ways a client may send `value`: a Decimal, its text (padded), its exponent form, an int when whole."""
    forms = [st.just(value), st.just(str(value)), st.just(f"  {value}\t"), st.just(f"{value:E}")]
    if value == value.to_integral_value():
        forms.append(st.just(int(value)))
    return st.one_of(forms)


@contextmanager
def rolled_back():
    """Run one example in a transaction that is rolled back afterwards: examples never see each other's rows.

    The per-test database reset runs once per test, not per example; so the fixtures' rows (committed
    before the examples) stay and everything an example writes goes. Nothing inside may commit.
    """
    from dms.extensions import db

    db.session.rollback()
    try:
        yield db.session
    finally:
        db.session.rollback()
