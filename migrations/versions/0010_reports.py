"""Reports: generated report files, dealer scorecard weights (with the default weights) and scores, sales forecasts.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 23:58:54.137720

"""
from datetime import datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sales_forecasts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=12), nullable=False),
    sa.Column('scope_key', sa.String(length=20), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('weeks', sa.JSON(), nullable=False),
    sa.Column('history_weeks', sa.Integer(), nullable=False),
    sa.Column('mape', sa.Numeric(precision=8, scale=2), nullable=True),
    sa.Column('wape', sa.Numeric(precision=8, scale=2), nullable=True),
    sa.Column('baseline_mape', sa.Numeric(precision=8, scale=2), nullable=True),
    sa.Column('baseline_wape', sa.Numeric(precision=8, scale=2), nullable=True),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_sales_forecasts_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sales_forecasts')),
    sa.UniqueConstraint('product_id', 'scope', 'scope_key', name=op.f('uq_sales_forecasts_product_id'))
    )
    with op.batch_alter_table('sales_forecasts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sales_forecasts_product_id'), ['product_id'], unique=False)

    op.create_table('scorecard_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('distributor_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('score', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('components', sa.JSON(), nullable=False),
    sa.Column('weights', sa.JSON(), nullable=False),
    sa.Column('computed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['distributor_id'], ['distributors.id'], name=op.f('fk_scorecard_scores_distributor_id_distributors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scorecard_scores')),
    sa.UniqueConstraint('distributor_id', 'period', name=op.f('uq_scorecard_scores_distributor_id'))
    )
    with op.batch_alter_table('scorecard_scores', schema=None) as batch_op:
        batch_op.create_index('ix_scorecard_scores_period', ['period'], unique=False)

    op.create_table('scorecard_weights',
    sa.Column('criterion', sa.String(length=32), nullable=False),
    sa.Column('weight', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_scorecard_weights_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('criterion', name=op.f('pk_scorecard_weights'))
    )
    # The default weights (HQ changes them on the scorecard page): they sum to 100.
    weights = sa.table("scorecard_weights", sa.column("criterion", sa.String), sa.column("weight", sa.Numeric),
                       sa.column("updated_at", sa.DateTime))
    op.bulk_insert(weights, [{"criterion": c, "weight": w, "updated_at": datetime(2026, 12, 1)} for c, w in (
        ("target_attainment", 25), ("sales_growth", 15), ("return_rate", 15), ("stock_turnover", 10),
        ("visit_compliance", 10), ("satisfaction", 15), ("on_time_delivery", 10))])
    op.create_table('report_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('orientation', sa.String(length=10), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('distributor_id', sa.Integer(), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('pages', sa.Integer(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['distributor_id'], ['distributors.id'], name=op.f('fk_report_files_distributor_id_distributors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_report_files_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_report_files_owner_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_files')),
    sa.UniqueConstraint('key', name=op.f('uq_report_files_key'))
    )
    with op.batch_alter_table('report_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_files_distributor_id'), ['distributor_id'], unique=False)
        batch_op.create_index('ix_report_files_owner_created', ['owner_id', 'created_at'], unique=False)



def downgrade():
    with op.batch_alter_table('report_files', schema=None) as batch_op:
        batch_op.drop_index('ix_report_files_owner_created')
        batch_op.drop_index(batch_op.f('ix_report_files_distributor_id'))

    op.drop_table('report_files')
    op.drop_table('scorecard_weights')
    with op.batch_alter_table('scorecard_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_scorecard_scores_period')

    op.drop_table('scorecard_scores')
    with op.batch_alter_table('sales_forecasts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sales_forecasts_product_id'))

    op.drop_table('sales_forecasts')
