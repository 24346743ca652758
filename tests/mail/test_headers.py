"""Mail headers as receivers expect, for every kind of mail the portal sends.

- List-Unsubscribe / List-Unsubscribe-Post exactly as written (RFC 2369, RFC 8058), never
  RFC 2047 encoded words, whatever the brand is called and whatever the language;
- Content-Language (RFC 3282) in the recipient's language;
- a Message-ID in the sender's own domain.
The messages are read as bytes from the real SMTP sink.
"""

import email
import email.policy
import re
from pathlib import Path

from sqlalchemy import select

import portal
from portal.core.consent.models import SignupRequest
from portal.core.console import recovery, team
from portal.core.kernel.models.group import Brand, Topic
from portal.core.mail import health, mails, topic_mail
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import confirm, confirmation_link, deliver, sign_up
from tests.factories import make_admin

LANGUAGES = ("en", "fr", "de")
# Long, accented, with quotes and a dash: the kind of name that made the header fold and encode.
BRAND_NAME = "Maison Élégance — Édition « été » für Größen & Über-Längen, très très longue"
KINDS = {
    path.stem
    for path in (Path(portal.__file__).parent / "templates" / "mail").glob("*.txt")
    if not path.stem.startswith("_")
}


def _raw_headers(raw: bytes) -> dict[str, list[str]]:
    """Header lines as they travelled (unfolded), by lower-case name."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("utf-8")
    unfolded = re.sub(r"\r?\n[ \t]", " ", head)
    lines: dict[str, list[str]] = {}
    for line in unfolded.splitlines():
        name, _, value = line.partition(":")
        lines.setdefault(name.lower(), []).append(value.strip())
    return lines


def _every_kind(client, smtp, demo, language: str) -> set[str]:
    """Make the portal queue one mail of each kind to a person speaking ``language``."""
    address = f"{language}@example.org"
    sign_up(client, address, headers={"Accept-Language": language})  # confirm_signup
    deliver()
    confirm(client, confirmation_link(smtp.to(address)[-1]))
    subject = db.session.scalar(select(Subject).order_by(Subject.id.desc()))
    subject.language = language
    brand = db.session.scalar(select(Brand).where(Brand.slug == "camille"))
    topic = db.session.scalar(select(Topic).where(Topic.brand_id == brand.id))
    pending = db.session.scalar(select(SignupRequest).order_by(SignupRequest.id.desc()))
    link = "http://portal.test/luxe/x"
    mails.already_registered(subject, brand, None)
    mails.erasure_link(subject, brand, link, language)
    mails.confirm_new_address(subject, brand, "new@example.org", link, language)
    mails.address_taken(subject, brand, "new@example.org", language)
    mails.address_change_notice(subject, brand, "new@example.org", language)
    mails.sign_in(subject, brand, link, language)
    mails.reconsent(pending)
    mails.freshness(subject, [("Name", "Ann")], link, link)
    mails.repermission(subject, ["News"], link, 30)
    db.session.commit()
    topic_mail.send_topic(topic, "Nouveautés d’été — « spécial »", "Bonjour.\n\nÀ bientôt.")
    owner = make_admin(demo, "owner", email=f"owner-{language}@admins.example")
    team.invite(
        owner,
        f"new-{language}@admins.example",
        "viewer",
        [],
        language,
        ("Portal", "portal@luxe.example"),
    )
    recovery.request_reset(owner.email, language, ("Portal", "portal@luxe.example"))
    mails.erasure_confirmed(subject)
    health.send_test(demo.id, f"owner-{language}@admins.example", ("P", "p@luxe.example"), language)
    db.session.commit()
    return {
        "confirm_signup", "already_registered", "erasure_link", "confirm_new_address",
        "address_taken", "address_change_notice", "sign_in", "reconsent", "freshness",
        "repermission", "topic", "admin_invite", "erasure_confirmed", "admin_reset", "admin_test",
    }  # fmt: skip


def test_every_mail_kind_has_headers_as_receivers_expect(client, demo, smtp):
    brand = db.session.scalar(select(Brand).where(Brand.slug == "camille"))
    brand.name = BRAND_NAME
    db.session.commit()
    languages = set()
    for language in LANGUAGES:
        smtp.clear()
        assert _every_kind(client, smtp, demo, language) == KINDS
        deliver()
        sent = [raw for _, _, raw in smtp.raw]
        assert len(sent) >= len(KINDS)
        unsubscribe_headers = 0
        for raw in sent:
            headers = _raw_headers(raw)
            message = email.message_from_bytes(raw, policy=email.policy.default)
            # The language the mail is written in, as its HTML part says too.
            html = message.get_body(preferencelist=("html",)).get_content()
            written_in = re.search(r'<html lang="([a-z]+)"', html).group(1)
            assert headers.get("content-language") == [written_in], message["Subject"]
            languages.add(written_in)
            sender_domain = message["From"].addresses[0].domain
            assert re.fullmatch(rf"<[^@<>\s]+@{re.escape(sender_domain)}>", message["Message-ID"])
            for name in ("list-unsubscribe", "list-unsubscribe-post"):
                for value in headers.get(name, []):
                    assert "=?" not in value and value.isascii(), (language, name, value)
                    unsubscribe_headers += 1
            if "list-unsubscribe" in headers:
                assert headers["list-unsubscribe-post"] == ["List-Unsubscribe=One-Click"]
                assert re.fullmatch(
                    r"<https?://[^>]+>, <mailto:[^>]+>", headers["list-unsubscribe"][0]
                )
        assert unsubscribe_headers >= 2  # one topic mail per subscriber so far
    assert languages == set(LANGUAGES)
