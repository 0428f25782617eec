"""Low-stock thresholds: the product's own, or a warehouse's override for that product."""

from flask_babel import gettext as _
from sqlalchemy import select

from dms.core import audit
from dms.core.errors import ValidationError
from dms.extensions import db
from dms.inventory.models import WarehouseThreshold
from dms.inventory.services import MAX_QUANTITY, _require


def thresholds_for(warehouse, products) -> dict[int, int]:
    """product id -> the threshold in force in `warehouse` (override, else the product's), in one query."""
    products = list(products)
    overrides = dict(db.session.execute(
        select(WarehouseThreshold.product_id, WarehouseThreshold.threshold)
        .where(WarehouseThreshold.warehouse_id == warehouse.id,
               WarehouseThreshold.product_id.in_([p.id for p in products]))).all()) if products else {}
    return {p.id: overrides.get(p.id, p.low_stock_threshold) for p in products}


def threshold_for(warehouse, product) -> int:
    """The low-stock threshold of `product` in `warehouse`."""
    return thresholds_for(warehouse, [product])[product.id]


def set_threshold(actor, warehouse, product, threshold: int | None) -> WarehouseThreshold | None:
    """Set (or with None remove) `warehouse`'s own threshold for `product`; ValidationError, Forbidden, NotFound."""
    _require(actor, warehouse)
    row = db.session.scalar(select(WarehouseThreshold).where(WarehouseThreshold.warehouse_id == warehouse.id,
                                                             WarehouseThreshold.product_id == product.id))
    before = row.threshold if row is not None else None
    if threshold is None:
        if row is not None:
            db.session.delete(row)
            row = None
    else:
        if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold <= MAX_QUANTITY:
            raise ValidationError(fields={"threshold": [_("A whole number, 0 or more.")]})
        if row is None:
            row = WarehouseThreshold(warehouse_id=warehouse.id, product_id=product.id, threshold=threshold)
            db.session.add(row)
        row.threshold = threshold
    db.session.flush()
    audit.record("inventory.threshold", "warehouse", warehouse.id, product.sku,
                 changes=audit.diff({"threshold": before}, {"threshold": threshold}), actor=actor)
    return row
