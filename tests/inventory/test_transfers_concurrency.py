"""Two requests at once on one transfer or one request (SQLite and PostgreSQL): the conditional status
update lets exactly one win, so stock is never received, returned or shipped twice."""

import pytest
from sqlalchemy import func, select

from dms.core.errors import InvalidTransition
from dms.extensions import db
from dms.inventory import replenishment, services, transfers
from dms.inventory.models import ReplenishmentRequest, StockMovement, Transfer
from tests.concurrency import race


def _race(app, work, count: int = 2) -> list[str]:
    """Run work(n) in `count` threads released together, each its own transaction; the sorted outcomes."""
    return sorted(outcome for outcome, _value in race(app, count, work, {InvalidTransition: "lost"}))


@pytest.mark.parametrize("second", ["receive", "cancel"])
def test_receive_and_receive_or_cancel_at_once(app, make_product, stock, hq_warehouse, make_distributor, second):
    product = make_product()
    stock(product, 5)
    shop = make_distributor()
    transfer_id = transfers.create_transfer(None, hq_warehouse, shop.warehouse, [(product, 5)]).id
    db.session.commit()

    def work(n):
        transfer = db.session.get(Transfer, transfer_id)
        if n == 0 or second == "receive":
            transfers.receive_transfer(None, transfer)
        else:
            transfers.cancel_transfer(None, transfer)

    assert _race(app, work) == ["lost", "won"]
    db.session.expire_all()
    moved_in = db.session.scalar(select(func.sum(StockMovement.on_hand_delta))
                                 .where(StockMovement.kind == "transfer_in"))
    assert moved_in == 5, "the stock arrived (or went back) once"
    assert services.ledger_differences() == []


def test_two_approvals_at_once_ship_once(app, make_product, stock, make_distributor):
    product = make_product()
    stock(product, 8)
    shop = make_distributor()
    request_id = replenishment.create_request(None, shop.warehouse, [(product, 5)]).id
    db.session.commit()

    def work(n):
        replenishment.approve_request(None, db.session.get(ReplenishmentRequest, request_id))

    assert _race(app, work) == ["lost", "won"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Transfer)) == 1
    assert services.available_of(product, services.hq_warehouse()) == 3
    assert services.ledger_differences() == []
