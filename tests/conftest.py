"""Fixtures: an app on each database (SQLite and PostgreSQL), a real SMTP server, a browser.

Every test that asks for ``app`` runs twice, once per database. PostgreSQL is required: when
it cannot be reached the PostgreSQL half fails loudly instead of being skipped.
"""

import os
import re
import sqlite3
import uuid

import pytest
import sqlalchemy as sa
from flask import current_app
from flask_migrate import upgrade

from portal import create_app
from portal.core.integrations import pinned
from portal.core.kernel import clock
from portal.extensions import db, limiter
from tests.smtp import SMTPSink

os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 32)
os.environ.setdefault("PORTAL_DATA_KEY", "dGVzdC1kYXRhLWtleS10ZXN0LWRhdGEta2V5LXRlc3Q=")
os.environ.setdefault("PORTAL_HASH_KEY", "dGVzdC1oYXNoLWtleS10ZXN0LWhhc2gta2V5LXRlc3Q=")
os.environ["PORTAL_ENV"] = "development"
# Apps made without a database of their own get a key store in memory, never instance/.
os.environ.setdefault("PORTAL_KEYS_URL", "sqlite://")

POSTGRES_ADMIN = os.environ.get(
    "PORTAL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = os.environ.get("PORTAL_TEST_DATABASES", "sqlite,postgresql").split(",")


@sa.event.listens_for(sa.engine.Engine, "connect")
def _no_fsync_on_sqlite(dbapi_connection, _record) -> None:
    """The tests' SQLite files are not flushed to disk at each commit (about 20 ms a commit on
    this shared disk, and a test makes dozens): every reader still sees each commit, which is
    all a test asks; only a crash of the machine would lose one. PostgreSQL's test databases
    commit asynchronously for the same reason (``_postgres_database``)."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=OFF")


def _only_on(item) -> str | None:
    """The one database a test runs on, or None when it runs on each."""
    if item.get_closest_marker("each_database"):
        return None
    marker = item.get_closest_marker("one_database")
    if marker is None:
        return BACKENDS[0] if item.get_closest_marker("browser") else None
    wanted = marker.args[0] if marker.args else BACKENDS[0]
    return wanted if wanted in BACKENDS else BACKENDS[0]


def pytest_collection_modifyitems(config, items):
    """Browser tests and tests marked ``one_database`` run on one database only: what they
    check (pages in a browser, fuzzed input, the API contract) is the same on either."""
    kept, dropped = [], []
    for item in items:
        params = item.callspec.params if hasattr(item, "callspec") else {}
        only = _only_on(item)
        if only and params.get("database_url", only) != only:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SMTPSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp(smtp_sink):
    smtp_sink.clear()
    if not smtp_sink.running:
        smtp_sink.start()
    return smtp_sink


def _postgres_database(suffix: str = ""):
    """A database of this run's own, created on the shared server and dropped after."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"portal_test_{worker}_{uuid.uuid4().hex[:8]}{suffix}"
    admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            # A commit does not wait for its WAL to reach the disk (20 to 30 ms a commit on
            # this shared disk): other sessions see it at once all the same, and tests that read
            # the WAL files (tests/raw.py) run a CHECKPOINT first, which flushes it.
            connection.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except sa.exc.OperationalError as error:
        raise RuntimeError(
            f"PostgreSQL cannot be reached at {POSTGRES_ADMIN}: the PostgreSQL half of the "
            "suite cannot run. Start it (see .ci/run) or set PORTAL_TEST_DATABASES=sqlite "
            "for a SQLite-only run on a laptop."
        ) from error
    yield POSTGRES_ADMIN.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url():
    yield from _postgres_database()


@pytest.fixture(scope="session")
def postgres_keys_url():
    """The key store's own database (PORTAL_KEYS_URL), as in production on PostgreSQL."""
    yield from _postgres_database("_keys")


def keys_url_for(database_url: str, request) -> str:
    """The key store that goes with a test database: a PostgreSQL database of its own beside
    a PostgreSQL one, the SQLite file next to a SQLite one (the default)."""
    if database_url.startswith("postgresql"):
        return request.getfixturevalue("postgres_keys_url")
    from portal.core.kernel.subject_keys import default_url

    return default_url(database_url, "")


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """One migrated database per backend, shared by the tests of a session."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'portal.sqlite3'}"
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "PORTAL_KEYS_URL": keys_url_for(url, request)}
    )
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            _PARTITIONS[url] = _partitions(connection)
        db.engine.dispose()
    _close_key_stores()
    return url


def _close_key_stores() -> None:
    from portal.core.kernel.subject_keys import KeyStore

    for store in list(KeyStore.opened):
        store.engine.dispose()


# The day partitions each PostgreSQL session database had once migrated: {url: {name: (parent,
# bound)}}. A test that makes days ahead or drops past ones changes the database's shape, which
# emptying the tables does not undo; ``_partitions_back`` does, so that every test starts from
# the same days (a retention test counts the days it finds past their time).
_PARTITIONS: dict[str, dict[str, tuple[str, str]]] = {}


def _partitions(connection) -> dict[str, tuple[str, str]]:
    if connection.dialect.name != "postgresql":
        return {}
    rows = connection.execute(
        sa.text(
            "SELECT c.relname, p.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE c.relkind = 'r' AND c.relispartition AND pg_table_is_visible(c.oid)"
        )
    )
    return {name: (parent, bound) for name, parent, bound in rows}


def _same(found: dict, wanted: dict) -> set[str]:
    return {name for name in found.keys() & wanted.keys() if found[name] == wanted[name]}


def _partitions_back(connection, url: str) -> None:
    """Drop the partitions the test made and make again (empty) those it dropped: one catalog
    read when the test changed nothing. Inside the emptying's transaction, once the rows are
    deleted: a day made again must find none of its rows in the default partition."""
    wanted = _PARTITIONS.get(url)
    if not wanted:
        return
    found = _partitions(connection)
    if found == wanted:
        return
    # A connection the test left open on a table would hold the drop for ever: fail instead.
    connection.execute(sa.text("SET LOCAL lock_timeout = '30s'"))
    for name in found.keys() - wanted.keys() - _same(found, wanted):
        connection.execute(sa.text(f'DROP TABLE "{name}"'))
    missing = wanted.keys() - _same(found, wanted)
    for name in sorted(missing, key=lambda name: wanted[name][1] == "DEFAULT"):  # days first
        parent, bound = wanted[name]
        connection.execute(sa.text(f'CREATE TABLE "{name}" PARTITION OF "{parent}" {bound}'))


def _empty_tables() -> None:
    db.session.remove()
    from portal.core.kernel import subject_keys

    with subject_keys.store().engine.begin() as connection:
        connection.execute(sa.delete(subject_keys.subject_key))
        connection.execute(sa.delete(subject_keys.row_key))
    # A test may have changed keys (a rotation): the check values go back to the app's own.
    subject_keys.store().write_checks(subject_keys.store().started_with)
    _close_key_stores()
    # DELETE in dependency order, not TRUNCATE: TRUNCATE makes new files for every table and
    # index, about a second per test on PostgreSQL against a few milliseconds for the handful
    # of rows a test leaves.
    deletes = [f'DELETE FROM "{table.name}"' for table in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as connection:
        if db.engine.dialect.name == "postgresql":
            # One round trip for the whole list (a parameterless query may hold several
            # statements): forty round trips one by one cost more than the deleting itself.
            # Ids start again at 1, as in a new database.
            restart = "SELECT setval(oid, 1, false) FROM pg_class WHERE relkind = 'S'"
            connection.exec_driver_sql(";\n".join([*deletes, restart]))
        else:
            for delete in deletes:
                connection.exec_driver_sql(delete)
            connection.exec_driver_sql("DELETE FROM sqlite_sequence")
        # Day partitions back as the session found them (after the rows they held are gone).
        _partitions_back(connection, current_app.config["SQLALCHEMY_DATABASE_URI"])


@pytest.fixture(scope="session")
def keys_url(database_url, request):
    return keys_url_for(database_url, request)


@pytest.fixture(scope="session")
def _apps(database_url, keys_url, smtp_sink):
    """One app per database for the whole run: building an app and compiling its templates
    again for every test cost about a fifth of the suite's time."""
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PORTAL_KEYS_URL": keys_url,
            "PORTAL_BASE_URL": "http://portal.test",
            "MAIL_TRANSPORT": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp_sink.port,
            "RATELIMIT_STORAGE_URI": "memory://",
            "PASSWORD_HASH_PROFILE": "CHEAPEST",
        }
    )


@pytest.fixture
def app(_apps, tmp_path):
    """The database's app, as a fresh one for each test: what a test changes in its
    configuration or extensions is put back, and every table is emptied, when it ends."""
    app = _apps
    config, extensions = dict(app.config), dict(app.extensions)
    app.config["MAILBOX_DIR"] = str(tmp_path / "mailbox")
    try:
        with app.app_context():
            limiter.reset()
            yield app
            clock.freeze(None)
            pinned.close()  # the webhook client's kept-alive connections, to servers now gone
            _empty_tables()
            # A connection still out now would never be closed (dispose closes only idle ones)
            # and the garbage collector would report it later, in some other test: name this one.
            leaked = getattr(db.engine.pool, "checkedout", lambda: 0)()
            db.engine.dispose()
            assert leaked == 0, f"{leaked} database connection(s) still checked out after the test"
    finally:
        # Put back even when the teardown failed: the app is shared by every later test, which
        # would otherwise inherit this one's settings (its base URL, say) and fail for it.
        app.config.clear()
        app.config.update(config)
        app.extensions.clear()
        app.extensions.update(extensions)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def demo(app):
    from portal.core.console.demo import load

    group, _ = load()
    return group


CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form in a page, as a browser would send it back."""
    match = CSRF.search(html) or re.search(r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)
