"""Distributors, warehouses, targets, territory grants, applications and one-time password links.

Revision ID: 27fd165c45a6
Revises: e03870525220
Create Date: 2026-11-22 07:25:29.456895

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '27fd165c45a6'
down_revision = 'e03870525220'
branch_labels = None
depends_on = None


def upgrade():
    # id_number columns hold EncryptedText tokens (dms.core.crypto): plain TEXT in the database.
    op.create_table('distributors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('company_name', sa.String(length=200), nullable=True),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('id_number', sa.Text(), nullable=True),
    sa.Column('id_number_index', sa.String(length=64), nullable=True),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('status_reason', sa.String(length=255), nullable=False),
    sa.Column('status_changed_on', sa.Date(), nullable=True),
    sa.Column('upline_id', sa.Integer(), nullable=True),
    sa.Column('exclusive', sa.Boolean(), nullable=False),
    sa.Column('profit_share', sa.Numeric(precision=5, scale=2), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('profit_share >= 0 AND profit_share <= 100', name=op.f('ck_distributors_profit_share_range')),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_distributors_region_code_regions')),
    sa.ForeignKeyConstraint(['upline_id'], ['distributors.id'], name=op.f('fk_distributors_upline_id_distributors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distributors'))
    )
    with op.batch_alter_table('distributors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_distributors_credit_code'), ['credit_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_distributors_id_number_index'), ['id_number_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_distributors_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_distributors_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_distributors_upline_id'), ['upline_id'], unique=False)

    op.create_table('distributor_targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('distributor_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=True),
    sa.CheckConstraint('amount IS NOT NULL OR quantity IS NOT NULL', name=op.f('ck_distributor_targets_amount_or_quantity')),
    sa.ForeignKeyConstraint(['distributor_id'], ['distributors.id'], name=op.f('fk_distributor_targets_distributor_id_distributors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distributor_targets')),
    sa.UniqueConstraint('distributor_id', 'period', 'period_start', name=op.f('uq_distributor_targets_distributor_id'))
    )
    op.create_table('warehouses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('distributor_id', sa.Integer(), nullable=True),
    sa.Column('region_code', sa.String(length=6), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['distributor_id'], ['distributors.id'], name=op.f('fk_warehouses_distributor_id_distributors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_warehouses_region_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_warehouses')),
    sa.UniqueConstraint('distributor_id', name=op.f('uq_warehouses_distributor_id'))
    )
    op.create_table('distributor_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('applicant_type', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('id_number', sa.Text(), nullable=True),
    sa.Column('id_number_index', sa.String(length=64), nullable=True),
    sa.Column('company_name', sa.String(length=200), nullable=True),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('status_token_hash', sa.String(length=64), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=True),
    sa.Column('review_started_at', sa.DateTime(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.Column('distributor_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['distributor_id'], ['distributors.id'], name=op.f('fk_distributor_applications_distributor_id_distributors'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_distributor_applications_region_code_regions')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_distributor_applications_reviewer_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distributor_applications')),
    sa.UniqueConstraint('status_token_hash', name=op.f('uq_distributor_applications_status_token_hash'))
    )
    with op.batch_alter_table('distributor_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_distributor_applications_credit_code'), ['credit_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_distributor_applications_id_number_index'), ['id_number_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_distributor_applications_region_code'), ['region_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_distributor_applications_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_distributor_applications_submitted_at'), ['submitted_at'], unique=False)

    op.create_table('password_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_password_tokens_token_hash'))
    )
    with op.batch_alter_table('password_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('territory_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('distributor_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('exclusive', sa.Boolean(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('effective_to', sa.Date(), nullable=True),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('effective_to IS NULL OR effective_to >= effective_from', name=op.f('ck_territory_grants_dates_in_order')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_territory_grants_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['distributor_id'], ['distributors.id'], name=op.f('fk_territory_grants_distributor_id_distributors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_territory_grants_region_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_territory_grants'))
    )
    with op.batch_alter_table('territory_grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_territory_grants_distributor_id'), ['distributor_id'], unique=False)
        batch_op.create_index('ix_territory_grants_region_dates', ['region_code', 'effective_from'], unique=False)

    op.create_table('distributor_application_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('detail', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['distributor_applications.id'], name=op.f('fk_distributor_application_checks_application_id_distributor_applications'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distributor_application_checks'))
    )
    with op.batch_alter_table('distributor_application_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_distributor_application_checks_application_id'), ['application_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_users_distributor_id_distributors'), 'distributors', ['distributor_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('api_clients', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_api_clients_distributor_id_distributors'), 'distributors', ['distributor_id'], ['id'], ondelete='SET NULL')



def downgrade():
    with op.batch_alter_table('api_clients', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_api_clients_distributor_id_distributors'), type_='foreignkey')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_distributor_id_distributors'), type_='foreignkey')

    with op.batch_alter_table('distributor_application_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_distributor_application_checks_application_id'))

    op.drop_table('distributor_application_checks')
    with op.batch_alter_table('territory_grants', schema=None) as batch_op:
        batch_op.drop_index('ix_territory_grants_region_dates')
        batch_op.drop_index(batch_op.f('ix_territory_grants_distributor_id'))

    op.drop_table('territory_grants')
    with op.batch_alter_table('password_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_tokens_user_id'))

    op.drop_table('password_tokens')
    with op.batch_alter_table('distributor_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_distributor_applications_submitted_at'))
        batch_op.drop_index(batch_op.f('ix_distributor_applications_state'))
        batch_op.drop_index(batch_op.f('ix_distributor_applications_region_code'))
        batch_op.drop_index(batch_op.f('ix_distributor_applications_id_number_index'))
        batch_op.drop_index(batch_op.f('ix_distributor_applications_credit_code'))

    op.drop_table('distributor_applications')
    op.drop_table('warehouses')
    op.drop_table('distributor_targets')
    with op.batch_alter_table('distributors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_distributors_upline_id'))
        batch_op.drop_index(batch_op.f('ix_distributors_status'))
        batch_op.drop_index(batch_op.f('ix_distributors_region_code'))
        batch_op.drop_index(batch_op.f('ix_distributors_id_number_index'))
        batch_op.drop_index(batch_op.f('ix_distributors_credit_code'))

    op.drop_table('distributors')
