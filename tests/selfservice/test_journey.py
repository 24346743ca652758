"""The whole journey, then a search of the raw database and the logs: nothing of the person
is left (GDPR Art. 17), on SQLite (the file's bytes, WAL and journal) and PostgreSQL (a
pg_dump, and the relation files and WAL segments, with no VACUUM run)."""

import json
import logging
import time

from portal.core.consent import audit
from tests import raw
from tests.actions import PAGE, ask_erasure, deliver, fill_in_everything, press, signed_in

ADDRESS = "ottoline.vexborough@example.net"
SECRETS = [
    "ottoline.vexborough",
    "Zéphyrine",
    "Quillfeather",
    "+33687654321",
    "6 87 65 43 21",
    "Rue des Capucines Secretes",
]


def test_sign_up_edit_download_erase_leaves_nothing(app, client, demo, smtp, caplog):
    started = time.time()
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
    assert audit.verify(demo.id).breaks == []

    held = raw.copies(app, since=started)
    for copy in held.values():  # each copy is real and current: the disposal log is in it
        assert reference.encode() in copy
    assert raw.found(SECRETS, held) == []
    logged = "\n".join(
        r.getMessage() + json.dumps(r.__dict__, default=str)
        for r in caplog.records
        if r.name != "mail.log"  # the test's own SMTP server
    ).lower()
    for secret in SECRETS:
        assert secret.lower() not in logged, secret
    assert erase_link.rsplit("/", 1)[1].lower() not in logged
