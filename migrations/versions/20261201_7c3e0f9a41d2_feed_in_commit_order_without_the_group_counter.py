"""feed in commit order without the group's counter; retention of events and deliveries

Events no longer take a number under the site group's row lock (``site_group.event_seq``):
each carries its writing transaction's id (``event.xid``, 0 on SQLite and for the events
already written, which keep their ``seq`` for the cursors handed out with it), and the feed
reads them in (xid, id) order below the snapshot's horizon. ``feed_start`` records, per
group, the last event retention deleted; webhook deliveries get the indexes retention reads
(by creation time, by event: deleting an event checks its deliveries' foreign key).

Locks on PostgreSQL: adding ``xid`` (a constant default) and dropping ``seq``'s NOT NULL and
``site_group.event_seq`` take their table's ACCESS EXCLUSIVE lock for a moment only; the two
new indexes of ``event`` and the two of ``webhook_delivery`` are built under a SHARE lock,
which holds writes of events and deliveries (so every consent change) for the time of a
build: roughly a second per million rows. The old subject index is dropped in the same step.

Revision ID: 7c3e0f9a41d2
Revises: e7a1d3c5b901
Create Date: 2026-12-01 16:05:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7c3e0f9a41d2'
down_revision = 'e7a1d3c5b901'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
KEEP_KEY = {"sqlite_autoincrement": True}  # a rebuilt SQLite table keeps ids never reused


def upgrade():
    with op.batch_alter_table('event', schema=None, table_kwargs=KEEP_KEY) as batch_op:
        batch_op.add_column(sa.Column('xid', BIG, server_default='0', nullable=False))
        batch_op.alter_column('seq', existing_type=BIG, nullable=True)
        batch_op.drop_index('ix_event_subject_id')
        batch_op.create_index('ix_event_group_position', ['group_id', 'xid', 'id'], unique=False)
        batch_op.create_index(
            'ix_event_subject_position', ['subject_id', 'xid', 'id'], unique=False
        )

    with op.batch_alter_table('site_group', schema=None, table_kwargs=KEEP_KEY) as batch_op:
        batch_op.drop_column('event_seq')

    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_delivery_created', ['created_at'], unique=False)
        batch_op.create_index('ix_webhook_delivery_event', ['event_id'], unique=False)

    op.create_table(
        'feed_start',
        sa.Column('group_id', BIG, nullable=False),
        sa.Column('xid', BIG, nullable=False),
        sa.Column('event_id', BIG, nullable=False),
        sa.Column('moved_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['group_id'], ['site_group.id'], name=op.f('fk_feed_start_group_id_site_group')
        ),
        sa.PrimaryKeyConstraint('group_id', name=op.f('pk_feed_start')),
        sqlite_autoincrement=True,
    )


def downgrade():
    op.drop_table('feed_start')
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_delivery_event')
        batch_op.drop_index('ix_webhook_delivery_created')
    with op.batch_alter_table('site_group', schema=None, table_kwargs=KEEP_KEY) as batch_op:
        batch_op.add_column(sa.Column('event_seq', BIG, server_default='0', nullable=False))
    # Events written since get numbers after their group's last one, in feed order.
    op.execute(
        "UPDATE event SET seq = numbered.seq FROM ("
        " SELECT id, COALESCE((SELECT max(seq) FROM event AS old"
        "  WHERE old.group_id = new.group_id), 0)"
        "  + row_number() OVER (PARTITION BY group_id ORDER BY xid, id) AS seq"
        " FROM event AS new WHERE seq IS NULL) AS numbered"
        " WHERE event.id = numbered.id"
    )
    op.execute(
        "UPDATE site_group SET event_seq = COALESCE("
        "(SELECT max(seq) FROM event WHERE event.group_id = site_group.id), 0)"
    )
    with op.batch_alter_table('event', schema=None, table_kwargs=KEEP_KEY) as batch_op:
        batch_op.drop_index('ix_event_subject_position')
        batch_op.drop_index('ix_event_group_position')
        batch_op.create_index('ix_event_subject_id', ['subject_id'], unique=False)
        batch_op.alter_column('seq', existing_type=BIG, nullable=False)
        batch_op.drop_column('xid')
