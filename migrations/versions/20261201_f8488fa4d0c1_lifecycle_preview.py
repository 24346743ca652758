"""lifecycle preview: the rules page's counts, made by the worker and stored

The console's retention rules page counted every rule's people in the request (a query of
the whole group per rule); the worker now counts them and stores them here, one row per
group. A new small table: nothing existing is locked.

Revision ID: f8488fa4d0c1
Revises: 98a2d2e2be2d
Create Date: 2026-12-01 19:02:53.794948

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f8488fa4d0c1'
down_revision = '98a2d2e2be2d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('lifecycle_preview',
    sa.Column('group_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['group_id'], ['site_group.id'], name=op.f('fk_lifecycle_preview_group_id_site_group')),
    sa.PrimaryKeyConstraint('group_id', name=op.f('pk_lifecycle_preview')),
    sqlite_autoincrement=True
    )


def downgrade():
    op.drop_table('lifecycle_preview')
