"""api client keys: a previous key valid during a rotation's overlap

Rotating a client's key keeps the old one (prefix and hash) valid until it is retired or the
overlap ends, so the client's servers can move to the new key one by one. Nullable columns
only: existing clients have no previous key.

Revision ID: 9fb128f9e3fb
Revises: d4baffe8a800
Create Date: 2026-12-01 12:59:48.474950

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9fb128f9e3fb'
down_revision = 'd4baffe8a800'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_client', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_key_prefix', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('previous_key_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('previous_key_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_api_client_previous_key_prefix'), ['previous_key_prefix'])



def downgrade():
    with op.batch_alter_table('api_client', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_api_client_previous_key_prefix'), type_='unique')
        batch_op.drop_column('previous_key_until')
        batch_op.drop_column('previous_key_hash')
        batch_op.drop_column('previous_key_prefix')

