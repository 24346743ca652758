"""a job's start key: a console form that starts a job starts it once

The confirm step of a topic mail carries a one-time key; the job keeps it, unique within the
group, so a double click or a post sent again finds the job it started instead of mailing
everyone twice. Adding a nullable column locks nothing for long; the unique index is built on
the job table, which holds one row per job started (small).

Revision ID: 021ac78198f0
Revises: 6ed2c24b58dc
Create Date: 2026-12-01 12:57:29.573209

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '021ac78198f0'
down_revision = '6ed2c24b58dc'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('start_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_job_start_key', ['group_id', 'start_key'])



def downgrade():
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_constraint('uq_job_start_key', type_='unique')
        batch_op.drop_column('start_key')

