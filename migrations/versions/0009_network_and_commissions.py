"""Network and commissions: the effective-dated upline tree (backfilled from the current uplines), distributors' payout bank accounts, teams, versioned commission rules, the commission ledger, settlement runs and statements.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 23:06:25.319200

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('distributors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bank_name', sa.String(length=120), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('bank_account_name', sa.String(length=120), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('bank_account', sa.Text(), nullable=True))
    op.create_table('commission_rule_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('max_levels', sa.Integer(), nullable=False),
    sa.Column('base', sa.String(length=8), nullable=False),
    sa.Column('compression', sa.Boolean(), nullable=False),
    sa.Column('cap_per_order', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('hold_days', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.DateTime(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('based_on_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('max_levels BETWEEN 1 AND 10', name=op.f('ck_commission_rule_versions_levels_range')),
    sa.ForeignKeyConstraint(['based_on_id'], ['commission_rule_versions.id'], name=op.f('fk_commission_rule_versions_based_on_id_commission_rule_versions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_commission_rule_versions_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_commission_rule_versions_published_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commission_rule_versions')),
    sa.UniqueConstraint('number', name=op.f('uq_commission_rule_versions_number'))
    )
    with op.batch_alter_table('commission_rule_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commission_rule_versions_effective_from'), ['effective_from'], unique=False)
        batch_op.create_index(batch_op.f('ix_commission_rule_versions_status'), ['status'], unique=False)

    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('leader_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_teams_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['leader_id'], ['distributors.id'], name=op.f('fk_teams_leader_id_distributors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('name', name=op.f('uq_teams_name'))
    )
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_teams_leader_id'), ['leader_id'], unique=False)

    op.create_table('upline_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('distributor_id', sa.Integer(), nullable=False),
    sa.Column('upline_id', sa.Integer(), nullable=True),
    sa.Column('effective_from', sa.DateTime(), nullable=False),
    sa.Column('effective_to', sa.DateTime(), nullable=True),
    sa.Column('note', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_upline_links_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['distributor_id'], ['distributors.id'], name=op.f('fk_upline_links_distributor_id_distributors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['upline_id'], ['distributors.id'], name=op.f('fk_upline_links_upline_id_distributors'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upline_links'))
    )
    with op.batch_alter_table('upline_links', schema=None) as batch_op:
        batch_op.create_index('ix_upline_links_at', ['distributor_id', 'effective_from'], unique=False)
        batch_op.create_index(batch_op.f('ix_upline_links_upline_id'), ['upline_id'], unique=False)

    # The tree as it stands becomes the first link of every distributor that has an upline.
    op.execute("INSERT INTO upline_links (distributor_id, upline_id, effective_from, note, created_at) "
               "SELECT id, upline_id, created_at, 'backfilled', created_at FROM distributors "
               "WHERE upline_id IS NOT NULL")
    op.create_table('commission_reward_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('percent', sa.Numeric(precision=7, scale=3), nullable=True),
    sa.Column('min_new_downlines', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['version_id'], ['commission_rule_versions.id'], name=op.f('fk_commission_reward_rules_version_id_commission_rule_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commission_reward_rules'))
    )
    with op.batch_alter_table('commission_reward_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commission_reward_rules_version_id'), ['version_id'], unique=False)

    op.create_table('commission_rule_levels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('rate', sa.Numeric(precision=7, scale=3), nullable=False),
    sa.Column('min_personal_volume', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.CheckConstraint('rate >= 0 AND rate <= 100', name=op.f('ck_commission_rule_levels_rate_range')),
    sa.ForeignKeyConstraint(['version_id'], ['commission_rule_versions.id'], name=op.f('fk_commission_rule_levels_version_id_commission_rule_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commission_rule_levels')),
    sa.UniqueConstraint('version_id', 'level', name=op.f('uq_commission_rule_levels_version_id'))
    )
    op.create_table('commission_rule_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('distributor_level', sa.String(length=8), nullable=True),
    sa.Column('level', sa.Integer(), nullable=True),
    sa.Column('rate', sa.Numeric(precision=7, scale=3), nullable=False),
    sa.CheckConstraint('rate >= 0 AND rate <= 100', name=op.f('ck_commission_rule_overrides_override_rate_range')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_commission_rule_overrides_category_id_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_commission_rule_overrides_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['commission_rule_versions.id'], name=op.f('fk_commission_rule_overrides_version_id_commission_rule_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commission_rule_overrides'))
    )
    with op.batch_alter_table('commission_rule_overrides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commission_rule_overrides_version_id'), ['version_id'], unique=False)

    op.create_table('commission_settlement_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('distributors_total', sa.Integer(), nullable=False),
    sa.Column('distributors_done', sa.Integer(), nullable=False),
    sa.Column('statements_created', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_commission_settlement_runs_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_commission_settlement_runs_job_id_jobs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commission_settlement_runs')),
    sa.UniqueConstraint('period', name=op.f('uq_commission_settlement_runs_period'))
    )
    op.create_table('team_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('distributor_id', sa.Integer(), nullable=False),
    sa.Column('joined_at', sa.DateTime(), nullable=False),
    sa.Column('left_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['distributor_id'], ['distributors.id'], name=op.f('fk_team_members_distributor_id_distributors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_members_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team_members')),
    sa.UniqueConstraint('team_id', 'distributor_id', 'joined_at', name=op.f('uq_team_members_team_id'))
    )
    with op.batch_alter_table('team_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_members_team_id'), ['team_id'], unique=False)
        batch_op.create_index('uq_team_members_open', ['distributor_id'], unique=True, sqlite_where=sa.text('left_at IS NULL'), postgresql_where=sa.text('left_at IS NULL'))

    op.create_table('commission_statements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('distributor_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('accruals', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('clawbacks', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('rewards', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('adjustments', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('carried_in', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('payout', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('carried_out', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('carried_into_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('payment_reference', sa.String(length=64), nullable=False),
    sa.Column('paid_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['carried_into_id'], ['commission_statements.id'], name=op.f('fk_commission_statements_carried_into_id_commission_statements'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_commission_statements_confirmed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['distributor_id'], ['distributors.id'], name=op.f('fk_commission_statements_distributor_id_distributors')),
    sa.ForeignKeyConstraint(['paid_by_id'], ['users.id'], name=op.f('fk_commission_statements_paid_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['run_id'], ['commission_settlement_runs.id'], name=op.f('fk_commission_statements_run_id_commission_settlement_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commission_statements')),
    sa.UniqueConstraint('distributor_id', 'period', name='uq_statement_period'),
    sa.UniqueConstraint('number', name=op.f('uq_commission_statements_number'))
    )
    with op.batch_alter_table('commission_statements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_commission_statements_distributor_id'), ['distributor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_commission_statements_period'), ['period'], unique=False)
        batch_op.create_index(batch_op.f('ix_commission_statements_status'), ['status'], unique=False)

    op.create_table('commission_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('base', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('rate', sa.Numeric(precision=7, scale=3), nullable=True),
    sa.Column('rule_version_id', sa.Integer(), nullable=True),
    sa.Column('reward_rule_id', sa.Integer(), nullable=True),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('available_on', sa.Date(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.Column('key', sa.String(length=120), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('hold_reason', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['distributors.id'], name=op.f('fk_commission_entries_beneficiary_id_distributors')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_commission_entries_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_commission_entries_order_id_orders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reward_rule_id'], ['commission_reward_rules.id'], name=op.f('fk_commission_entries_reward_rule_id_commission_reward_rules'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['rule_version_id'], ['commission_rule_versions.id'], name=op.f('fk_commission_entries_rule_version_id_commission_rule_versions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['statement_id'], ['commission_statements.id'], name=op.f('fk_commission_entries_statement_id_commission_statements'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commission_entries')),
    sa.UniqueConstraint('key', name=op.f('uq_commission_entries_key')),
    sa.UniqueConstraint('order_id', 'beneficiary_id', 'level', 'kind', name='uq_commission_entry')
    )
    with op.batch_alter_table('commission_entries', schema=None) as batch_op:
        batch_op.create_index('ix_commission_entries_open', ['beneficiary_id', 'statement_id', 'available_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_commission_entries_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_commission_entries_period', ['period', 'beneficiary_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_commission_entries_statement_id'), ['statement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_commission_entries_status'), ['status'], unique=False)



def downgrade():
    with op.batch_alter_table('commission_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commission_entries_status'))
        batch_op.drop_index(batch_op.f('ix_commission_entries_statement_id'))
        batch_op.drop_index('ix_commission_entries_period')
        batch_op.drop_index(batch_op.f('ix_commission_entries_order_id'))
        batch_op.drop_index('ix_commission_entries_open')

    op.drop_table('commission_entries')
    with op.batch_alter_table('commission_statements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commission_statements_status'))
        batch_op.drop_index(batch_op.f('ix_commission_statements_period'))
        batch_op.drop_index(batch_op.f('ix_commission_statements_distributor_id'))

    op.drop_table('commission_statements')
    with op.batch_alter_table('team_members', schema=None) as batch_op:
        batch_op.drop_index('uq_team_members_open', sqlite_where=sa.text('left_at IS NULL'), postgresql_where=sa.text('left_at IS NULL'))
        batch_op.drop_index(batch_op.f('ix_team_members_team_id'))

    op.drop_table('team_members')
    op.drop_table('commission_settlement_runs')
    with op.batch_alter_table('commission_rule_overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commission_rule_overrides_version_id'))

    op.drop_table('commission_rule_overrides')
    op.drop_table('commission_rule_levels')
    with op.batch_alter_table('commission_reward_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commission_reward_rules_version_id'))

    op.drop_table('commission_reward_rules')
    with op.batch_alter_table('upline_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upline_links_upline_id'))
        batch_op.drop_index('ix_upline_links_at')

    op.drop_table('upline_links')
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_teams_leader_id'))

    op.drop_table('teams')
    with op.batch_alter_table('commission_rule_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_commission_rule_versions_status'))
        batch_op.drop_index(batch_op.f('ix_commission_rule_versions_effective_from'))

    op.drop_table('commission_rule_versions')
    with op.batch_alter_table('distributors', schema=None) as batch_op:
        batch_op.drop_column('bank_account')
        batch_op.drop_column('bank_account_name')
        batch_op.drop_column('bank_name')
