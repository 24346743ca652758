"""Every address we accept, we can mail: IDN domains as punycode, SMTPUTF8 or a clear refusal.

Through the real SMTP sink (aiosmtpd), which offers SMTPUTF8 or not as it is told.
"""

import logging

import pytest

from tests.actions import deliver, sign_up
from tests.smtp import SMTPSink

REFUSED = "We cannot send mail to an address with accents or other non-ASCII characters"


@pytest.fixture
def utf8_sink(smtp):
    """A server that offers SMTPUTF8, on the usual server's port while that one is down."""
    smtp.stop()
    sink = SMTPSink(port=smtp.port, smtputf8=True)
    sink.start()
    yield sink
    sink.stop()
    smtp.start()


def test_an_international_domain_is_mailed_as_punycode(client, demo, smtp):
    answer = sign_up(client, "anna@bücher.example")
    assert answer.status_code in (200, 302, 303)
    assert deliver().sent == 1
    (mail_from, rcpt_tos, raw) = smtp.raw[0]
    assert rcpt_tos == ["anna@xn--bcher-kva.example"]
    assert b"To: anna@xn--bcher-kva.example" in raw
    assert mail_from.isascii()


def test_a_non_ascii_local_part_is_refused_when_smtputf8_is_not_promised(client, demo, smtp):
    page = sign_up(client, "jürgen@bücher.example").get_data(as_text=True)
    assert REFUSED in page
    assert deliver().handled == 0


def test_with_smtputf8_offered_and_promised_the_address_is_mailed(app, client, demo, utf8_sink):
    app.config["MAIL_SMTPUTF8"] = True
    sign_up(client, "jürgen@bücher.example")
    assert deliver().sent == 1
    (_, rcpt_tos, raw) = utf8_sink.raw[0]
    assert rcpt_tos == ["jürgen@xn--bcher-kva.example"]
    assert "To: jürgen@xn--bcher-kva.example".encode() in raw


def test_a_server_without_smtputf8_gets_a_clear_error_not_a_crash(app, client, demo, smtp, caplog):
    app.config["MAIL_SMTPUTF8"] = True  # promised, but the server does not offer it
    sign_up(client, "jürgen@bücher.example")
    with caplog.at_level(logging.WARNING, logger="portal.core.outbox"):
        assert deliver().retrying == 1
    assert smtp.raw == []
    assert "SMTPUTF8" in caplog.text and "UnicodeEncodeError" not in caplog.text
