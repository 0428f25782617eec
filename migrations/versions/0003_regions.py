"""Regions: China's administrative divisions (GB/T 2260), loaded from dms/territories/data/regions.csv.

Revision ID: e03870525220
Revises: d49cd0616cca
Create Date: 2026-11-22 05:30:56.935250

"""
import csv
from pathlib import Path

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e03870525220'
down_revision = 'd49cd0616cca'
branch_labels = None
depends_on = None

# The committed data file (see its README); read here, never fetched at run time.
REGIONS_CSV = Path(__file__).resolve().parents[2] / "dms" / "territories" / "data" / "regions.csv"


def upgrade():
    op.create_table('regions',
    sa.Column('code', sa.String(length=6), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('level', sa.String(length=8), nullable=False),
    sa.Column('parent_code', sa.String(length=6), nullable=True),
    sa.ForeignKeyConstraint(['parent_code'], ['regions.code'], name=op.f('fk_regions_parent_code_regions')),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_regions'))
    )
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regions_parent_code'), ['parent_code'], unique=False)

    # Frozen table shape (not the app's model). The file is sorted by code, so parents come first.
    regions = sa.table("regions", sa.column("code", sa.String), sa.column("name", sa.String),
                       sa.column("level", sa.String), sa.column("parent_code", sa.String))
    with REGIONS_CSV.open(encoding="utf-8", newline="") as fh:
        rows = [{**row, "parent_code": row["parent_code"] or None} for row in csv.DictReader(fh)]
    op.bulk_insert(regions, rows)


def downgrade():
    with op.batch_alter_table('regions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regions_parent_code'))

    op.drop_table('regions')
