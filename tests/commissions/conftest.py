"""Commission fixtures: a published rule version from a given moment, and completed orders made directly."""

from datetime import datetime
from decimal import Decimal

import pytest

from tests.core.conftest import burst, fresh, redis_url  # noqa: F401 - the real Redis and RQ worker fixtures

D = Decimal


@pytest.fixture
def publish_rules(app):
    """publish_rules(rates=("10", "5", "2"), effective_from=datetime(2026, 1, 1), **settings) -> RuleVersion.

    `minimums` gives each level's qualifying personal volume; `overrides` and `rewards` are lists of
    dicts of RuleOverride / RewardRule fields. Made with the ORM so a version can start in the past.
    """
    from sqlalchemy import func, select

    from dms.commissions.models import RewardRule, RuleLevel, RuleOverride, RuleVersion
    from dms.extensions import db

    def publish(rates=("10", "5", "2"), effective_from=datetime(2026, 1, 1), minimums=(), overrides=(), rewards=(),
                **settings):
        number = (db.session.scalar(select(func.max(RuleVersion.number))) or 0) + 1
        version = RuleVersion(number=number, status="published", effective_from=effective_from,
                              published_at=effective_from, mode=settings.pop("mode", "multi"),
                              max_levels=settings.pop("max_levels", len(rates)), **settings)
        version.levels = [RuleLevel(level=n, rate=D(rate), min_personal_volume=D(minimums[n - 1])
                                    if n - 1 < len(minimums) else D(0)) for n, rate in enumerate(rates, start=1)]
        version.overrides = [RuleOverride(**o) for o in overrides]
        version.rewards = [RewardRule(**r) for r in rewards]
        db.session.add(version)
        db.session.commit()
        return version

    return publish


@pytest.fixture
def completed_order(app, make_product):
    """completed_order(distributor, amount="100.00", completed_at=datetime(2026, 10, 10, 4), lines=None) -> Order.

    `lines` is [(product, quantity, amount)]; by default one line of a fresh product for `amount`.
    The order is written with the ORM in state completed (the state machine is tested elsewhere).
    """
    from dms.extensions import db
    from dms.orders.models import Order, OrderLine

    def make(distributor, amount="100.00", completed_at=datetime(2026, 10, 10, 4), lines=None, status="completed",
             refunded_at=None):
        lines = lines or [(make_product(), 1, amount)]
        order = Order(distributor_id=distributor.id, status=status, created_at=completed_at,
                      completed_at=completed_at, refunded_at=refunded_at, ship_name="客户", ship_phone="13800000000")
        for product, quantity, line_amount in lines:
            order.lines.append(OrderLine(product_id=product.id, quantity=quantity, unit_price=D(line_amount) / quantity,
                                         amount=D(line_amount)))
        order.subtotal = order.total = sum((D(a) for _, _, a in lines), D("0.00"))
        db.session.add(order)
        db.session.commit()
        return order

    return make


@pytest.fixture
def chain(make_distributor):
    """chain(n=3) -> [seller, its upline, ...]: a straight line of distributors, links backdated to 2025."""

    def make(n=3):
        """n in 1..3: a county seller under a city under a province, cut from the top."""
        nodes = []
        for region, level, name in (("110000", "province", "省代"), ("110100", "city", "市代"),
                                    ("110105", "county", "县代"))[3 - n:]:
            nodes.append(make_distributor(region, level=level, name=name,
                                          upline_id=nodes[-1].id if nodes else None))
        backdate_links()
        return list(reversed(nodes))

    return make


def backdate_links(to=datetime(2025, 1, 1)):
    """Make every upline link start at `to`, so orders of past months see the tree."""
    from sqlalchemy import update

    from dms.distributors.models import UplineLink
    from dms.extensions import db

    db.session.execute(update(UplineLink).where(UplineLink.effective_to.is_(None)).values(effective_from=to))
    db.session.commit()
