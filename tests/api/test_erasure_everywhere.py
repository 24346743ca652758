"""People in through every door (sign-up, API, import) and out through every door (self-service,
API, console): then nothing of them is left in any copy of the database, in any form, while
the people not erased read back completely. Crypto-shredding is what makes the dead row
versions and the WAL safe: no VACUUM runs here.

Some copies of a person's words are encrypted, so a search of bytes cannot see them: the sign-up
request typed before the person existed, the farewell mail, the API's idempotent answers, the
console's import file, the support staff's reasons. Each is under the person's key or a one-off
key; the test holds that no value in any copy is under a key the key store still has, but the
kept person's."""

import base64
import io
import re
import time
from datetime import timedelta

from flask import g
from sqlalchemy import select

from portal.core.consent import audit, ledger
from portal.core.consent.models import LedgerEntry
from portal.core.integrations import idempotency
from portal.core.kernel import clock
from portal.core.people import profile, subjects
from portal.extensions import db
from tests import raw
from tests.actions import (
    ask_erasure,
    confirm,
    confirmation_link,
    deliver,
    fill_in_everything,
    log_in,
    post,
    press,
    sign_in,
    sign_up,
)
from tests.api.conftest import capture
from tests.factories import brand, make_admin

# Each person's address and user agent, and every free text about them, carry a marker.
SIGNUP, VIA_API, IMPORTED, KEPT = (
    "qzvx.signupdoor@example.net",
    "qzvx.apidoor@example.net",
    "qzvx.importdoor@example.net",
    "qzvx.keptperson@example.net",
)
PROFILE = {
    "first_name": "QzvxFirstName",
    "last_name": "QzvxLastName",
    "preferred_language": "fr",
    "mobile_number": "+33 6 19 28 37 46",
    "postal_line1": "7 Rue QzvxStreet",
    "postal_postcode": "75003",
    "postal_city": "QzvxCity",
    "postal_country": "FR",
    "birth_day": "4",
    "birth_month": "5",
    "birth_year": "1979",
}
UA_SIGNUP, UA_API = "QzvxBrowser/1.0 (SignupDoor)", "QzvxTill/2.0 (ApiDoor)"
EVIDENCE = {
    "agent": "QzvxAgentName",
    "note": "asked at the counter by QzvxNote",
    "store": "QzvxStoreName",
    "recording": "QzvxRecording-77",
    "document": "QzvxDocument-88",
}
API_REASON = "asked by phone: caller QzvxCaller tel 0611223344"
IMPORT_SOURCE = "QzvxFairStand 2025"
CONSOLE_REASON = "letter from QzvxLetterWriter"
EXTERNAL_ID = "QzvxCrm-4242"  # the API client's own customer number for its person

MARKERS = [
    "qzvx.signupdoor",
    "qzvx.apidoor",
    "qzvx.importdoor",
    "QzvxFirstName",
    "QzvxLastName",
    "+33619283746",
    "QzvxStreet",
    "QzvxCity",
    "QzvxBrowser/1.0",
    "QzvxTill/2.0",
    *EVIDENCE.values(),
    "QzvxCaller tel 0611223344",
    IMPORT_SOURCE,
    EXTERNAL_ID,
]


def test_the_search_finds_each_form_it_claims_to(app):
    """The search itself can fail: each form of a marker planted in a copy is found."""
    marker = "QzvxSelfTest"
    for planted in (
        b"..QzvxSelfTest..",
        "..qzvxselftest..".encode("utf-16-le"),
        b"a" + base64.b64encode(b"xy QzvxSelfTest z"),
        b"q=%22QzvxSelfTest%22",
    ):
        assert raw.found([marker], {"copy": planted}), planted


def _web_person(client, smtp, address, user_agent, values):
    g.pop("csrf_token", None)  # one app context for the test: each client its own token
    client.environ_base["HTTP_USER_AGENT"] = user_agent
    sign_up(client, address)
    deliver()
    confirm(client, confirmation_link(smtp.to(address)[-1]))
    sign_in(client, smtp, address)
    fill_in_everything(client, **values)


def test_every_door_in_and_out_leaves_no_marker_in_any_copy(
    app, client, demo, smtp, api, runner, tmp_path
):
    started = time.time()
    # In by sign-up (with a full profile), by the API (with free-text evidence), by import.
    _web_person(client, smtp, SIGNUP, UA_SIGNUP, PROFILE)
    recorded = api.post(
        "/consents",
        json=capture(email=VIA_API, evidence=EVIDENCE),
        headers={"User-Agent": UA_API, "Idempotency-Key": "qzvx-grant-0001"},
    )
    assert recorded.status_code == 200, recorded.json
    attached = api.put(
        f"/subjects/{recorded.json['subject_id']}/external-id", json={"external_id": EXTERNAL_ID}
    )
    assert attached.status_code == 200, attached.json
    source = tmp_path / "list.csv"
    source.write_text(
        "email,topic,channel,consented_at,source\n"
        f"{IMPORTED},news,email,2025-02-01T10:00:00Z,{IMPORT_SOURCE}\n"
    )
    imported = runner.invoke(args=["import", "subscribers", str(source), "--brand", "camille"])
    assert imported.exit_code == 0, imported.output
    # Someone who stays, with the same kinds of data.
    kept_client = app.test_client()
    _web_person(kept_client, smtp, KEPT, "KeptBrowser/3.0", {**PROFILE, "first_name": "Kept"})

    # Out by self-service, by the API (a free-text reason), by the console.
    g.pop("csrf_token", None)
    assert "Your data is erased" in press(client, ask_erasure(client, smtp, SIGNUP)).get_data(
        as_text=True
    )
    erased = api.post(
        "/subjects/erasures",
        json={"email": VIA_API, "reason": API_REASON},
        headers={"Idempotency-Key": "qzvx-erasure-0001"},
    )
    assert erased.json["status"] == "erased", erased.json
    owner = make_admin(demo, "owner", "boss@luxe.example")
    console = app.test_client()
    log_in(console, owner)
    # The same person again, in a file checked and held by the console, then imported.
    checked = post(
        console,
        "/admin/import",
        {
            "brand": brand("camille").id,
            "mode": "check",
            "file": (io.BytesIO(source.read_bytes().replace(b",news,", b",events,")), "f.csv"),
        },
        content_type="multipart/form-data",
    )
    held_file = re.search(r'name="held" value="(\d+)"', checked.get_data(as_text=True)).group(1)
    assert post(console, "/admin/import", {"mode": "run", "held": held_file}).status_code == 302
    deliver()  # the worker imports it, and drops the file with its key
    post(console, "/admin/support", {"email": IMPORTED, "reason": "letter"})
    person = subjects.find(demo.id, IMPORTED)
    done = post(
        console,
        "/admin/support/erase",
        {"subject": person.id, "requested_by": "letter", "reason": CONSOLE_REASON, "confirm": "1"},
    )
    assert "The person is erased" in done.get_data(as_text=True)
    deliver()  # the farewell mails go, and their outbox rows with them
    group_id = demo.id  # verify's workers leave the session's objects detached
    assert audit.verify(group_id).breaks == []
    # The API's answers are kept IDEMPOTENCY_HOURS for retries, then go with their keys.
    later = clock.now() + timedelta(hours=app.config["IDEMPOTENCY_HOURS"] + 1)
    assert idempotency.purge(now=later) == 2

    held = raw.copies(app, since=started)
    for copy in held.values():  # each copy is real and current: the API's disposal record is in
        assert erased.json["erasure_id"].encode() in copy
    assert raw.found(MARKERS, held) == []
    kept_key = subjects.find(group_id, KEPT).key_ref
    assert {name: refs - {kept_key} for name, refs in raw.readable_refs(held).items()} == {
        name: set() for name in held
    }

    # The person not erased reads back completely: address, profile, the ledger's parts.
    kept = subjects.find(group_id, KEPT)
    assert kept.email == KEPT
    fields = profile.fields_of(kept)
    assert fields[profile.POSTAL].value and "QzvxStreet" in fields[profile.POSTAL].value
    assert fields["first_name"].value == "Kept"
    entries = db.session.scalars(select(LedgerEntry).where(LedgerEntry.subject_id == kept.id))
    parts = [ledger.personal_part(entry) for entry in entries]
    assert parts and all(part["user_agent"] == "KeptBrowser/3.0" for part in parts)
