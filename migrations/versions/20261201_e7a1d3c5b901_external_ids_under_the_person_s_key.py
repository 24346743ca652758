"""external ids under the person's key

A client's customer number names a person: new ids are found by their keyed hash
(`value_hash`, unique per client) and kept under the person's own key (`sealed_value`), so an
erasure leaves nothing readable of them. `value` keeps the ids written before, in clear, until
`flask keys per-person` moves them (`flask doctor` counts them as waiting); until then they are
still found. Adding nullable columns and a unique index locks the table only for a moment.

Revision ID: e7a1d3c5b901
Revises: 68bf277babf5
Create Date: 2026-12-01 16:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7a1d3c5b901'
down_revision = '68bf277babf5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('external_id', schema=None) as batch_op:
        batch_op.add_column(sa.Column('value_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('sealed_value', sa.LargeBinary(), nullable=True))
        batch_op.alter_column('value', existing_type=sa.VARCHAR(length=100), nullable=True)
        batch_op.create_unique_constraint(
            batch_op.f('uq_external_id_client_id_value_hash'), ['client_id', 'value_hash']
        )


def downgrade():
    # Ids written since the upgrade exist only hashed and sealed: they cannot go back to clear.
    op.execute(sa.text("DELETE FROM external_id WHERE value IS NULL"))
    with op.batch_alter_table('external_id', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_external_id_client_id_value_hash'), type_='unique')
        batch_op.alter_column('value', existing_type=sa.VARCHAR(length=100), nullable=False)
        batch_op.drop_column('sealed_value')
        batch_op.drop_column('value_hash')
