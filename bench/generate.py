"""The large dataset in one command: migrate an empty database and fill it (COPY on PostgreSQL).

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_large REDIS_URL= \\
        .venv/bin/python bench/generate.py            # 2,000 distributors, 300 products, 200,000 customers,
                                                      # 1,000,000 orders over two years (DESIGN.md §12)
    ... bench/generate.py --orders 50000 --customers 10000 --distributors 200   # a smaller one

The same as `flask dms seed-demo --scale large`; prints each phase's seconds, the row counts and the total.
Use a scratch database: `createdb -h 127.0.0.1 -U postgres bench_large` (drop it to start again).
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--distributors", type=int, default=2_000)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if not args.database_url:
        print("Give --database-url (or DATABASE_URL): a scratch database to fill.", file=sys.stderr)
        return 2
    os.environ.setdefault("REDIS_URL", "")  # jobs run in-process: nothing is queued while filling

    from flask_migrate import upgrade

    from dms import create_app
    from dms.reports.scale_data import Sizes, generate

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url})
    began = time.perf_counter()
    with app.app_context():
        upgrade()
        print(f"migrated: {time.perf_counter() - began:.1f} s")
        counts = generate(Sizes(orders=args.orders, distributors=args.distributors, customers=args.customers,
                                products=args.products, seed=args.seed))
    seconds = counts.pop("seconds")
    print("| table | rows |\n|---|---:|")
    for table, count in sorted(counts.items()):
        print(f"| {table} | {count:,} |")
    print(f"generated in {seconds} s ({time.perf_counter() - began:.1f} s with the migrations), "
          f"{os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
