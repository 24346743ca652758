"""queue claims read partial indexes: only the rows still waiting

The outbox, address requests, webhook deliveries and jobs were claimed through indexes over
every row, sent and done ones included: the index grew with the table's whole history. Each
claim now reads a partial index of the waiting rows alone, the size of the backlog. Building
one reads the whole table once and blocks writes to it meanwhile (seconds for a million rows);
on a very large outbox, create the new indexes by hand with CREATE INDEX CONCURRENTLY first.

Revision ID: bc0a34d6acad
Revises: d15980762ef1
Create Date: 2026-12-01 14:12:04.493280

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'bc0a34d6acad'
down_revision = 'd15980762ef1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('address_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_address_request_due'))
        batch_op.create_index('ix_address_request_due', ['next_attempt_at', 'id'], unique=False, postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))

    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_due'))
        batch_op.create_index('ix_job_due', ['id'], unique=False, postgresql_where=sa.text("state IN ('queued', 'running')"), sqlite_where=sa.text("state IN ('queued', 'running')"))

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_due'))
        batch_op.create_index('ix_outbox_due', ['next_attempt_at', 'id'], unique=False, postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))

    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_due'))
        batch_op.create_index('ix_webhook_due', ['next_attempt_at', 'id'], unique=False, postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))



def downgrade():
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_due', postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))
        batch_op.create_index(batch_op.f('ix_webhook_due'), ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_due', postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))
        batch_op.create_index(batch_op.f('ix_outbox_due'), ['status', 'next_attempt_at'], unique=False)

    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_due', postgresql_where=sa.text("state IN ('queued', 'running')"), sqlite_where=sa.text("state IN ('queued', 'running')"))
        batch_op.create_index(batch_op.f('ix_job_due'), ['state', 'id'], unique=False)

    with op.batch_alter_table('address_request', schema=None) as batch_op:
        batch_op.drop_index('ix_address_request_due', postgresql_where=sa.text("status = 'queued'"), sqlite_where=sa.text("status = 'queued'"))
        batch_op.create_index(batch_op.f('ix_address_request_due'), ['status', 'next_attempt_at'], unique=False)

