"""Inventory commands: the stock ledger check of `flask dms check`."""

from flask_babel import gettext as _

from dms.core.cli import CHECKS


def check_stock_ledger() -> list[str]:
    """Every stock balance that differs from the sums of its movements (must be none)."""
    from dms.inventory.services import ledger_differences

    return [_("stock balance of warehouse %(w)s, product %(p)s, batch %(b)s is on hand %(on_hand)d / reserved "
              "%(reserved)d, the ledger says %(l_on_hand)d / %(l_reserved)d",
              w=d.warehouse_id, p=d.product_id, b=d.batch_id, on_hand=d.on_hand, reserved=d.reserved,
              l_on_hand=d.ledger_on_hand, l_reserved=d.ledger_reserved) for d in ledger_differences()]


CHECKS.append(check_stock_ledger)
