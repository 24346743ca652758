"""An outbox message as the bytes and the envelope an SMTP server receives.

- Domains go out in their ASCII form (IDNA, "xn--"), whatever form the person typed.
- A non-ASCII local part (``jürgen@…``) needs the server's SMTPUTF8 extension (RFC 6531);
  without it such a message is refused here, with a clear error, rather than failing in
  ``smtplib`` with a UnicodeEncodeError. The forms and the API refuse those addresses
  unless ``MAIL_SMTPUTF8`` says the server offers it (``subjects.normalise_email``).
- ``List-Unsubscribe``/``List-Unsubscribe-Post`` (RFC 2369, 8058) are written verbatim,
  never as RFC 2047 encoded words, which receivers do not decode in those headers.
- ``Content-Language`` (RFC 3282) and a ``Message-ID`` in the sender's own domain.
"""

import email.policy
import re
import smtplib
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import flask_mail
import idna
from flask import current_app
from werkzeug.urls import iri_to_uri

# RFC 5322 2.1.1: 998 characters is the limit, 78 a recommendation. Folding at 78 made Python
# wrap long unbreakable header values (an unsubscribe URL) in RFC 2047 encoded words.
_ASCII = email.policy.SMTP.clone(max_line_length=998)
_UTF8 = email.policy.SMTPUTF8.clone(max_line_length=998)
_VERBATIM = ("List-Unsubscribe", "List-Unsubscribe-Post", "List-Id")
_BRACKETED = re.compile(r"<([^<>]*)>")


NO_SMTPUTF8 = "an address has non-ASCII characters before the @; the server lacks SMTPUTF8"


class Unsendable(Exception):
    """This message cannot be sent through this server (the message says why)."""


def _ascii_domain(domain: str) -> str:
    if domain.isascii():
        return domain
    try:
        return idna.encode(domain, uts46=True).decode()  # IDNA 2008, as email_validator checks
    except idna.IDNAError:
        raise Unsendable("the domain of an address is not valid") from None


def address(value: str) -> tuple[str, str]:
    """(local part, ASCII domain) of an address."""
    local, _, domain = value.rpartition("@")
    return local, _ascii_domain(domain)


def needs_smtputf8(content: dict) -> bool:
    """Whether a sender or recipient has a local part beyond ASCII."""
    people = [content["to"], content["sender"][1]]
    if content.get("reply_to"):
        people.append(content["reply_to"])
    return any(not address(person)[0].isascii() for person in people)


def _verbatim(name: str, value: str) -> str:
    """An ASCII value for a header written as it is: addresses in <> as URIs (IDNA host,
    percent-encoded path); List-Id's description as an RFC 2047 phrase (RFC 2919 allows it)."""
    value = _BRACKETED.sub(lambda m: f"<{iri_to_uri(m.group(1))}>", value)
    if name == "List-Id" and not value.isascii():
        phrase, _, rest = value.rpartition(" <")
        value = f"{Header(phrase, 'utf-8').encode()} <{rest}"
    return value


def build(content: dict, row_id: int, smtputf8: bool) -> tuple[EmailMessage, str, str]:
    """(message, envelope sender, envelope recipient) for an outbox row's ``content``."""
    if needs_smtputf8(content) and not smtputf8:
        raise Unsendable(NO_SMTPUTF8)
    name, sender = content["sender"]
    sender_local, sender_domain = address(sender)
    to_local, to_domain = address(content["to"])
    message = EmailMessage(policy=_UTF8 if smtputf8 else _ASCII)
    message["Subject"] = content["subject"]
    message["From"] = Address(display_name=name or "", username=sender_local, domain=sender_domain)
    message["To"] = Address(username=to_local, domain=to_domain)
    if content.get("reply_to"):
        local, domain = address(content["reply_to"])
        message["Reply-To"] = Address(username=local, domain=domain)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(idstring=f"outbox-{row_id}", domain=sender_domain)
    for header, value in (content.get("headers") or {}).items():
        if header in _VERBATIM:
            message.set_raw(header, _verbatim(header, value))
        else:
            message[header] = value
    message.set_content(content["text"])
    message.add_alternative(content["html"], subtype="html")
    if content.get("language"):  # after the parts: setting content moves Content-* headers
        message["Content-Language"] = content["language"]
    return message, f"{sender_local}@{sender_domain}", f"{to_local}@{to_domain}"


def send(smtp, content: dict, row_id: int) -> None:
    """Hand one message to a connected ``smtplib.SMTP``; raises on any refusal."""
    smtp.ehlo_or_helo_if_needed()
    utf8 = needs_smtputf8(content)
    if utf8 and not smtp.has_extn("smtputf8"):
        raise Unsendable(NO_SMTPUTF8)
    message, sender, recipient = build(content, row_id, utf8)
    smtp.sendmail(sender, [recipient], message.as_bytes(), ["SMTPUTF8"] if utf8 else [])


class _TimedConnection(flask_mail.Connection):
    """Flask-Mail's connection, with a timeout on connecting and on every reply: without one a
    hung server holds the worker (and the leases of its batch) for good."""

    def configure_host(self) -> smtplib.SMTP:
        timeout = current_app.config["MAIL_TIMEOUT_SECONDS"]
        kind = smtplib.SMTP_SSL if self.mail.use_ssl else smtplib.SMTP
        host = kind(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


def connect() -> flask_mail.Connection:
    """A connection to the app's SMTP server, as Flask-Mail's ``mail.connect()`` gives, with
    MAIL_TIMEOUT_SECONDS on connecting and on each reply (a context manager)."""
    return _TimedConnection(current_app.extensions["mail"])
