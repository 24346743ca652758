"""webhook deliveries know their person: order per person by one index probe

Deliveries to one endpoint about one person go in order; the worker asks whether an earlier
one is still queued. With the person's id on the delivery (no foreign key: the order of what
is owed outlives an erasure) that is one probe of the new index, however long the queue of an
endpoint that was down. Rows still queued get the id of their event's person; delivered and
failed ones play no part in the order and keep none.

Revision ID: 7924d8d8fce8
Revises: 089df26d1b59
Create Date: 2026-12-01 13:35:44.465329

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7924d8d8fce8'
down_revision = '089df26d1b59'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_webhook_delivery_order', ['endpoint_id', 'subject_id', 'status', 'id'], unique=False)

    op.execute(
        "UPDATE webhook_delivery SET subject_id = "
        "(SELECT event.subject_id FROM event WHERE event.id = webhook_delivery.event_id) "
        "WHERE status = 'queued'"
    )



def downgrade():
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_delivery_order')
        batch_op.drop_column('subject_id')

