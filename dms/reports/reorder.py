"""Reorder suggestions (补货建议) per warehouse, from the sales forecasts.

For each available product of a distributor's warehouse (a distributor has one warehouse):

    demand over the lead time = the distributor's forecast units of the next L weeks (the current week first)
    safety stock              = z x sigma x sqrt(L)
    suggestion                = max(0, ceil(demand over the lead time + safety stock - available - on its way))

- L, the lead time in weeks: DMS_REORDER_LEAD_WEEKS (default 2 weeks, 1 to 12): how long stock asked for
  today takes to arrive and be sellable.
- z = 1.65: the safety factor for about 95 % of lead times without a stock-out (normal demand).
- sigma: the sample standard deviation of the distributor's weekly units of that product over its last
  52 complete weeks (from its first week with a sale; 0 with fewer than two weeks).
- available: on hand minus reserved, expired batches left out (the inventory area's own figure);
  on its way: sent in open transfers to the warehouse or asked for in its still-open requests, so a
  second request does not ask for the same stock twice.

Only products that have a forecast for the distributor are suggested; the figures are exact (Decimal)
until the final ceiling. HQ's warehouse is stocked by receipts, not requests: it gets no suggestions.
"""

import math
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import select

from dms.catalog.models import Product
from dms.core.errors import NotFound
from dms.core.scope import HQ_SCOPE
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.reports import forecast
from dms.reports.models import SalesForecast

Z = Decimal("1.65")
DEFAULT_LEAD_WEEKS = 2
SIGMA_WEEKS = 52
CENT = Decimal("0.01")


def lead_weeks() -> int:
    """The lead time in weeks (DMS_REORDER_LEAD_WEEKS, default 2, kept within 1..12)."""
    try:
        value = int(current_app.config.get("DMS_REORDER_LEAD_WEEKS", DEFAULT_LEAD_WEEKS))
    except (TypeError, ValueError):
        value = DEFAULT_LEAD_WEEKS
    return min(max(value, 1), forecast.HORIZON)


def sigma(history) -> Decimal:
    """The sample standard deviation of weekly units (the last SIGMA_WEEKS of them); 0 under two weeks."""
    values = [Decimal(str(v)) for v in list(history)[-SIGMA_WEEKS:]]
    if len(values) < 2:
        return Decimal(0)
    mean = sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return variance.sqrt()


@dataclass
class Figures:
    """The terms of one suggestion, exact, and the suggested quantity."""

    demand: Decimal
    sigma: Decimal
    safety: Decimal
    available: int
    incoming: int
    quantity: int


def formula(forecast_units, history, available: int, incoming: int = 0, lead: int = DEFAULT_LEAD_WEEKS,
            z: Decimal = Z) -> Figures:
    """One product's suggestion: max(0, ceil(forecast of `lead` weeks + z*sigma*sqrt(lead) - available - incoming))."""
    demand = sum((Decimal(str(u)) for u in list(forecast_units)[:lead]), Decimal(0))
    spread = sigma(history)
    safety = z * spread * Decimal(lead).sqrt()
    quantity = max(0, math.ceil(demand + safety - Decimal(available) - Decimal(incoming)))
    return Figures(demand=demand, sigma=spread, safety=safety, available=available, incoming=incoming,
                   quantity=quantity)


@dataclass
class Suggestion:
    """A product's reorder suggestion in a warehouse, with the forecast behind it."""

    product: Product
    method: str
    figures: Figures

    @property
    def quantity(self) -> int:
        return self.figures.quantity

    def shown(self, value: Decimal) -> Decimal:
        return value.quantize(CENT, ROUND_HALF_UP)


def suggestions(warehouse) -> list[Suggestion]:
    """The reorder suggestions of a distributor's warehouse, largest first (none for HQ's warehouse)."""
    from dms.inventory import replenishment

    if warehouse is None or warehouse.distributor_id is None:
        return []
    rows = db.session.execute(
        select(SalesForecast, Product).join(Product, Product.id == SalesForecast.product_id)
        .where(SalesForecast.scope == "distributor", SalesForecast.scope_key == str(warehouse.distributor_id),
               Product.status == "available")
        .order_by(Product.name)).all()
    if not rows:
        return []
    start = forecast.current_week()
    demand = forecast.weekly_demand(start - timedelta(weeks=SIGMA_WEEKS), start, [p.id for _f, p in rows],
                                    distributor_id=warehouse.distributor_id)
    available = replenishment.available_by_product(warehouse)
    incoming = replenishment.incoming_by_product(warehouse)
    lead = lead_weeks()
    result = []
    for row, product in rows:
        _first, history = forecast.dense(demand.get((product.id, "distributor", str(warehouse.distributor_id)), {}),
                                         start)
        units = [w["units"] for w in row.weeks]
        result.append(Suggestion(product=product, method=row.method,
                                 figures=formula(units, history, available.get(product.id, 0),
                                                 incoming.get(product.id, 0), lead)))
    result.sort(key=lambda s: -s.quantity)  # stable: by name within equal quantities
    return result


def warehouses_for(actor) -> list[Warehouse]:
    """The distributor warehouses the actor may see suggestions for: HQ all active ones, a distributor its own."""
    stmt = select(Warehouse).where(Warehouse.distributor_id.is_not(None)).order_by(Warehouse.name)
    if actor is None or not actor.can(HQ_SCOPE):
        stmt = stmt.where(Warehouse.distributor_id == getattr(actor, "distributor_id", None))
    else:
        stmt = stmt.where(Warehouse.active.is_(True))
    return list(db.session.scalars(stmt))


def get_warehouse(actor, warehouse_id: int | None) -> Warehouse | None:
    """One warehouse within the actor's scope (None id: the first one); another distributor's is NotFound."""
    choices = warehouses_for(actor)
    if warehouse_id is None:
        return choices[0] if choices else None
    if actor is not None and actor.can(HQ_SCOPE):
        warehouse = db.session.get(Warehouse, warehouse_id)
        if warehouse is None or warehouse.distributor_id is None:
            raise NotFound()
        return warehouse
    for warehouse in choices:
        if warehouse.id == warehouse_id:
            return warehouse
    raise NotFound()
