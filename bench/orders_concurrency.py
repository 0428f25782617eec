"""Throughput of concurrent order placement on one product's stock (a benchmark, not a test: DESIGN.md §12).

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/dms_bench REDIS_URL= \\
        .venv/bin/python bench/orders_concurrency.py --orders 2000 --threads 16

Use a scratch database: it is migrated, and a bench distributor, product and orders are added to it.
Every thread places one-unit orders for the same product in the same warehouse (the worst case: one
balance row that every transaction must lock), then the ledger check must still find nothing.
"""

import argparse
import itertools
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _setup(stock: int):
    """A bench distributor with `stock` units of a priced product in its warehouse; (distributor id, product id)."""
    from decimal import Decimal

    from stdnum.cn import ric

    from dms.catalog.models import Price, Product
    from dms.core.jobs import commit
    from dms.distributors import services as distributors
    from dms.extensions import db
    from dms.inventory import services as inventory

    stamp = f"{int(time.time()) % 10**8:08d}"
    body = f"11010519800101{stamp[-3:]}"  # an area code stdnum knows
    distributor = distributors.create_distributor(None, {
        "kind": "person", "name": f"压测{stamp}", "id_number": body + ric.calc_check_digit(body + "0"),
        "phone": f"139{stamp}", "region_code": "440605", "level": "county", "exclusive": True,
        "profit_share": "10"})
    product = Product(name=f"压测商品{stamp}", sku=f"BENCH-{stamp}", tracking="none", status="available")
    db.session.add(product)
    db.session.flush()
    db.session.add(Price(product_id=product.id, kind="retail", amount=Decimal("10.00")))
    inventory.receive(None, distributor.warehouse, [{"product": product, "quantity": stock}])
    commit()
    return distributor.id, product.id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000, help="orders to place in all")
    parser.add_argument("--threads", type=int, default=16, help="concurrent writers")
    parser.add_argument("--short", type=int, default=0, help="place this many more orders than there is stock")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgresql"):
        print("Set DATABASE_URL to a scratch PostgreSQL database.", file=sys.stderr)
        return 2

    from flask_migrate import upgrade

    from dms import create_app
    from dms.core.errors import InsufficientStock
    from dms.core.jobs import commit
    from dms.extensions import db
    from dms.inventory import services as inventory
    from dms.orders import services

    app = create_app({"SQLALCHEMY_DATABASE_URI": url,
                      "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": args.threads, "max_overflow": 0}})
    with app.app_context():
        upgrade()
        distributor_id, product_id = _setup(args.orders)
    total = args.orders + args.short
    counter, lock = itertools.count(), threading.Lock()
    outcomes = {"placed": 0, "short": 0, "error": 0}

    def worker():
        with app.app_context():
            while True:
                with lock:
                    if next(counter) >= total:
                        return
                try:
                    services.place_order(None, {"distributor_id": distributor_id, "product_id": product_id,
                                                "quantity": 1})
                    commit()
                    outcome = "placed"
                except InsufficientStock:
                    db.session.rollback()
                    outcome = "short"
                except Exception as exc:  # noqa: BLE001 - counted and shown, the run goes on
                    db.session.rollback()
                    print(f"error: {exc!r}", file=sys.stderr)
                    outcome = "error"
                finally:
                    db.session.remove()
                with lock:
                    outcomes[outcome] += 1

    threads = [threading.Thread(target=worker) for _n in range(args.threads)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    with app.app_context():
        differences = inventory.ledger_differences()
        order_problems = services.stock_differences()
    print(f"{total} attempts by {args.threads} threads in {elapsed:.2f} s: {total / elapsed:.1f} orders/s; "
          f"placed {outcomes['placed']}, short {outcomes['short']}, errors {outcomes['error']}; "
          f"ledger differences {len(differences)}, order stock problems {len(order_problems)}")
    ok = outcomes["placed"] == args.orders and not outcomes["error"] and not differences and not order_problems
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
