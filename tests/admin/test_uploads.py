"""Uploads are judged by what is in them, never by their name or announced type."""

import io
import struct
import zlib

import pytest
from sqlalchemy import func, select

from portal.core.consent.models import Consent
from portal.core.kernel.models.group import Brand
from portal.extensions import db
from tests.actions import log_in, post
from tests.admin.test_imports import CSV
from tests.factories import brand, brand_admin, make_admin


def _png() -> bytes:
    """A real 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


def _upload_logo(client, content: bytes, filename: str, content_type: str):
    camille = brand("camille")
    values = {
        key: getattr(camille, key)
        for key in ("slug", "name", "sender_name", "sender_address", "colour", "privacy_policy_url")
    }
    upload = (io.BytesIO(content), filename, content_type)
    return post(
        client,
        f"/admin/brands/{camille.id}",
        dict(values, logo=upload),
        content_type="multipart/form-data",
    )


def _import(client, content: bytes, filename: str, content_type: str = "text/csv"):
    upload = (io.BytesIO(content), filename, content_type)
    return post(
        client,
        "/admin/import",
        {"brand": brand("camille").id, "mode": "check", "file": upload},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    ("content", "filename", "content_type"),
    [
        (HTML, "logo.png", "image/png"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "logo.jpg", "image/jpeg"),
        (CSV.encode(), "logo.png", "image/png"),
        (b"", "logo.png", "image/png"),
    ],
)
def test_a_logo_that_is_not_a_png_or_jpeg_inside_is_refused(
    client, demo, content, filename, content_type
):
    log_in(client, make_admin(demo, "owner"))
    before = client.get("/luxe/logos/camille").data
    answer = _upload_logo(client, content, filename, content_type)
    assert answer.status_code == 422
    assert "The logo must be a PNG or JPEG image" in answer.get_data(as_text=True)
    assert client.get("/luxe/logos/camille").data == before  # the demo's own logo is kept


def test_a_png_with_any_name_is_stored_and_served_as_a_png(client, demo):
    log_in(client, make_admin(demo, "owner"))
    assert _upload_logo(client, _png(), "logo.html", "text/html").status_code == 302
    served = client.get("/luxe/logos/camille")
    assert served.data == _png()
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (_png(), "subscribers.csv"),
        (b"email,topic\x00,channel\nann@example.com,news,email\n", "subscribers.csv"),
        (HTML, "subscribers.csv"),
        ("email,topic,channel,consented_at\n".encode("utf-16"), "subscribers.csv"),
    ],
)
def test_an_import_that_is_not_a_utf8_csv_inside_is_refused_in_the_form(
    client, demo, content, filename
):
    log_in(client, brand_admin(demo, "camille"))
    answer = _import(client, content, filename)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'class="error"' in page
    assert db.session.scalar(select(func.count()).select_from(Consent)) == 0


def test_a_field_beyond_what_csv_reads_is_refused_in_the_form(client, demo):
    log_in(client, brand_admin(demo, "camille"))
    huge = "email,topic,channel,consented_at\n" + '"' + "x" * 200_000 + '",news,email,\n'
    answer = _import(client, huge.encode(), "subscribers.csv")
    assert answer.status_code == 422
    assert 'class="error"' in answer.get_data(as_text=True)


def test_an_oversized_import_is_refused_before_it_is_read(app, client, demo):
    log_in(client, brand_admin(demo, "camille"))
    app.config["ADMIN_IMPORT_MAX_BYTES"] = 64
    answer = _import(client, CSV.encode(), "subscribers.csv")
    assert answer.status_code == 422
    assert "too large" in answer.get_data(as_text=True)


def test_a_csv_with_any_name_or_type_is_read_as_csv(client, demo, smtp):
    log_in(client, brand_admin(demo, "camille"))
    answer = _import(client, CSV.encode(), "logo.png", "image/png")
    assert "3 lines would be imported" in answer.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Brand)) == 7
