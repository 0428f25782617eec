"""Stock operations: warehouse thresholds, stocktakes, transfers, replenishment requests and stock alerts.

Revision ID: 0006
Revises: 8696d10483f6
Create Date: 2026-12-01 19:50:27.738551

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '8696d10483f6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stock_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=True),
    sa.Column('expiry_date', sa.Date(), nullable=True),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_stock_alerts_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_stock_alerts_warehouse_id_warehouses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_alerts')),
    sa.UniqueConstraint('warehouse_id', 'product_id', 'kind', 'day', name=op.f('uq_stock_alerts_warehouse_id'))
    )
    with op.batch_alter_table('stock_alerts', schema=None) as batch_op:
        batch_op.create_index('ix_stock_alerts_open', ['status', 'warehouse_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_stock_alerts_product_id'), ['product_id'], unique=False)

    op.create_table('stocktakes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_stocktakes_closed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_stocktakes_opened_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_stocktakes_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stocktakes'))
    )
    with op.batch_alter_table('stocktakes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stocktakes_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_stocktakes_warehouse_id'), ['warehouse_id'], unique=False)
        batch_op.create_index('ix_stocktakes_one_open', ['warehouse_id'], unique=True,
                              sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.create_table('transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_warehouse_id', sa.Integer(), nullable=False),
    sa.Column('to_warehouse_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=True),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('from_warehouse_id <> to_warehouse_id', name=op.f('ck_transfers_two_warehouses')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_transfers_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['from_warehouse_id'], ['warehouses.id'], name=op.f('fk_transfers_from_warehouse_id_warehouses')),
    sa.ForeignKeyConstraint(['received_by_id'], ['users.id'], name=op.f('fk_transfers_received_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['to_warehouse_id'], ['warehouses.id'], name=op.f('fk_transfers_to_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfers'))
    )
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfers_from_warehouse_id'), ['from_warehouse_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_to_warehouse_id'), ['to_warehouse_id'], unique=False)

    op.create_table('warehouse_thresholds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.CheckConstraint('threshold >= 0', name=op.f('ck_warehouse_thresholds_threshold_not_negative')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_warehouse_thresholds_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_warehouse_thresholds_warehouse_id_warehouses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warehouse_thresholds')),
    sa.UniqueConstraint('warehouse_id', 'product_id', name=op.f('uq_warehouse_thresholds_warehouse_id'))
    )
    with op.batch_alter_table('warehouse_thresholds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_warehouse_thresholds_product_id'), ['product_id'], unique=False)

    op.create_table('replenishment_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('warehouse_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_replenishment_requests_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_replenishment_requests_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], name=op.f('fk_replenishment_requests_transfer_id_transfers')),
    sa.ForeignKeyConstraint(['warehouse_id'], ['warehouses.id'], name=op.f('fk_replenishment_requests_warehouse_id_warehouses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replenishment_requests')),
    sa.UniqueConstraint('transfer_id', name=op.f('uq_replenishment_requests_transfer_id'))
    )
    with op.batch_alter_table('replenishment_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replenishment_requests_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_replenishment_requests_warehouse_id'), ['warehouse_id'], unique=False)

    op.create_table('transfer_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('serial_unit_id', sa.Integer(), nullable=True),
    sa.Column('quantity_sent', sa.Integer(), nullable=False),
    sa.Column('quantity_received', sa.Integer(), nullable=True),
    sa.CheckConstraint('quantity_received IS NULL OR (quantity_received >= 0 AND quantity_received <= quantity_sent)', name=op.f('ck_transfer_items_received_within_sent')),
    sa.CheckConstraint('quantity_sent > 0', name=op.f('ck_transfer_items_sent_positive')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_transfer_items_batch_id_batches')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_transfer_items_product_id_products')),
    sa.ForeignKeyConstraint(['serial_unit_id'], ['serial_units.id'], name=op.f('fk_transfer_items_serial_unit_id_serial_units')),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], name=op.f('fk_transfer_items_transfer_id_transfers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_items'))
    )
    with op.batch_alter_table('transfer_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfer_items_transfer_id'), ['transfer_id'], unique=False)

    op.create_table('replenishment_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('quantity_requested', sa.Integer(), nullable=False),
    sa.Column('quantity_approved', sa.Integer(), nullable=True),
    sa.CheckConstraint('quantity_approved IS NULL OR quantity_approved >= 0', name=op.f('ck_replenishment_lines_approved_not_negative')),
    sa.CheckConstraint('quantity_requested > 0', name=op.f('ck_replenishment_lines_requested_positive')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_replenishment_lines_product_id_products')),
    sa.ForeignKeyConstraint(['request_id'], ['replenishment_requests.id'], name=op.f('fk_replenishment_lines_request_id_replenishment_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_replenishment_lines')),
    sa.UniqueConstraint('request_id', 'product_id', name=op.f('uq_replenishment_lines_request_id'))
    )
    with op.batch_alter_table('replenishment_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_replenishment_lines_request_id'), ['request_id'], unique=False)

    op.create_table('stocktake_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('stocktake_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Integer(), nullable=False),
    sa.Column('counted', sa.Integer(), nullable=True),
    sa.Column('movement_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('counted IS NULL OR counted >= 0', name=op.f('ck_stocktake_lines_counted_not_negative')),
    sa.CheckConstraint('expected >= 0', name=op.f('ck_stocktake_lines_expected_not_negative')),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_stocktake_lines_batch_id_batches')),
    sa.ForeignKeyConstraint(['movement_id'], ['stock_movements.id'], name=op.f('fk_stocktake_lines_movement_id_stock_movements')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_stocktake_lines_product_id_products')),
    sa.ForeignKeyConstraint(['stocktake_id'], ['stocktakes.id'], name=op.f('fk_stocktake_lines_stocktake_id_stocktakes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stocktake_lines')),
    sa.UniqueConstraint('stocktake_id', 'product_id', 'batch_id', name=op.f('uq_stocktake_lines_stocktake_id'))
    )
    with op.batch_alter_table('stocktake_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stocktake_lines_stocktake_id'), ['stocktake_id'], unique=False)



def downgrade():
    with op.batch_alter_table('stocktake_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stocktake_lines_stocktake_id'))

    op.drop_table('stocktake_lines')
    with op.batch_alter_table('replenishment_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_replenishment_lines_request_id'))

    op.drop_table('replenishment_lines')
    with op.batch_alter_table('transfer_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfer_items_transfer_id'))

    op.drop_table('transfer_items')
    with op.batch_alter_table('replenishment_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_replenishment_requests_warehouse_id'))
        batch_op.drop_index(batch_op.f('ix_replenishment_requests_status'))

    op.drop_table('replenishment_requests')
    with op.batch_alter_table('warehouse_thresholds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_warehouse_thresholds_product_id'))

    op.drop_table('warehouse_thresholds')
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfers_to_warehouse_id'))
        batch_op.drop_index(batch_op.f('ix_transfers_status'))
        batch_op.drop_index(batch_op.f('ix_transfers_from_warehouse_id'))

    op.drop_table('transfers')
    with op.batch_alter_table('stocktakes', schema=None) as batch_op:
        batch_op.drop_index('ix_stocktakes_one_open')
        batch_op.drop_index(batch_op.f('ix_stocktakes_warehouse_id'))
        batch_op.drop_index(batch_op.f('ix_stocktakes_status'))

    op.drop_table('stocktakes')
    with op.batch_alter_table('stock_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_alerts_product_id'))
        batch_op.drop_index('ix_stock_alerts_open')

    op.drop_table('stock_alerts')
