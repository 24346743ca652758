"""lifecycle due indexes: every rule reads only the people who may be due

Like ``subject.active_at`` for the inactivity rules, the other rules now start from a range
of an index whose rows are the people in the rule's state, by the time its clock started:
sign-ups never confirmed (``subject`` partial on status 'pending', and ``signup_request``
partial on requests unconfirmed), re-permission mails still open (``lifecycle_notice``
partial), profile fields by name and last confirmation, former customers by the date they
became one (``subject`` partial). On PostgreSQL each is built under a SHARE lock of its
table, holding writes to it for the time of the build: roughly a second per million rows
(the partial ones read the whole table but hold few rows).

Revision ID: 1422728d37c2
Revises: f8488fa4d0c1
Create Date: 2026-12-01 19:11:21.738304

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '1422728d37c2'
down_revision = 'f8488fa4d0c1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lifecycle_notice', schema=None) as batch_op:
        batch_op.create_index('ix_lifecycle_notice_open_repermission', ['sent_at'], unique=False, postgresql_where=sa.text("rule = 'repermission' AND answered_at IS NULL AND lapsed_at IS NULL"), sqlite_where=sa.text("rule = 'repermission' AND answered_at IS NULL AND lapsed_at IS NULL"))

    with op.batch_alter_table('profile_field', schema=None) as batch_op:
        batch_op.create_index('ix_profile_field_name_confirmed_at', ['name', 'confirmed_at'], unique=False)

    with op.batch_alter_table('signup_request', schema=None) as batch_op:
        batch_op.create_index('ix_signup_request_unconfirmed', ['requested_at'], unique=False, postgresql_where=sa.text('confirmed_at IS NULL'), sqlite_where=sa.text('confirmed_at IS NULL'))

    with op.batch_alter_table('subject', schema=None) as batch_op:
        batch_op.create_index('ix_subject_former_since', ['group_id', 'relationship_since'], unique=False, postgresql_where=sa.text("relationship_status = 'former_customer'"), sqlite_where=sa.text("relationship_status = 'former_customer'"))
        batch_op.create_index('ix_subject_unconfirmed_since', ['group_id', 'created_at'], unique=False, postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))



def downgrade():
    with op.batch_alter_table('subject', schema=None) as batch_op:
        batch_op.drop_index('ix_subject_unconfirmed_since', postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
        batch_op.drop_index('ix_subject_former_since', postgresql_where=sa.text("relationship_status = 'former_customer'"), sqlite_where=sa.text("relationship_status = 'former_customer'"))

    with op.batch_alter_table('signup_request', schema=None) as batch_op:
        batch_op.drop_index('ix_signup_request_unconfirmed', postgresql_where=sa.text('confirmed_at IS NULL'), sqlite_where=sa.text('confirmed_at IS NULL'))

    with op.batch_alter_table('profile_field', schema=None) as batch_op:
        batch_op.drop_index('ix_profile_field_name_confirmed_at')

    with op.batch_alter_table('lifecycle_notice', schema=None) as batch_op:
        batch_op.drop_index('ix_lifecycle_notice_open_repermission', postgresql_where=sa.text("rule = 'repermission' AND answered_at IS NULL AND lapsed_at IS NULL"), sqlite_where=sa.text("rule = 'repermission' AND answered_at IS NULL AND lapsed_at IS NULL"))

