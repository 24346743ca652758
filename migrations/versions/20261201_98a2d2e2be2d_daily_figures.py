"""daily figures: the dashboard's per-brand per-day roll-ups, and the indexes of a day's rows

``daily_figures`` is new (nothing existing is locked for it). The indexes let the dashboard
count today's rows, and `flask lifecycle run` a closed day's, by a range instead of a scan:
sign-up requests by (brand, requested) and (brand, confirmed), withdrawals by (brand, time)
(a partial index: withdrawals only), erasures by time. On PostgreSQL each is built under a
SHARE lock of its table, which holds writes to it (sign-ups, consent changes, erasures) for
the time of the build: roughly a second per million rows; the ledger's is the long one.

Revision ID: 98a2d2e2be2d
Revises: 7c3e0f9a41d2
Create Date: 2026-12-01 18:53:18.367170

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '98a2d2e2be2d'
down_revision = '7c3e0f9a41d2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('daily_figures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('brand_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('signups', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('confirmations', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('optouts', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('erasures', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('erasures_once', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('imports', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['brand_id'], ['brand.id'], name=op.f('fk_daily_figures_brand_id_brand'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_figures')),
    sa.UniqueConstraint('brand_id', 'day', name=op.f('uq_daily_figures_brand_id_day')),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('erasure_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_erasure_record_erased_at'), ['erased_at'], unique=False)

    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entry_withdrawals', ['brand_id', 'occurred_at'], unique=False, postgresql_where=sa.text("action = 'withdrawn'"), sqlite_where=sa.text("action = 'withdrawn'"))

    with op.batch_alter_table('signup_request', schema=None) as batch_op:
        batch_op.create_index('ix_signup_request_brand_confirmed', ['brand_id', 'confirmed_at'], unique=False)
        batch_op.create_index('ix_signup_request_brand_requested', ['brand_id', 'requested_at'], unique=False)



def downgrade():
    with op.batch_alter_table('signup_request', schema=None) as batch_op:
        batch_op.drop_index('ix_signup_request_brand_requested')
        batch_op.drop_index('ix_signup_request_brand_confirmed')

    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entry_withdrawals', postgresql_where=sa.text("action = 'withdrawn'"), sqlite_where=sa.text("action = 'withdrawn'"))

    with op.batch_alter_table('erasure_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erasure_record_erased_at'))

    op.drop_table('daily_figures')
