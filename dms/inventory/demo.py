"""Demo catalog and stock for `flask dms seed-demo`: products of the three tracking kinds, batches, stock.

Inventory sits above the catalog (DESIGN.md), so this one seeder makes both: the products first, then
stock in HQ's warehouse and in the demo distributors' warehouses. Each part is made once: a product is
found again by its SKU, and stock is only received while no demo movement exists.
"""

from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import select

from dms.core.cli import DEMO_SEEDERS

CATEGORIES = [("饮用水", None), ("桶装水", "饮用水"), ("瓶装水", "饮用水"), ("粮油副食", None), ("配送车辆", None)]
# sku, name, category, tags, unit, tracking, threshold, retail, (province, city, county) prices, description
PRODUCTS = [
    ("W-189", "18.9L 桶装饮用水", "桶装水", ["热销"], "桶", "none", 50, "18.00", ("10.00", "11.50", "13.00"),
     "家庭和办公室用桶装饮用水，押桶另计。"),
    ("W-550", "550ml 天然矿泉水（24瓶/箱）", "瓶装水", ["热销", "新品"], "箱", "batch", 30, "36.00",
     ("24.00", "26.00", "28.00"), "按批次管理，保质期 12 个月。"),
    ("F-5KG", "高筋面粉 5kg", "粮油副食", ["食品"], "袋", "batch", 20, "32.00", ("22.00", "24.00", "26.00"),
     "保质期 9 个月。"),
    ("O-5L", "压榨花生油 5L", "粮油副食", ["食品"], "桶", "batch", 10, "89.00", ("65.00", "70.00", "75.00"),
     "保质期 18 个月。"),
    ("V-E3", "电动三轮配送车", "配送车辆", [], "辆", "serial", 1, "8800.00", ("7200.00", "7500.00", "7800.00"),
     "按车架号（VIN）逐辆管理。"),
    ("W-SODA", "苏打水 350ml（试销）", "瓶装水", ["新品"], "箱", "batch", 0, None, None, "尚未定价：待上架。"),
]
VINS = ["LE3TRK2A6R0000011", "LE3TRK2A8R0000012", "LE3TRK2AXR0000013", "LE3TRK2A1R0000014"]
DEMO_SOURCE = "demo"


def _categories() -> dict:
    from dms.catalog import services
    from dms.catalog.models import Category
    from dms.extensions import db

    found = {c.name: c for c in db.session.scalars(select(Category))}
    for name, parent in CATEGORIES:
        if name not in found:
            found[name] = services.create_category(None, name, found[parent].id if parent else None)
    return found


def _products(categories) -> tuple[dict, int]:
    from dms.catalog import services
    from dms.catalog.models import Product
    from dms.extensions import db

    by_sku, made = {}, 0
    for sku, name, category, tags, unit, tracking, threshold, retail, levels, description in PRODUCTS:
        product = db.session.scalar(select(Product).where(Product.sku == sku))
        if product is None:
            data = {"sku": sku, "name": name, "category_id": categories[category].id, "tags": tags, "unit": unit,
                    "tracking": tracking, "low_stock_threshold": threshold, "description": description}
            if retail:
                data["price"] = retail
                data["distributor_prices"] = dict(zip(("province", "city", "county"), levels, strict=True))
            product = services.create_product(None, data)
            made += 1
        by_sku[sku] = product
    return by_sku, made


def _distributor_warehouses() -> list:
    """The demo distributors' warehouses that hold stock: the demo user's county agent and two city agents."""
    from dms.distributors.models import Distributor, Warehouse
    from dms.extensions import db

    rows = db.session.execute(select(Warehouse, Distributor.region_code).join(Distributor)
                              .where(Distributor.region_code.in_(("440605", "440100", "330100")))).all()
    order = {"440605": 0, "440100": 1, "330100": 2}
    return [w for w, _code in sorted(rows, key=lambda r: order[r[1]])]


def _stock(products) -> int:
    from dms.core.time import business_today
    from dms.extensions import db
    from dms.inventory import services
    from dms.inventory.models import StockMovement

    if db.session.scalar(select(StockMovement.id).where(StockMovement.source_type == DEMO_SOURCE).limit(1)):
        return 0
    today = business_today()
    hq = services.hq_warehouse()
    day = today.strftime("%y%m")

    def lot(sku, n):
        return f"{sku}-{day}-{n:02d}"

    # HQ: plenty, in several lots — one expired (never allocated), one near expiry (FEFO takes it first).
    hq_lines = [
        {"product": products["W-189"], "quantity": 800},
        {"product": products["W-550"], "quantity": 40, "batch_code": lot("W550", 1),
         "expiry_date": today - timedelta(days=5)},
        {"product": products["W-550"], "quantity": 120, "batch_code": lot("W550", 2),
         "expiry_date": today + timedelta(days=18)},
        {"product": products["W-550"], "quantity": 600, "batch_code": lot("W550", 3),
         "expiry_date": today + timedelta(days=330)},
        {"product": products["F-5KG"], "quantity": 300, "batch_code": lot("F5", 1),
         "expiry_date": today + timedelta(days=200)},
        {"product": products["O-5L"], "quantity": 150, "batch_code": lot("O5", 1),
         "expiry_date": today + timedelta(days=480)},
        {"product": products["V-E3"], "batch_code": f"V-{today.year}", "serials": VINS},
    ]
    moved = len(services.receive(None, hq, hq_lines, reason=_("Demo opening stock"), source_type=DEMO_SOURCE))
    # Distributors: the demo user's warehouse runs low on bottled water (a low-stock alert to act on).
    quantities = [(60, 12, 25, 6), (200, 80, 60, 20), (150, 45, 30, 12)]
    for warehouse, (barrels, cases, flour, oil) in zip(_distributor_warehouses(), quantities, strict=False):
        lines = [
            {"product": products["W-189"], "quantity": barrels},
            {"product": products["W-550"], "quantity": cases, "batch_code": lot("W550", 2),
             "expiry_date": today + timedelta(days=18)},
            {"product": products["F-5KG"], "quantity": flour, "batch_code": lot("F5", 1),
             "expiry_date": today + timedelta(days=200)},
            {"product": products["O-5L"], "quantity": oil, "batch_code": lot("O5", 1),
             "expiry_date": today + timedelta(days=480)},
        ]
        moved += len(services.receive(None, warehouse, lines, reason=_("Demo opening stock"),
                                      source_type=DEMO_SOURCE))
    db.session.flush()
    return moved


def seed_demo_stock() -> list[str]:
    """Categories, six products (untracked, batch, serial; one pending) and opening stock, made once."""
    products, made = _products(_categories())
    moved = _stock(products)
    lines = [_("Demo catalog: %(count)d products (%(made)d new).", count=len(products), made=made)]
    if moved:
        lines.append(_("Demo stock: %(count)d stock movements received.", count=moved))
    return lines


DEMO_SEEDERS.append(seed_demo_stock)
