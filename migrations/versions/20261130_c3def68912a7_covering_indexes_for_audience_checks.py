"""covering indexes for audience checks

The two unique constraints become unique indexes that also carry the column an audience check
reads (PostgreSQL INCLUDE), so a check of 10,000 addresses reads indexes only. The consent index
also serves lookups by subject, so the subject_id index alone goes. On a large PostgreSQL
database, building them holds a write lock on subject and consent for as long as they take
(about a minute for 1,000,000 subjects here): run it in a quiet hour.

Revision ID: c3def68912a7
Revises: 6ecdc0d12b94
Create Date: 2026-11-30 14:46:14.873611

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "c3def68912a7"
down_revision = "6ecdc0d12b94"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_subject_id"))
        batch_op.drop_constraint(
            batch_op.f("uq_consent_subject_id_topic_id_channel"), type_="unique"
        )
        batch_op.create_index(
            "uq_consent_subject_id_topic_id_channel",
            ["subject_id", "topic_id", "channel"],
            unique=True,
            postgresql_include=["state"],
        )

    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_subject_group_id_email_hash"), type_="unique")
        batch_op.create_index(
            "uq_subject_group_id_email_hash",
            ["group_id", "email_hash"],
            unique=True,
            postgresql_include=["id"],
        )


def downgrade():
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.drop_index("uq_subject_group_id_email_hash", postgresql_include=["id"])
        batch_op.create_unique_constraint(
            batch_op.f("uq_subject_group_id_email_hash"), ["group_id", "email_hash"]
        )

    with op.batch_alter_table("consent", schema=None) as batch_op:
        batch_op.drop_index("uq_consent_subject_id_topic_id_channel", postgresql_include=["state"])
        batch_op.create_unique_constraint(
            batch_op.f("uq_consent_subject_id_topic_id_channel"),
            ["subject_id", "topic_id", "channel"],
        )
        batch_op.create_index(batch_op.f("ix_consent_subject_id"), ["subject_id"], unique=False)
