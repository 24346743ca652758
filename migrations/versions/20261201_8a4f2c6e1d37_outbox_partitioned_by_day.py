"""outbox partitioned by day on PostgreSQL

As ``event`` and ``webhook_delivery`` before it (5e1d7a3c9b20): on PostgreSQL
``outbox_message`` becomes a table partitioned by range of ``created_at``, a partition a day,
so that OUTBOX_KEEP_DAYS drops whole days. No row is copied: the table as it was is attached as
the first partition (``outbox_message_plegacy``), beside a default partition and the next two
days'. Its primary key becomes (id, created_at) and ``created_at`` NOT NULL (on SQLite too);
no foreign key points at it.

Locks on PostgreSQL: ``outbox_message`` is held under ACCESS EXCLUSIVE (no mail queued or
sent) until the upgrade commits, for one index build and three scans (README, "Upgrades").

Revision ID: 8a4f2c6e1d37
Revises: 5e1d7a3c9b20
Create Date: 2026-12-01 19:20:00.000000

"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '8a4f2c6e1d37'
down_revision = '5e1d7a3c9b20'
branch_labels = None
depends_on = None

KEEP_KEY = {"sqlite_autoincrement": True}  # a rebuilt SQLite table keeps ids never reused
WHEN = sa.DateTime(timezone=True)
TABLE = "outbox_message"
INDEXES = [
    ("ix_outbox_due", "(next_attempt_at, id) WHERE status = 'queued'"),
    ("ix_outbox_message_subject_id", "(subject_id)"),
]
FOREIGN_KEYS = [
    ("fk_outbox_message_group_id_site_group", "(group_id) REFERENCES site_group (id)"),
    ("fk_outbox_message_subject_id_subject", "(subject_id) REFERENCES subject (id)"),
]


def _day(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def _literal(moment: datetime) -> str:
    return f"'{moment.isoformat(sep=' ')}'"


def _create_indexes(table: str) -> None:
    for name, definition in INDEXES:
        columns, _, where = definition.partition(" WHERE ")
        op.execute(
            f"CREATE INDEX {name} ON {table} {columns}" + (f" WHERE {where}" if where else "")
        )


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        op.execute(
            f"UPDATE {TABLE} SET created_at = strftime('%Y-%m-%d %H:%M:%S.000000', 'now')"
            " WHERE created_at IS NULL"
        )
        with op.batch_alter_table(TABLE, schema=None, table_kwargs=KEEP_KEY) as batch_op:
            batch_op.alter_column('created_at', existing_type=WHEN, nullable=False)
        return
    op.execute("SET LOCAL TimeZone = 'UTC'")
    bind = op.get_bind()
    bind.execute(sa.text(f"UPDATE {TABLE} SET created_at = now() WHERE created_at IS NULL"))
    newest = bind.scalar(sa.text(f"SELECT max(created_at) FROM {TABLE}"))
    now = datetime.now(UTC)
    end = _day(max(now, newest or now)) + timedelta(days=1)
    legacy = f"{TABLE}_plegacy"
    op.execute(f"ALTER TABLE {TABLE} ALTER COLUMN created_at SET NOT NULL")
    op.execute(f"CREATE UNIQUE INDEX {legacy}_key ON {TABLE} (id, created_at)")
    op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT pk_{TABLE}")
    op.execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT {legacy}_key PRIMARY KEY USING INDEX {legacy}_key"
    )
    for name, _ in INDEXES:
        op.execute(f"ALTER INDEX {name} RENAME TO {f'{legacy}_{name}'[:63]}")
    op.execute(f"ALTER TABLE {TABLE} RENAME TO {legacy}")
    op.execute(
        f"CREATE TABLE {TABLE} (LIKE {legacy} INCLUDING DEFAULTS) PARTITION BY RANGE (created_at)"
    )
    op.execute(f"ALTER SEQUENCE {TABLE}_id_seq OWNED BY {TABLE}.id")
    op.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT pk_{TABLE} PRIMARY KEY (id, created_at)")
    for name, definition in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} FOREIGN KEY {definition}")
    _create_indexes(TABLE)
    op.execute(
        f"ALTER TABLE {TABLE} ATTACH PARTITION {legacy}"
        f" FOR VALUES FROM (MINVALUE) TO ({_literal(end)})"
    )
    op.execute(f"CREATE TABLE {TABLE}_pdefault PARTITION OF {TABLE} DEFAULT")
    for offset in range(2):
        start = end + timedelta(days=offset)
        op.execute(
            f"CREATE TABLE {TABLE}_p{start:%Y%m%d} PARTITION OF {TABLE}"
            f" FOR VALUES FROM ({_literal(start)}) TO ({_literal(start + timedelta(days=1))})"
        )


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table(TABLE, schema=None, table_kwargs=KEEP_KEY) as batch_op:
            batch_op.alter_column('created_at', existing_type=WHEN, nullable=True)
        return
    # Back to one plain table: every row copied into it (the table is held meanwhile).
    op.execute(f"CREATE TABLE {TABLE}_plain (LIKE {TABLE} INCLUDING DEFAULTS)")
    op.execute(f"INSERT INTO {TABLE}_plain SELECT * FROM {TABLE}")
    op.execute(f"ALTER SEQUENCE {TABLE}_id_seq OWNED BY NONE")
    op.execute(f"DROP TABLE {TABLE} CASCADE")
    op.execute(f"ALTER TABLE {TABLE}_plain RENAME TO {TABLE}")
    op.execute(f"ALTER SEQUENCE {TABLE}_id_seq OWNED BY {TABLE}.id")
    op.execute(f"ALTER TABLE {TABLE} ALTER COLUMN created_at DROP NOT NULL")
    op.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT pk_{TABLE} PRIMARY KEY (id)")
    for name, definition in FOREIGN_KEYS:
        op.execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} FOREIGN KEY {definition}")
    _create_indexes(TABLE)
