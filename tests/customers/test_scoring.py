"""The RFM formula and tiers (pure rules): the bands' edges and a worked example with exact figures."""

from datetime import date
from decimal import Decimal
from types import SimpleNamespace

import pytest

from dms.customers import scoring

RULES = [SimpleNamespace(code="A", min_score=12), SimpleNamespace(code="B", min_score=8),
         SimpleNamespace(code="C", min_score=0)]


@pytest.mark.parametrize(("days", "points"), [(0, 5), (7, 5), (8, 4), (30, 4), (31, 3), (90, 3), (91, 2),
                                              (180, 2), (181, 1), (364, 1)])
def test_recency_bands(days, points):
    assert scoring.recency_points(days) == points


@pytest.mark.parametrize(("orders", "points"), [(0, None), (1, 1), (2, 2), (3, 3), (5, 3), (6, 4), (11, 4), (12, 5),
                                                (40, 5)])
def test_frequency_bands(orders, points):
    assert scoring.frequency_points(orders) == points


@pytest.mark.parametrize(("spend", "points"), [("0", 1), ("199.99", 1), ("200", 2), ("799.99", 2), ("800", 3),
                                               ("1999.99", 3), ("2000", 4), ("4999.99", 4), ("5000", 5)])
def test_monetary_bands(spend, points):
    assert scoring.monetary_points(Decimal(spend)) == points


def test_worked_example():
    """Orders 3, 40, 100 and 200 days before 30 June 2026 for 1500 + 1200 + 300 + 100 = 3100 yuan:
    R 5 (3 days), F 3 (4 orders), M 4 (3100 >= 2000), score 12 -> tier A (A from 12)."""
    today = date(2026, 6, 30)
    rfm = scoring.score(date(2026, 6, 27), 4, Decimal("3100.00"), today, RULES)
    assert rfm == scoring.Rfm(recency=5, frequency=3, monetary=4, score=12, tier="A")
    # One order 35 days ago for 150 yuan: R 3, F 1, M 1 -> 5 -> C.
    assert scoring.score(date(2026, 5, 26), 1, Decimal("150"), today, RULES) == scoring.Rfm(3, 1, 1, 5, "C")
    # Eleven points is one short of A.
    assert scoring.score(date(2026, 6, 20), 6, Decimal("900"), today, RULES).tier == "B"  # 4 + 4 + 3 = 11


def test_no_order_in_the_window_is_not_scored():
    assert scoring.score(date(2025, 1, 1), 0, Decimal("0"), date(2026, 6, 30), RULES) == scoring.Rfm()
    assert scoring.score(None, 0, Decimal("0"), date(2026, 6, 30), RULES).tier is None


def test_the_tier_is_the_highest_rule_reached():
    assert scoring.tier_for(15, RULES) == "A"
    assert scoring.tier_for(8, RULES) == "B"
    assert scoring.tier_for(7, RULES) == "C"
    assert scoring.tier_for(3, [SimpleNamespace(code="VIP", min_score=14)]) is None
    assert scoring.tier_for(None, RULES) is None


def test_the_window_is_365_days_ending_today():
    assert scoring.window_start(date(2026, 6, 30)) == date(2025, 7, 1)
