"""Performance indexes: the big lists' keyset pagination per distributor / warehouse, and what benchmarks asked for.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 04:10:00.000000

Each index says which query it serves; the plans are in bench/README.md. On PostgreSQL a large existing
table is locked for writes while its index is built: on a live system build them first by hand with
CREATE INDEX CONCURRENTLY under the same names, then this migration finds them there and skips them.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# (name, table, columns, why)
INDEXES = [
    ("ix_orders_distributor_recent", "orders", ["distributor_id", "id"],
     "a distributor's orders list, newest first: WHERE distributor_id = :d AND id < :after ORDER BY id DESC"),
    ("ix_customers_distributor_recent", "customers", ["distributor_id", "id"],
     "a distributor's customers list, newest first, by seek at any depth"),
    ("ix_stock_movements_warehouse_recent", "stock_movements", ["warehouse_id", "id"],
     "a distributor's movements list (its warehouse's ledger), newest first, by seek at any depth"),
    ("ix_stock_movements_warehouse_source", "stock_movements", ["warehouse_id", "source_type"],
     "the movements list's source filter: the warehouse's source types by loose index scan, not DISTINCT"),
    # Asked for by the dashboards and reports benchmark (bench/dashboards_reports.py):
    ("ix_orders_distributor_completed", "orders", ["distributor_id", "completed_at"],
     "a distributor's volume in a month (dashboard target tile, network volumes): 205 ms -> 0.15 ms"),
    ("ix_orders_sale_moment", "orders", [sa.text("coalesce(delivered_at, completed_at)")],
     "every sales report dates a sale by coalesce(delivered_at, completed_at): this month's ranking 379 -> 14 ms"),
    ("ix_customers_created_at", "customers", ["created_at"],
     "HQ dashboard's new customers this month, over every customer: 90 ms -> 0.1 ms"),
]


def _existing(table: str) -> set:
    return {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes(table)}


def upgrade():
    for name, table, columns, _why in INDEXES:
        if name not in _existing(table):  # built beforehand CONCURRENTLY on a live database
            op.create_index(name, table, columns, unique=False)


def downgrade():
    for name, table, _columns, _why in reversed(INDEXES):
        op.drop_index(name, table_name=table)
