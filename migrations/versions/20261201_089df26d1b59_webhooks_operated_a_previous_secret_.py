"""webhooks operated: a previous secret during a rotation, a worker of their own

After a secret rotation, deliveries carry a second signature made with the previous secret
(encrypted like the current one) until the overlap ends. Webhooks have their own worker
(`flask webhooks work`): heartbeats say which kind of loop wrote them, existing rows being
mail workers.

Revision ID: 089df26d1b59
Revises: 9fb128f9e3fb
Create Date: 2026-12-01 13:11:52.906045

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '089df26d1b59'
down_revision = '9fb128f9e3fb'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_endpoint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_secret', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('previous_secret_until', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('worker_heartbeat', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='mail', nullable=False))



def downgrade():
    with op.batch_alter_table('worker_heartbeat', schema=None) as batch_op:
        batch_op.drop_column('kind')

    with op.batch_alter_table('webhook_endpoint', schema=None) as batch_op:
        batch_op.drop_column('previous_secret_until')
        batch_op.drop_column('previous_secret')

