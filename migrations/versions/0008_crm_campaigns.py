"""CRM and campaigns: customer kinds, sources, owners, phones, addresses, tags, RFM tiers, visits and follow-ups; campaigns and the campaign that priced an order line.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:47:25.455965

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('customer_tag_names',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_tag_names')),
    sa.UniqueConstraint('name', name=op.f('uq_customer_tag_names_name'))
    )
    op.create_table('customer_tier_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=8), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('min_score', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_tier_rules')),
    sa.UniqueConstraint('code', name=op.f('uq_customer_tier_rules_code'))
    )
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('objective', sa.Text(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('mechanism', sa.String(length=12), nullable=False),
    sa.Column('percent_off', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('fixed_price', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('buy_n', sa.Integer(), nullable=True),
    sa.Column('get_m', sa.Integer(), nullable=True),
    sa.Column('budget', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('cost', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint('budget >= 0 AND cost >= 0', name=op.f('ck_campaigns_money_not_negative')),
    sa.CheckConstraint('ends_on >= starts_on', name=op.f('ck_campaigns_period_in_order')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['users.id'], name=op.f('fk_campaigns_approved_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_campaigns_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('code', name=op.f('uq_campaigns_code'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_status'), ['status'], unique=False)

    op.create_table('campaign_products',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_products_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_campaign_products_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('campaign_id', 'product_id', name=op.f('pk_campaign_products'))
    )
    with op.batch_alter_table('campaign_products', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_products_product_id'), ['product_id'], unique=False)

    op.create_table('campaign_regions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_regions_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_campaign_regions_region_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_regions')),
    sa.UniqueConstraint('campaign_id', 'region_code', name=op.f('uq_campaign_regions_campaign_id'))
    )
    with op.batch_alter_table('campaign_regions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_regions_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('customer_addresses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=32), nullable=False),
    sa.Column('region_code', sa.String(length=6), nullable=False),
    sa.Column('street', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=255), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_addresses_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_customer_addresses_region_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_addresses'))
    )
    with op.batch_alter_table('customer_addresses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_addresses_customer_id'), ['customer_id'], unique=False)

    op.create_table('customer_interactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('distributor_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=True),
    sa.Column('happened_at', sa.DateTime(), nullable=True),
    sa.Column('contact_person', sa.String(length=120), nullable=False),
    sa.Column('outcome', sa.String(length=255), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('follow_up_on', sa.Date(), nullable=True),
    sa.Column('follow_up_done_at', sa.DateTime(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_interactions_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['distributor_id'], ['distributors.id'], name=op.f('fk_customer_interactions_distributor_id_distributors')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_customer_interactions_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_interactions'))
    )
    with op.batch_alter_table('customer_interactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_interactions_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_interactions_user_id'), ['user_id'], unique=False)
        batch_op.create_index('ix_interactions_distributor_status', ['distributor_id', 'status'], unique=False)
        batch_op.create_index('ix_interactions_follow_up', ['follow_up_on', 'follow_up_done_at'], unique=False)

    op.create_table('customer_phones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_phones_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_phones')),
    sa.UniqueConstraint('customer_id', 'number', name=op.f('uq_customer_phones_customer_id'))
    )
    with op.batch_alter_table('customer_phones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_phones_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_phones_number'), ['number'], unique=False)

    op.create_table('customer_tags',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_tags_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['customer_tag_names.id'], name=op.f('fk_customer_tags_tag_id_customer_tag_names'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', 'tag_id', name=op.f('pk_customer_tags'))
    )
    with op.batch_alter_table('customer_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_tags_tag_id'), ['tag_id'], unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=8), nullable=False, server_default='person'))
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False, server_default='other'))
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('api_client_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rfm_recency', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rfm_frequency', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rfm_monetary', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rfm_score', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_order_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('scored_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('tier', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('tier_override', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('tier_override_reason', sa.String(length=255), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('tier_overridden_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('tier_overridden_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_customers_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_rfm_score'), ['rfm_score'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_last_order_at'), ['last_order_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_tier'), ['tier'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_customers_tier_overridden_by_id_users'), 'users', ['tier_overridden_by_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_customers_owner_id_users'), 'users', ['owner_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_customers_api_client_id_api_clients'), 'api_clients', ['api_client_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_customers_api_client_id'), ['api_client_id'], unique=False)

    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_order_lines_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_order_lines_campaign_id_campaigns'), 'campaigns', ['campaign_id'], ['id'], ondelete='SET NULL')

    # Every customer so far had one address on its row: it becomes its default address.
    op.execute("INSERT INTO customer_addresses (customer_id, label, region_code, street, address, is_default) "
               "SELECT id, '', region_code, street, address, TRUE FROM customers WHERE region_code IS NOT NULL")
    # The default tiers (HQ can change them): A from an RFM score of 12, B from 8, C below.
    tiers = sa.table("customer_tier_rules", sa.column("code", sa.String), sa.column("name", sa.String),
                     sa.column("min_score", sa.Integer))
    op.bulk_insert(tiers, [{"code": "A", "name": "A", "min_score": 12}, {"code": "B", "name": "B", "min_score": 8},
                           {"code": "C", "name": "C", "min_score": 0}])


def downgrade():
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_order_lines_campaign_id_campaigns'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_order_lines_campaign_id'))
        batch_op.drop_column('campaign_id')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_customers_owner_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_customers_tier_overridden_by_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_customers_tier'))
        batch_op.drop_index(batch_op.f('ix_customers_last_order_at'))
        batch_op.drop_index(batch_op.f('ix_customers_rfm_score'))
        batch_op.drop_index(batch_op.f('ix_customers_owner_id'))
        batch_op.drop_column('tier_overridden_at')
        batch_op.drop_column('tier_overridden_by_id')
        batch_op.drop_column('tier_override_reason')
        batch_op.drop_column('tier_override')
        batch_op.drop_column('tier')
        batch_op.drop_column('scored_at')
        batch_op.drop_column('last_order_at')
        batch_op.drop_column('rfm_score')
        batch_op.drop_column('rfm_monetary')
        batch_op.drop_column('rfm_frequency')
        batch_op.drop_column('rfm_recency')
        batch_op.drop_column('owner_id')
        batch_op.drop_column('source')
        batch_op.drop_column('kind')

    with op.batch_alter_table('customer_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_tags_tag_id'))

    op.drop_table('customer_tags')
    with op.batch_alter_table('customer_phones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_phones_number'))
        batch_op.drop_index(batch_op.f('ix_customer_phones_customer_id'))

    op.drop_table('customer_phones')
    with op.batch_alter_table('customer_interactions', schema=None) as batch_op:
        batch_op.drop_index('ix_interactions_follow_up')
        batch_op.drop_index('ix_interactions_distributor_status')
        batch_op.drop_index(batch_op.f('ix_customer_interactions_user_id'))
        batch_op.drop_index(batch_op.f('ix_customer_interactions_customer_id'))

    op.drop_table('customer_interactions')
    with op.batch_alter_table('customer_addresses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_addresses_customer_id'))

    op.drop_table('customer_addresses')
    with op.batch_alter_table('campaign_regions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_regions_campaign_id'))

    op.drop_table('campaign_regions')
    with op.batch_alter_table('campaign_products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_products_product_id'))

    op.drop_table('campaign_products')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaigns_status'))

    op.drop_table('campaigns')
    op.drop_table('customer_tier_rules')
    op.drop_table('customer_tag_names')
