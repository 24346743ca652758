"""admin time zone: the zone a console admin reads dates in (My account)

A nullable column: adding it locks admin_account only for a moment; none means the browser's
zone when known, else the portal's.

Revision ID: 7c3e1f0a2b9d
Revises: 3645f049d817
Create Date: 2026-12-01 16:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c3e1f0a2b9d'
down_revision = '3645f049d817'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('admin_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('admin_account', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
