"""Downloads: attachments with dated names, never cached, valid against the published schema."""

import io
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from jsonschema import Draft202012Validator

from portal.core.kernel import clock
from tests.actions import PAGE, post_profile, signed_in

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "portal/static/schemas/export-v1.schema.json").read_text())


def test_json_download_is_a_dated_uncached_attachment_valid_against_the_schema(client, demo, smtp):
    clock.freeze(datetime(2026, 12, 24, 10, 0, tzinfo=UTC))
    signed_in(client, smtp, "take@example.com")
    post_profile(client, first_name="Camille", mobile_number="+33612345678")
    answer = client.get(f"{PAGE}download.json")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="my-data-luxe-2026-12-24.json"'
    )
    assert answer.headers["Cache-Control"] == "no-store"
    data = json.loads(answer.get_data())
    Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(data)
    fields = {row["field"]: row for row in data["profile"]}
    assert fields["email"]["value"] == "take@example.com"
    assert fields["first_name"]["value"] == "Camille"
    assert fields["first_name"]["updatedBy"] == "subject"
    assert fields["mobile_number"]["verified"] is False
    assert fields["date_of_birth"]["value"] is None  # the group collects it; not given
    assert fields["preferred_language"]["value"] == "en"
    assert data["recipients"] == []
    assert len(data["receipts"]) == 4


def test_csv_download_is_a_zip_with_the_profile_too(client, demo, smtp):
    signed_in(client, smtp, "zip@example.com")
    answer = client.get(f"{PAGE}download.zip")
    assert answer.headers["Content-Type"] == "application/zip"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="my-data-luxe-')
    archive = zipfile.ZipFile(io.BytesIO(answer.get_data()))
    assert {"profile.csv", "recipients.csv", "receipts.csv"} <= set(archive.namelist())
    assert "zip@example.com" in archive.read("profile.csv").decode()


def test_an_unknown_format_is_not_found(client, demo, smtp):
    signed_in(client, smtp, "pdf@example.com")
    assert client.get(f"{PAGE}download.pdf").status_code == 404
