"""Everything held about a subject, to take away (GDPR Art. 15 and 20).

Two formats from one document: JSON following ``portal/static/schemas/export-v1.schema.json``,
and a zip of CSV files, one per kind of record. Every ledger entry about the person becomes a
consent receipt with the fields of the Kantara Initiative Consent Receipt Specification 1.1
that apply, plus the exact consent text shown.
"""

import csv
import io
import json
import zipfile

from flask import current_app
from sqlalchemy import select

from portal.core.consent import anchors, ledger
from portal.core.consent import changes as consent
from portal.core.consent.models import LedgerEntry, SignupRequest
from portal.core.kernel import clock
from portal.core.kernel.models.group import Brand, ConsentText, Topic
from portal.core.people.models.subject import Subject
from portal.extensions import db

SCHEMA_VERSION = "1.2"  # 1.1: mails, sign-in links, events; 1.2: ledger proofs
SCHEMA_ID = "export-v1.schema.json"
RECEIPT_VERSION = "KI-CR-v1.1.0"

# How each source reads in a receipt's collectionMethod.
METHODS = {
    "signup_form": "web sign-up form",
    "double_opt_in": "confirmation link sent by email (double opt-in)",
    "preference_centre": "preference centre",
    "api": "integrating system (API)",
    "import": "import from an earlier system",
    "admin": "recorded by an administrator",
    "retention": "answer to a re-permission mail, or a retention rule",
}
PII_BY_CHANNEL = {"email": "email address", "sms": "mobile number", "post": "postal address"}

# Sections contributed by features outside this module (profile fields, recipients):
# name -> function(subject) returning a list of flat dicts.
EXTRA_SECTIONS: dict = {}


def _iso(moment):
    return None if moment is None else moment.isoformat(timespec="seconds")


def _controller(brand: Brand) -> dict:
    return {
        "piiController": brand.name,
        "contact": brand.sender_name,
        "address": brand.postal_address,
        "email": brand.sender_address,
        "piiControllerUrl": brand.privacy_policy_url,
    }


def _proof(entry: LedgerEntry, sealed: dict) -> dict:
    """What lets the person prove this entry without the portal (``merkle.check_proof``): the
    fields its hash covers, its personal part as hashed, and the path up to a (signed)
    anchor, or ``sealed: false`` before the sealer's next run."""
    proof = {"entryHash": entry.hash, "hashedFields": ledger.hashed_fields(entry)}
    personal = entry.personal
    if personal is not None and json.loads(personal).get("v") != 1:
        proof |= {"subjectId": entry.subject_id, "personal": personal}
    return proof | sealed


def _receipt(entry: LedgerEntry, subject: Subject, brands, topics, texts, proof) -> dict:
    brand = brands.get(entry.brand_id)
    topic = topics.get(entry.topic_id)
    text = texts.get(entry.text_version_id)
    language = entry.language or subject.language
    purpose = None
    if topic is not None:
        purpose = {
            "purpose": topic.name(language),
            "purposeCategory": ["marketing" if topic.marketing else "service information"],
            "consentType": "EXPLICIT",
            "piiCategory": [PII_BY_CHANNEL.get(entry.channel, entry.channel or "")],
            "primaryPurpose": False,
            "termination": "until withdrawn, at any time, from the preference centre or the "
            "link in every mail",
            "thirdPartyDisclosure": False,
        }
    return {
        "version": RECEIPT_VERSION,
        "jurisdiction": current_app.config["PORTAL_JURISDICTION"],
        "consentTimestamp": int(entry.occurred_at.timestamp()),
        "collectionMethod": METHODS.get(entry.source, entry.source),
        "consentReceiptID": entry.hash,
        "language": language,
        "piiPrincipalId": subject.email,
        "piiControllers": [_controller(brand)] if brand else [],
        "policyUrl": brand.privacy_policy_url if brand else None,
        "services": [{"service": brand.name, "purposes": [purpose]}] if brand and purpose else [],
        "sensitive": False,
        "spiCat": [],
        # Beyond the specification: what exactly happened and under which text.
        "action": entry.action,
        "channel": entry.channel,
        "occurredAt": _iso(entry.occurred_at),
        "requestedAt": _iso(entry.requested_at),
        "policyVersion": entry.policy_version,
        "consentTextVersion": text.version if text else None,
        "consentText": text.text(language) if text else None,
        "actor": entry.actor,
        "ledgerSequence": entry.seq if entry.chain is None else entry.chain_seq,
        "ledgerProof": proof,
    }


def document(subject: Subject) -> dict:
    """The export as a JSON-ready dict."""
    group = subject.group
    brands = {brand.id: brand for brand in group.brands}
    topics = {t.id: t for t in db.session.scalars(select(Topic).where(Topic.brand_id.in_(brands)))}
    entries = db.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.subject_id == subject.id)
        # In the order things happened: a consent captured elsewhere may arrive late.
        .order_by(LedgerEntry.occurred_at, LedgerEntry.id)
    ).all()
    sealed = anchors.proofs(entries)
    text_ids = {e.text_version_id for e in entries if e.text_version_id}
    texts = (
        {
            t.id: t
            for t in db.session.scalars(select(ConsentText).where(ConsentText.id.in_(text_ids)))
        }
        if text_ids
        else {}
    )
    language = subject.language
    consents = [
        {
            "brand": brands[row.brand_id].name,
            "topic": topics[row.topic_id].name(language),
            "topicKey": topics[row.topic_id].key,
            "channel": row.channel,
            "state": row.state,
            "since": _iso(row.since),
            "source": row.source,
            "policyVersion": row.policy_version,
        }
        for row in sorted(consent.current(subject).values(), key=lambda r: (r.brand_id, r.id))
    ]
    signups = [
        {
            "brand": brands[r.brand_id].name,
            "requestedAt": _iso(r.requested_at),
            "confirmedAt": _iso(r.confirmed_at),
            "source": r.source,
            "topics": [topics[t].name(language) for t in r.topic_ids if t in topics],
        }
        for r in db.session.scalars(
            select(SignupRequest)
            .where(SignupRequest.subject_id == subject.id)
            .order_by(SignupRequest.id)
        )
    ]
    result = {
        "$schema": SCHEMA_ID,
        "schemaVersion": SCHEMA_VERSION,
        "exportedAt": _iso(clock.now()),
        "siteGroup": group.name,
        "subject": {
            "id": subject.id,
            "email": subject.email,
            "status": subject.status,
            "language": subject.language,
            "createdAt": _iso(subject.created_at),
            "confirmedAt": _iso(subject.confirmed_at),
        },
        "consents": consents,
        "signups": signups,
        "receipts": [
            _receipt(e, subject, brands, topics, texts, _proof(e, sealed[e.id])) for e in entries
        ],
    }
    for name, section in EXTRA_SECTIONS.items():
        result[name] = section(subject)
    return result


def as_json(subject: Subject) -> bytes:
    return json.dumps(document(subject), ensure_ascii=False, indent=2).encode()


def _flat(value):
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def as_csv_zip(subject: Subject) -> bytes:
    """One CSV per kind of record; nested values (controllers, services) as JSON text."""
    data = document(subject)
    tables = {"subject.csv": [data["subject"]]}
    for name in ("consents", "signups", "receipts", *EXTRA_SECTIONS):
        tables[f"{name}.csv"] = data[name]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for filename, rows in tables.items():
            text = io.StringIO()
            columns = list(dict.fromkeys(key for row in rows for key in row)) or ["empty"]
            writer = csv.DictWriter(text, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({key: _flat(value) for key, value in row.items()})
            archive.writestr(filename, text.getvalue())
        archive.writestr(
            "README.txt",
            "Your data, one CSV file per kind of record. "
            f"Schema of the JSON export: {SCHEMA_ID} (version {SCHEMA_VERSION}).\n"
            "Passkeys (passkeys.csv) are personal data too: they are erased with the rest when "
            "you ask for erasure.\n",
        )
    return buffer.getvalue()
