"""A brand admin sees only people with a consent or sign-up at their brands: anyone else, on
every console page that shows a person, reads exactly like an address nobody holds."""

import io
import re

from sqlalchemy import select

from portal.core.console.models import AccessEntry
from portal.core.people import subjects
from portal.extensions import db
from tests.actions import confirm, confirmation_link, decide, deliver, log_in, post, sign_up
from tests.factories import brand, brand_admin

ELSEWHERE, NOBODY = "elsewhere@example.com", "nobody@example.com"
CSRF = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+"')


def _masked(html: str, address: str) -> str:
    """A page as compared: without the address typed in, nor the (time-signed) CSRF tokens."""
    return CSRF.sub(r'\1<token>"', html.replace(address, "<address>"))


def _subscribe(client, smtp, address, brand_slug):
    sign_up(client, address, brand=brand_slug)
    deliver()
    confirm(client, confirmation_link(smtp.to(address)[-1]))


def _look_up(client, address: str) -> str:
    page = post(client, "/admin/support", {"email": address, "reason": "a complaint"})
    assert page.status_code == 200
    return _masked(page.get_data(as_text=True), address)


def test_a_person_only_at_other_brands_reads_like_nobody_in_the_support_lookup(client, demo, smtp):
    _subscribe(client, smtp, ELSEWHERE, "vespera")
    log_in(client, brand_admin(demo, "camille"))
    nobody = _look_up(client, NOBODY)
    assert "No one with this address" in nobody
    assert _look_up(client, ELSEWHERE) == nobody
    # The access log holds both lookups alike: not found, no subject named.
    entries = db.session.scalars(select(AccessEntry).order_by(AccessEntry.id)).all()
    assert [(e.subject_id, e.detail) for e in entries] == [(None, "not found")] * 2
    # Erasing by the person's id is refused as for an id nobody holds.
    hidden = subjects.find(demo.id, ELSEWHERE)
    for subject_id in (hidden.id, hidden.id + 1000):
        data = {"subject": subject_id, "requested_by": "letter", "reason": "letter of 3 May"}
        assert post(client, "/admin/support/erase", data).status_code == 404


def test_a_sign_up_at_their_brand_makes_the_person_one_a_brand_admin_sees(client, demo, smtp):
    _subscribe(client, smtp, ELSEWHERE, "vespera")
    sign_up(client, ELSEWHERE, brand="camille")  # not confirmed yet: a pending consent
    decide()
    log_in(client, brand_admin(demo, "camille"))
    page = _look_up(client, ELSEWHERE)
    assert "No one with this address" not in page
    assert "Camille" in page and "pending" in page and "Vespera ·" not in page


def _import(client, address: str) -> str:
    """The check page and the finished job's progress, as the brand admin sees them."""
    csv = f"email,topic,channel,consented_at,source\n{address},news,email,2024-05-01,fair\n"
    checked = post(
        client,
        "/admin/import",
        {
            "brand": brand("camille").id,
            "mode": "check",
            "file": (io.BytesIO(csv.encode()), "l.csv"),
        },
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    held = re.search(r'name="held" value="(\d+)"', checked).group(1)
    job_url = post(client, "/admin/import", {"mode": "run", "held": held}).headers["Location"]
    deliver()
    progress = client.get(job_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    seen = checked.replace(f'name="held" value="{held}"', "") + progress.replace(job_url, "")
    return _masked(seen, address)


def test_an_import_counts_a_person_only_at_other_brands_as_new(client, demo, smtp):
    _subscribe(client, smtp, ELSEWHERE, "vespera")
    log_in(client, brand_admin(demo, "camille"))
    nobody = _import(client, NOBODY)
    assert "1 lines would be imported" in nobody and "<dt>Done</dt><dd>1</dd>" in nobody
    assert _import(client, ELSEWHERE) == nobody
