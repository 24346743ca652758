"""ledger: index by subject and time, for the lifecycle rules

The rules ask of each person "any ledger row since the cut-off?"; (subject_id, occurred_at)
answers it without reading the person's whole history, and serves every look-up by subject
alone, so it replaces the index on subject_id. It is made before the old one goes, so the
ledger is never without an index by subject.

Revision ID: 6baa3998c396
Revises: c3def68912a7
Create Date: 2026-11-30 14:52:19.582578

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6baa3998c396'
down_revision = 'c3def68912a7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entry_subject_id_occurred_at', ['subject_id', 'occurred_at'], unique=False)
        batch_op.drop_index(batch_op.f('ix_ledger_entry_subject_id'))


def downgrade():
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entry_subject_id'), ['subject_id'], unique=False)
        batch_op.drop_index('ix_ledger_entry_subject_id_occurred_at')
