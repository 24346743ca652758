"""The whole journey, then a search of the raw database and the logs: nothing of the person
is left (GDPR Art. 17), on SQLite (the file's bytes) and PostgreSQL (a pg_dump)."""

import json
import logging
import subprocess
from pathlib import Path

import sqlalchemy as sa

from portal.core.consent import ledger
from portal.extensions import db
from tests.actions import deliver
from tests.selfservice.helpers import (
    PAGE,
    ask_erasure,
    fill_in_everything,
    press,
    signed_in,
)

ADDRESS = "ottoline.vexborough@example.net"
SECRETS = [
    "ottoline.vexborough",
    "Zéphyrine",
    "Quillfeather",
    "+33687654321",
    "6 87 65 43 21",
    "Rue des Capucines Secretes",
]


def _raw_database(app) -> bytes:
    """What someone with a copy of the database would have: the file, or a full dump."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    db.session.remove()
    if url.startswith("sqlite"):
        with db.engine.begin() as connection:
            connection.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db.engine.dispose()
        path = Path(url.removeprefix("sqlite:///"))
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(["pg_dump", plain], check=True, capture_output=True).stdout


def test_sign_up_edit_download_erase_leaves_nothing(app, client, demo, smtp, caplog):
    caplog.set_level(logging.DEBUG)
    signed_in(client, smtp, ADDRESS)
    fill_in_everything(
        client,
        first_name="Zéphyrine",
        last_name="Quillfeather",
        preferred_language="de",
        mobile_number="+33 6 87 65 43 21",
        postal_line1="9 Rue des Capucines Secretes",
        postal_postcode="75002",
        postal_city="Paris",
        postal_country="FR",
        birth_day="2",
        birth_month="3",
        birth_year="1981",
    )
    exported = client.get(f"{PAGE}download.json").get_data(as_text=True)
    assert "Quillfeather" in exported and "+33687654321" in exported
    assert client.get(f"{PAGE}download.zip").status_code == 200
    erase_link = ask_erasure(client, smtp, ADDRESS)
    erased = press(client, erase_link).get_data(as_text=True)
    assert "Your data is erased" in erased
    reference = erased.split("Reference of this erasure: ")[1].split("<")[0].strip()
    deliver()  # the last mail goes, and its outbox row with it
    assert "Daten" in smtp.to(ADDRESS)[-1]["Subject"]  # in the language chosen
    assert ledger.verify(demo.id)[1] is None

    raw = _raw_database(app)
    assert reference.encode() in raw  # the copy is real and current: the disposal log is in it
    for secret in SECRETS:
        for form in {secret, secret.lower()}:
            at = raw.find(form.encode())
            assert at < 0, (secret, raw[max(0, at - 300) : at + 100])
    logged = "\n".join(
        r.getMessage() + json.dumps(r.__dict__, default=str)
        for r in caplog.records
        if r.name != "mail.log"  # the test's own SMTP server
    ).lower()
    for secret in SECRETS:
        assert secret.lower() not in logged, secret
    assert erase_link.rsplit("/", 1)[1].lower() not in logged
