"""passkey names under the person's key

A passkey's name ("Marie's phone") describes the person: new names go, encrypted under the
person's own key, into `label`; `name` keeps the names written before, in clear, until
`flask keys per-person` moves them (it also counts them as waiting in `flask doctor`). Adding
a nullable column and dropping a NOT NULL lock the passkey table only for a moment.

Revision ID: 5a749177d0c3
Revises: bc0a34d6acad
Create Date: 2026-12-01 14:35:01.700874

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5a749177d0c3'
down_revision = 'bc0a34d6acad'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('passkey', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sa.LargeBinary(), nullable=True))
        batch_op.alter_column('name',
               existing_type=sa.VARCHAR(length=60),
               nullable=True)



def downgrade():
    with op.batch_alter_table('passkey', schema=None) as batch_op:
        batch_op.alter_column('name',
               existing_type=sa.VARCHAR(length=60),
               nullable=False)
        batch_op.drop_column('label')

