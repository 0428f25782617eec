"""The stock alerts page: open low-stock and near-expiry alerts, each linking to its warehouse's stock."""

from flask import request
from flask_login import current_user
from sqlalchemy import select

from dms.catalog.models import Product
from dms.core.auth import require_permission
from dms.core.errors import NotFound
from dms.core.listing import paginate_list
from dms.core.render import render
from dms.core.scope import HQ_SCOPE
from dms.distributors.models import Warehouse
from dms.extensions import db
from dms.inventory import bp, jobs, services  # noqa: F401 - importing jobs registers the daily check
from dms.inventory.alerts import KIND_LABELS, STATUS_LABELS, alerts_query, near_expiry_days
from dms.inventory.models import ALERT_KINDS, StockAlert

STATUS_CHOICES = ("open", "closed", "all")


def _warehouse_filter():
    """The warehouse of ?warehouse= within the user's scope (None when absent); another's answers 404."""
    raw = (request.args.get("warehouse") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise NotFound()
    return services.warehouse_for(current_user, int(raw))


@bp.get("/inventory/alerts")
@require_permission("inventory.view")
def list_alerts():
    """Stock alerts, open ones by default, filtered by status, kind and warehouse, searched by product."""
    warehouse = _warehouse_filter()
    status = request.args.get("status") or "open"
    status = status if status in STATUS_CHOICES else "open"
    stmt = alerts_query(current_user, status=None if status == "all" else status, warehouse=warehouse)
    stmt = stmt.join(Product, Product.id == StockAlert.product_id)
    page = paginate_list(
        stmt, search=[Product.name, Product.sku],
        sorts={"opened": StockAlert.opened_at, "product": Product.name, "warehouse": Warehouse.name,
               "kind": StockAlert.kind},
        default_sort="opened", default_dir="desc",
        filters={"kind": lambda s, v: s.where(StockAlert.kind == v) if v in ALERT_KINDS else s})
    # Kept by the sort and page links, so page 2 of closed alerts stays closed alerts.
    page.filters["status"] = status
    if warehouse is not None:
        page.filters["warehouse"] = str(warehouse.id)
    hq = current_user.can(HQ_SCOPE)
    warehouses = list(db.session.execute(select(Warehouse.id, Warehouse.name).order_by(Warehouse.name, Warehouse.id))
                      ) if hq else []
    return render("inventory/alerts.html", "inventory/_alerts_table.html", page=page, hq=hq,
                  warehouse=warehouse, warehouses=warehouses, chosen_status=status, kind_labels=KIND_LABELS,
                  status_labels=STATUS_LABELS, kinds=ALERT_KINDS, window=near_expiry_days())
