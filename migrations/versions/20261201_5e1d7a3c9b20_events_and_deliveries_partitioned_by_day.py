"""events and webhook deliveries partitioned by day on PostgreSQL

On PostgreSQL ``event`` and ``webhook_delivery`` become tables partitioned by range of
``created_at``, a partition a day (``portal.core.kernel.partitions``), so that retention drops
whole days. The rows are not copied: the table as it was is attached as the first partition
(``<table>_plegacy``, every row created before the end of the day after the upgrade), beside a
default partition and the next two days'. A partitioned table's keys must hold the partition
key: the primary key becomes (id, created_at) (``created_at`` NOT NULL, on SQLite too), the
unique (group_id, seq) of the events before the feed's commit order becomes a plain index (no
number is given any more), and the deliveries' foreign key to their event goes.

Locks on PostgreSQL (README, "Upgrading"): both tables are held under ACCESS EXCLUSIVE (no read,
no write) until the upgrade commits, for two scans and one index build of each (the NOT NULL
check, the (id, created_at) key, the partition bound check), about 2 s per million rows.

Revision ID: 5e1d7a3c9b20
Revises: 1422728d37c2
Create Date: 2026-12-01 19:00:00.000000

"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5e1d7a3c9b20'
down_revision = '1422728d37c2'
branch_labels = None
depends_on = None

KEEP_KEY = {"sqlite_autoincrement": True}  # a rebuilt SQLite table keeps ids never reused
WHEN = sa.DateTime(timezone=True)

# Per table: the indexes of today's schema (name, definition), its foreign keys (name,
# definition), beside the primary key "pk_<table>" on id and created_at.
TABLES = {
    "event": {
        "indexes": [
            ("ix_event_group_created", "(group_id, created_at)"),
            ("ix_event_group_position", "(group_id, xid, id)"),
            ("ix_event_subject_position", "(subject_id, xid, id)"),
        ],
        "foreign_keys": [
            ("fk_event_brand_id_brand", "(brand_id) REFERENCES brand (id)"),
            ("fk_event_client_id_api_client", "(client_id) REFERENCES api_client (id)"),
            ("fk_event_group_id_site_group", "(group_id) REFERENCES site_group (id)"),
            ("fk_event_subject_id_subject", "(subject_id) REFERENCES subject (id)"),
        ],
    },
    "webhook_delivery": {
        "indexes": [
            ("ix_webhook_delivery_created", "(created_at)"),
            ("ix_webhook_delivery_endpoint_id", "(endpoint_id)"),
            ("ix_webhook_delivery_event", "(event_id)"),
            ("ix_webhook_delivery_order", "(endpoint_id, subject_id, status, id)"),
            ("ix_webhook_due", "(next_attempt_at, id) WHERE status = 'queued'"),
        ],
        "foreign_keys": [
            (
                "fk_webhook_delivery_endpoint_id_webhook_endpoint",
                "(endpoint_id) REFERENCES webhook_endpoint (id)",
            ),
        ],
    },
}
SEQ_INDEX = ("ix_event_group_seq", "(group_id, seq) WHERE seq IS NOT NULL")


def _day(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def _literal(moment: datetime) -> str:
    return f"'{moment.isoformat(sep=' ')}'"


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return _upgrade_sqlite()
    op.execute("SET LOCAL TimeZone = 'UTC'")
    op.execute(
        "ALTER TABLE webhook_delivery DROP CONSTRAINT fk_webhook_delivery_event_id_event"
    )
    op.execute("ALTER TABLE event DROP CONSTRAINT uq_event_group_id_seq")
    for table, parts in TABLES.items():
        extra = [SEQ_INDEX] if table == "event" else []
        _partition(table, parts["indexes"] + extra, parts["foreign_keys"])


def _partition(table: str, indexes, foreign_keys) -> None:
    bind = op.get_bind()
    bind.execute(sa.text(f"UPDATE {table} SET created_at = now() WHERE created_at IS NULL"))
    newest = bind.scalar(sa.text(f"SELECT max(created_at) FROM {table}"))
    now = datetime.now(UTC)
    end = _day(max(now, newest or now)) + timedelta(days=1)
    legacy = f"{table}_plegacy"
    # The table as it is becomes the first partition: its key gets created_at, its indexes
    # and constraints other names, so that the parent's take the names the models know.
    op.execute(f"ALTER TABLE {table} ALTER COLUMN created_at SET NOT NULL")
    op.execute(f"CREATE UNIQUE INDEX {legacy}_key ON {table} (id, created_at)")
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}")
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT {legacy}_key PRIMARY KEY USING INDEX {legacy}_key"
    )
    for name, _ in indexes:
        if name != SEQ_INDEX[0]:
            op.execute(f"ALTER INDEX {name} RENAME TO {f'{legacy}_{name}'[:63]}")
    op.execute(f"ALTER TABLE {table} RENAME TO {legacy}")
    op.execute(
        f"CREATE TABLE {table} (LIKE {legacy} INCLUDING DEFAULTS)"
        " PARTITION BY RANGE (created_at)"
    )
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id, created_at)")
    for name, definition in foreign_keys:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY {definition}")
    for name, definition in indexes:
        columns, _, where = definition.partition(" WHERE ")
        op.execute(
            f"CREATE INDEX {name} ON {table} {columns}" + (f" WHERE {where}" if where else "")
        )
    # The parent's key, indexes and foreign keys find their match in the legacy partition
    # and take it over (nothing rebuilt); its bound is checked by one scan.
    op.execute(
        f"ALTER TABLE {table} ATTACH PARTITION {legacy}"
        f" FOR VALUES FROM (MINVALUE) TO ({_literal(end)})"
    )
    op.execute(f"CREATE TABLE {table}_pdefault PARTITION OF {table} DEFAULT")
    for offset in range(2):
        start = end + timedelta(days=offset)
        op.execute(
            f"CREATE TABLE {table}_p{start:%Y%m%d} PARTITION OF {table}"
            f" FOR VALUES FROM ({_literal(start)}) TO ({_literal(start + timedelta(days=1))})"
        )


def _upgrade_sqlite():
    for table in TABLES:
        op.execute(
            f"UPDATE {table} SET created_at = strftime('%Y-%m-%d %H:%M:%S.000000', 'now')"
            " WHERE created_at IS NULL"
        )
    with op.batch_alter_table('event', schema=None, table_kwargs=KEEP_KEY) as batch_op:
        batch_op.drop_constraint('uq_event_group_id_seq', type_='unique')
        batch_op.alter_column('created_at', existing_type=WHEN, nullable=False)
        batch_op.create_index(
            'ix_event_group_seq',
            ['group_id', 'seq'],
            unique=False,
            sqlite_where=sa.text('seq IS NOT NULL'),
        )
    with op.batch_alter_table('webhook_delivery', schema=None, table_kwargs=KEEP_KEY) as batch_op:
        batch_op.drop_constraint('fk_webhook_delivery_event_id_event', type_='foreignkey')
        batch_op.alter_column('created_at', existing_type=WHEN, nullable=False)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return _downgrade_sqlite()
    for table, parts in TABLES.items():
        _unpartition(table, parts["indexes"], parts["foreign_keys"])
    op.execute("ALTER TABLE event ADD CONSTRAINT uq_event_group_id_seq UNIQUE (group_id, seq)")
    op.execute(
        "ALTER TABLE webhook_delivery ADD CONSTRAINT fk_webhook_delivery_event_id_event"
        " FOREIGN KEY (event_id) REFERENCES event (id)"
    )


def _unpartition(table: str, indexes, foreign_keys) -> None:
    """Back to one plain table: every row copied into it (the table is held meanwhile)."""
    op.execute(f"CREATE TABLE {table}_plain (LIKE {table} INCLUDING DEFAULTS)")
    op.execute(f"INSERT INTO {table}_plain SELECT * FROM {table}")
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
    op.execute(f"DROP TABLE {table} CASCADE")
    op.execute(f"ALTER TABLE {table}_plain RENAME TO {table}")
    op.execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    op.execute(f"ALTER TABLE {table} ALTER COLUMN created_at DROP NOT NULL")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id)")
    for name, definition in foreign_keys:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY {definition}")
    for name, definition in indexes:
        columns, _, where = definition.partition(" WHERE ")
        op.execute(
            f"CREATE INDEX {name} ON {table} {columns}" + (f" WHERE {where}" if where else "")
        )


def _downgrade_sqlite():
    with op.batch_alter_table('webhook_delivery', schema=None, table_kwargs=KEEP_KEY) as batch_op:
        batch_op.alter_column('created_at', existing_type=WHEN, nullable=True)
        batch_op.create_foreign_key(
            'fk_webhook_delivery_event_id_event', 'event', ['event_id'], ['id']
        )
    with op.batch_alter_table('event', schema=None, table_kwargs=KEEP_KEY) as batch_op:
        batch_op.drop_index('ix_event_group_seq')
        batch_op.alter_column('created_at', existing_type=WHEN, nullable=True)
        batch_op.create_unique_constraint('uq_event_group_id_seq', ['group_id', 'seq'])
