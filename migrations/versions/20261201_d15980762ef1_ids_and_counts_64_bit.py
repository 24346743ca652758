"""ids, sequence numbers and counts 64-bit; ids never reused on SQLite

PostgreSQL: every integer column becomes bigint, and every sequence behind a key counts in
bigint (a serial's sequence is itself typed integer and would stop at 2^31-1 even in a bigint
column). Each ALTER TABLE rewrites its table under an ACCESS EXCLUSIVE lock: on a large
installation run it in a maintenance window (roughly the time of a full copy of the table:
minutes for tens of millions of ledger rows, see the README's upgrade notes).

SQLite: INTEGER is already 64-bit, but a key without AUTOINCREMENT hands the newest erased
person's id to the next sign-up, and feed events and disposal records would then point at the
wrong person. Every table with an integer key is rebuilt with AUTOINCREMENT (foreign keys are
checked once at the end, as SQLite's own procedure for a table rebuild asks).

Revision ID: d15980762ef1
Revises: a8284e68d407
Create Date: 2026-12-01 13:32:38.330822

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd15980762ef1'
down_revision = 'a8284e68d407'
branch_labels = None
depends_on = None


def _integer_columns(inspector, table):
    return [
        column["name"]
        for column in inspector.get_columns(table)
        if isinstance(column["type"], sa.Integer)
        and not isinstance(column["type"], sa.BigInteger | sa.SmallInteger)
    ]


def _postgresql(bind):
    inspector = sa.inspect(bind)
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        columns = _integer_columns(inspector, table)
        if columns:
            changes = ", ".join(f'ALTER COLUMN "{name}" TYPE bigint' for name in columns)
            op.execute(f'ALTER TABLE "{table}" {changes}')
    for (sequence,) in bind.execute(
        sa.text(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) "
            "FROM pg_sequences WHERE data_type <> 'bigint'::regtype"
        )
    ):
        op.execute(f"ALTER SEQUENCE {sequence} AS bigint MAXVALUE 9223372036854775807")


def _sqlite(bind):
    inspector = sa.inspect(bind)
    for table in inspector.get_table_names():
        key = inspector.get_pk_constraint(table)["constrained_columns"]
        sql = bind.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": table},
        ).scalar()
        if len(key) != 1 or key[0] not in _integer_columns(inspector, table):
            continue
        if "AUTOINCREMENT" in sql.upper():
            continue
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _postgresql(bind)
    elif bind.dialect.name == "sqlite":
        _sqlite(bind)


def downgrade():
    # Narrowing ids back to 32 bits could fail on data and would bring back reused ids: the
    # wider columns stay (the previous revision's code reads them the same way).
    pass
