"""Reads that tolerate lag from a real streaming replica (DATABASE_REPLICA_URL).

The test makes its own PostgreSQL primary and replica (initdb, pg_basebackup) in a temporary
folder, as ../shared/RECIPES.md describes: the machine's own cluster has no replication set up.
Replay is paused on the replica to make its lag visible: what an answer shows then says which
server it came from.
"""

import glob
import shutil
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from portal import create_app, replica
from portal.core.console.demo import load
from portal.core.integrations import clients
from portal.core.kernel.transaction import commit_session
from portal.extensions import db, limiter
from tests.actions import PAGE, post_profile, signed_in, subscribed
from tests.conftest import BACKENDS

pytestmark = pytest.mark.skipif(
    "postgresql" not in BACKENDS, reason="a PostgreSQL replica: PORTAL_TEST_DATABASES=sqlite"
)
BIN = (
    sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1] if glob.glob("/usr/lib/postgresql/*") else ""
)


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_postgres(command: str) -> None:
    subprocess.run(["su", "postgres", "-c", command], check=True, capture_output=True)


class Pair:
    """A primary and its streaming replica, each on a port of its own."""

    def __init__(self):
        self.folder = tempfile.mkdtemp(prefix="portal-replica-")
        shutil.chown(self.folder, "postgres")
        self.primary_port, self.replica_port = _port(), _port()
        d, b = self.folder, BIN
        _as_postgres(f"{b}/initdb -D {d}/p -A trust >/dev/null")
        self._start("p", self.primary_port)
        _as_postgres(f"{b}/pg_basebackup -h 127.0.0.1 -p {self.primary_port} -D {d}/r -R")
        self._start("r", self.replica_port)

    def _start(self, name: str, port: int) -> None:
        options = f"-p {port} -k {self.folder} -c listen_addresses=127.0.0.1"
        log = f"{self.folder}/{name}.log"
        _as_postgres(f"{BIN}/pg_ctl -D {self.folder}/{name} -o '{options}' -l {log} -w start")

    def url(self, port: int) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def stop_replica(self) -> None:
        _as_postgres(f"{BIN}/pg_ctl -D {self.folder}/r -m fast -w stop")

    def start_replica(self) -> None:
        self._start("r", self.replica_port)

    def close(self) -> None:
        for name in ("r", "p"):
            subprocess.run(
                ["su", "postgres", "-c", f"{BIN}/pg_ctl -D {self.folder}/{name} -m immediate stop"],
                capture_output=True,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pair():
    made = Pair()
    yield made
    made.close()


@pytest.fixture(scope="module")
def replicated(pair, smtp_sink, tmp_path_factory):
    """The portal on the primary, with the replica for lagging reads, and the demo group."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": pair.url(pair.primary_port),
            "DATABASE_REPLICA_URL": pair.url(pair.replica_port),
            "REPLICA_MAX_LAG_SECONDS": 60,
            "PORTAL_KEYS_URL": f"sqlite:///{tmp_path_factory.mktemp('keys') / 'keys.sqlite3'}",
            "PORTAL_BASE_URL": "http://portal.test",
            "MAIL_TRANSPORT": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": smtp_sink.port,
            "RATELIMIT_STORAGE_URI": "memory://",
            "PASSWORD_HASH_PROFILE": "CHEAPEST",
        }
    )
    with app.app_context():
        upgrade()
        with commit_session():
            group, _ = load()
            group.created_at = datetime.now(UTC) - timedelta(days=1)  # captures may be older
        db.session.remove()
    yield app
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def app(replicated, smtp):
    with replicated.app_context():
        limiter.reset()
        replica.forget_health()
        yield replicated
        db.session.remove()
    replicated.config["REPLICA_MAX_LAG_SECONDS"] = 60


def _on_replica(sql: str):
    with db.engines[replica.BIND].connect() as connection:
        return connection.execute(sa.text(sql)).scalar()


def _caught_up() -> None:
    """Wait until the replica has replayed everything the primary wrote so far."""
    with db.engine.connect() as connection:
        position = connection.execute(sa.text("SELECT pg_current_wal_lsn()")).scalar()
    for _ in range(200):
        if _on_replica(f"SELECT pg_last_wal_replay_lsn() >= '{position}'"):
            return
        time.sleep(0.05)
    raise AssertionError("the replica did not catch up within 10 s")


def _pause() -> None:
    _caught_up()
    _on_replica("SELECT pg_wal_replay_pause()")


def _resume() -> None:
    _on_replica("SELECT pg_wal_replay_resume()")
    _caught_up()


def _key() -> str:
    terms = ("Processes subscribers' data for marketing only.", datetime(2025, 1, 15).date())
    with commit_session():
        name = f"CRM {time.monotonic_ns()}"
        _, key = clients.create(
            "luxe", name, ["consent:read", "consent:write", "events:read"], terms=terms
        )
    return key


def _state(client, key, subject_id) -> str:
    answer = client.get(
        f"/api/v1/subjects/{subject_id}/consents", headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.get_json()
    (news,) = [
        c for c in answer.get_json()["consents"] if c["brand"] == "camille" and c["topic"] == "news"
    ]
    return news["state"]


def _events(client, key) -> int:
    answer = client.get("/api/v1/events?limit=1000", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.get_json()
    return len(answer.get_json()["events"])


def _audience(client, key, email) -> bool:
    body = {"brand": "camille", "topic": "news", "channel": "email", "emails": [email]}
    answer = client.post(
        "/api/v1/consents/check", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["results"][0]["contact"]


def _withdraw(client, key, email) -> None:
    body = {
        "email": email,
        "brand": "camille",
        "topic": "news",
        "channel": "email",
        "action": "withdraw",
        "captured_at": datetime.now(UTC).isoformat(),
        "evidence": {"agent": "agent-7"},
    }
    answer = client.post("/api/v1/consents", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code in (200, 201), answer.get_json()


def _subject_id(email: str) -> int:
    from portal.core.kernel.models.group import SiteGroup
    from portal.core.people import subjects

    group_id = db.session.scalar(sa.select(SiteGroup.id).where(SiteGroup.slug == "luxe"))
    return subjects.find(group_id, email).id


def test_an_api_lookup_reads_the_replica_and_a_write_goes_to_the_primary(app, smtp):
    client = app.test_client()
    subscribed(client, smtp, "ann@example.com")
    key, subject_id = _key(), _subject_id("ann@example.com")
    _pause()
    try:
        assert _state(client, key, subject_id) == "granted"
        events = _events(client, key)
        _withdraw(client, key, "ann@example.com")
        # Written on the primary; the paused replica still has the grant, and answers.
        assert _state(client, key, subject_id) == "granted"
        assert _audience(client, key, "ann@example.com") is True
        assert _events(client, key) == events  # the feed too: no withdrawal yet
    finally:
        _resume()
    assert _state(client, key, subject_id) == "withdrawn"
    assert _audience(client, key, "ann@example.com") is False
    assert _events(client, key) == events + 1


def test_a_persons_own_export_after_their_own_change_comes_from_the_primary(app, smtp):
    client = app.test_client()
    signed_in(client, smtp, "bea@example.com")
    _pause()
    try:
        assert post_profile(client, first_name="Zoé").status_code == 200
        exported = client.get(f"{PAGE}download.json").get_json()
        names = {row["field"]: row["value"] for row in exported["profile"]}
        assert names["first_name"] == "Zoé"  # the replica, paused, has no name yet
        with client.session_transaction() as cookie:
            assert cookie.get("lsn")  # until the replica has replayed this person's write
    finally:
        _resume()


def test_a_replica_too_far_behind_or_down_is_passed_over(app, smtp, pair):
    client = app.test_client()
    subscribed(client, smtp, "cy@example.com")
    key, subject_id = _key(), _subject_id("cy@example.com")
    _pause()
    try:
        _withdraw(client, key, "cy@example.com")
        app.config["REPLICA_MAX_LAG_SECONDS"] = 0.2
        time.sleep(0.5)  # the replica is now more than 0.2 s behind the withdrawal
        replica.forget_health()
        assert _state(client, key, subject_id) == "withdrawn"  # from the primary
    finally:
        _resume()
    app.config["REPLICA_MAX_LAG_SECONDS"] = 60
    pair.stop_replica()
    try:
        replica.forget_health()
        assert _state(client, key, subject_id) == "withdrawn"  # no error: the primary answers
    finally:
        pair.start_replica()


def test_every_lagging_view_names_a_route(app):
    assert set(app.view_functions) >= replica.LAGGING
    assert set(app.view_functions) >= replica.lagging_endpoints(app)


def test_without_a_replica_nothing_is_routed(app, tmp_path):
    plain = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "PORTAL_KEYS_URL": app.config["PORTAL_KEYS_URL"],
        }
    )
    assert replica.BIND not in (plain.config.get("SQLALCHEMY_BINDS") or {})
    assert (
        plain.view_functions["api.lookup_by_id"]
        is app.view_functions["api.lookup_by_id"].__wrapped__
    )
