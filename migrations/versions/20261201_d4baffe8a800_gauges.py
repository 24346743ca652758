"""gauges: monitoring figures computed once per interval by one worker

/metrics used to count the outbox and the sign-up requests on every scrape by every process;
a worker now writes the figures here once per METRICS_INTERVAL_SECONDS. A new small table:
nothing existing is locked.

Revision ID: d4baffe8a800
Revises: 021ac78198f0
Create Date: 2026-12-01 13:29:57.466679

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4baffe8a800'
down_revision = '021ac78198f0'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('gauge',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('value', sa.Double(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_gauge'))
    )


def downgrade():
    op.drop_table('gauge')
