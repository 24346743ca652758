"""The models and the migrations never drift apart."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from portal.core.kernel import partitions
from portal.extensions import db


def test_migrated_database_matches_the_models(app):
    with db.engine.connect() as connection:
        # A partitioned table's partitions (PostgreSQL) are the model's table, not others.
        opts = {"compare_type": True, "include_name": partitions.include_name(connection)}
        context = MigrationContext.configure(connection, opts=opts)
        differences = compare_metadata(context, db.metadata)
    assert differences == [], "run 'flask db migrate' and commit the migration"


def test_ids_are_64_bit_and_never_handed_out_twice(app):
    """On PostgreSQL no 32-bit integer is left, sequences included; on SQLite every table with
    an integer key has AUTOINCREMENT (a table rebuilt by a later migration must keep it)."""
    with db.engine.connect() as connection:
        if db.engine.dialect.name == "postgresql":
            narrow = connection.scalars(
                text(
                    "SELECT table_name || '.' || column_name FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND data_type = 'integer'"
                    " UNION ALL SELECT sequencename FROM pg_sequences"
                    " WHERE data_type <> 'bigint'::regtype"
                )
            ).all()
            assert narrow == []
        else:
            tables = inspect(connection).get_table_names()
            missing = []
            for table in tables:
                key = inspect(connection).get_pk_constraint(table)["constrained_columns"]
                sql = connection.scalar(
                    text("SELECT sql FROM sqlite_master WHERE name = :name"), {"name": table}
                )
                integer_key = len(key) == 1 and f"{key[0]} INTEGER NOT NULL PRIMARY KEY" in sql
                if integer_key and "AUTOINCREMENT" not in sql:
                    missing.append(table)
            assert missing == [] and "subject" in tables
