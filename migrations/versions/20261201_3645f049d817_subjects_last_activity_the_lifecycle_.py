"""subjects' last activity: the lifecycle run reads the people who became due

``subject.active_at`` is the person's latest activity, kept as it happens; the inactivity rules
(re-permission, dormancy) read the people before their cut-off by a range of the new index
instead of asking every person of the group. Existing people start with none (adding the
column is instant on PostgreSQL); `flask lifecycle run` fills in 10,000 per group and run.
Building the index reads the subject table once and blocks writes to it meanwhile (seconds
per million people); on a very large table, create it first by hand with
``CREATE INDEX CONCURRENTLY ix_subject_group_id_active_at ON subject (group_id, active_at)``
and this migration leaves it as it is.

Revision ID: 3645f049d817
Revises: 5a749177d0c3
Create Date: 2026-12-01 16:34:50.493644

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3645f049d817'
down_revision = '5a749177d0c3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subject', schema=None) as batch_op:
        batch_op.add_column(sa.Column('active_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        'ix_subject_group_id_active_at', 'subject', ['group_id', 'active_at'], unique=False,
        if_not_exists=True,
    )


def downgrade():
    op.drop_index('ix_subject_group_id_active_at', table_name='subject')
    with op.batch_alter_table('subject', schema=None) as batch_op:
        batch_op.drop_column('active_at')
