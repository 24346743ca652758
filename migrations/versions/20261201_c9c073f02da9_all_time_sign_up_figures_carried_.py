"""all-time sign-up figures carried, waiting requests by brand

The dashboard's confirmation rate counted every sign-up request of the group on every view;
``figures_before`` holds each brand's counts of the days before a day, carried forward by
`flask lifecycle run` (``console.totals``). It is new and small: nothing existing is locked
for it, and until the first run the dashboard counts the records as before. The pending
sign-ups older than 48 hours are read by brand from a partial index of the waiting requests
(``ix_signup_request_brand_unconfirmed``): on PostgreSQL it is built under a SHARE lock of
``signup_request``, which holds sign-ups and confirmations for the time of one scan of the
table, roughly a second per million requests.

Revision ID: c9c073f02da9
Revises: 8a4f2c6e1d37
Create Date: 2026-12-01 21:51:31.781487

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c9c073f02da9'
down_revision = '8a4f2c6e1d37'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('figures_before',
    sa.Column('brand_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('before', sa.Date(), nullable=False),
    sa.Column('signups', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('confirmations', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_figures_before_brand_id_brand'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('brand_id', name=op.f('pk_figures_before')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('signup_request', schema=None) as batch_op:
        batch_op.create_index('ix_signup_request_brand_unconfirmed', ['brand_id', 'requested_at'], unique=False, postgresql_where=sa.text('confirmed_at IS NULL'), sqlite_where=sa.text('confirmed_at IS NULL'))



def downgrade():
    with op.batch_alter_table('signup_request', schema=None) as batch_op:
        batch_op.drop_index('ix_signup_request_brand_unconfirmed', postgresql_where=sa.text('confirmed_at IS NULL'), sqlite_where=sa.text('confirmed_at IS NULL'))

    op.drop_table('figures_before')
