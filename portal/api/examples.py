"""Examples of requests and answers that the operations declare (``contract.operation``).

Each one is checked against its schema (tests/api/test_contract.py), so an example cannot show
a shape the API does not send.
"""

RECEIPT = "9c1e0f3b7a2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"
WHEN = "2026-03-01T09:30:00+00:00"
CURSOR = "ZTE6NDI"  # the cursor of event 42
LANGUAGES = {"en": "Events", "fr": "Événements", "de": "Veranstaltungen"}

CONSENT = {
    "brand": "camille",
    "topic": "events",
    "channel": "email",
    "state": "granted",
    "since": WHEN,
    "source": "api:CRM",
    "policy_version": "2026-01",
    "text_version": 1,
}
SUBJECT_CONSENTS = {"status": "active", "subject_id": 42, "consents": [CONSENT]}
CHECK = {
    "results": [
        {"email": "ada@example.org", "state": "granted", "contact": True},
        {"email": "grace@example.org", "state": "unknown", "contact": False},
    ]
}
CAPTURE = {
    "email": "ada@example.org",
    "brand": "camille",
    "topic": "events",
    "channel": "sms",
    "action": "grant",
    "captured_at": "2026-03-01T09:25:00+00:00",
    "evidence": {"agent": "agent-42", "recording": "rec-2026-0301-0007"},
    "text_version": 1,
}
RECORDED = {
    "subject_id": 42,
    "brand": "camille",
    "topic": "events",
    "channel": "sms",
    "state": "granted",
    "changed": True,
    "result": "applied",
    "receipt": RECEIPT,
}
BULK = {"changes": [{"key": "crm-7f3a-0001", **CAPTURE}]}
BULK_RESULTS = {
    "results": [
        {"key": "crm-7f3a-0001", **RECORDED},
        {
            "key": "crm-7f3a-0002",
            "result": "refused",
            "problem": {
                "type": "https://consent-portal.example/problems/invalid-body",
                "title": "Unprocessable content",
                "status": 422,
                "detail": "Camille has no topic “gifts”.",
                "errors": [{"field": "topic", "message": "Camille has no topic “gifts”."}],
            },
        },
    ],
    "counts": {"applied": 1, "unchanged": 0, "stale": 0, "refused": 1},
}
FIELD = {"source": "api:CRM", "last_confirmed": WHEN, "updated_at": WHEN}
PROFILE = {
    "subject_id": 42,
    "fields": {
        "first_name": {"value": "Ada", **FIELD},
        "last_name": {"value": "Lovelace", **FIELD},
        "mobile_number": {"value": "+33612345678", **FIELD},
        "postal_address": {
            "value": {
                "lines": ["12 rue des Lilas"],
                "postcode": "75011",
                "city": "Paris",
                "country": "FR",
            },
            **FIELD,
        },
    },
}
PROFILE_UPDATE = {"first_name": "Ada", "mobile_number": "+33 6 12 34 56 78"}
PROFILE_UPDATED = {
    "subject_id": 42,
    "fields": {
        "first_name": {"value": "Ada", **FIELD},
        "mobile_number": {"value": "+33612345678", **FIELD},
    },
}
EXTERNAL_ID = {"subject_id": 42, "external_id": "crm-00042"}
ERASED = {
    "status": "erased",
    "subject_id": 42,
    "erasure_id": "3f2b8c1e-6d4a-4f0e-9b7a-2c1d0e9f8a7b",
}
RELATIONSHIP = {"status": "active", "subject_id": 42, "relationship": "customer"}
ACKNOWLEDGED = {
    "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "erasure_id": "3f2b8c1e-6d4a-4f0e-9b7a-2c1d0e9f8a7b",
    "subject_id": 42,
    "requested_at": WHEN,
    "attempts": 1,
    "answered_at": "2026-03-02T10:00:00+00:00",
    "answer": "done",
    "reference": "CRM-DEL-2291",
}
EVENT = {
    "id": CURSOR,
    "type": "consent.changed",
    "created_at": WHEN,
    "data": {"subject_id": 42, **CONSENT},
}
FEED = {"events": [EVENT], "next_cursor": CURSOR, "has_more": False}
BRANDS = {
    "brands": [
        {
            "slug": "camille",
            "name": "Maison Camille",
            "policy_version": "2026-01",
            "privacy_policy_url": "https://camille.example/privacy",
            "latest_text_version": 2,
            "archived": False,
        }
    ]
}
TOPICS = {
    "topics": [
        {
            "brand": "camille",
            "key": "events",
            "names": LANGUAGES,
            "descriptions": {"en": "", "fr": "", "de": ""},
            "channels": ["email", "sms"],
            "marketing": True,
        }
    ]
}
CONSENT_TEXTS = {
    "consent_texts": [
        {
            "brand": "camille",
            "version": 1,
            "latest": True,
            "languages": ["de", "en", "fr"],
            "texts": {
                "en": "I agree to hear from Maison Camille.",
                "fr": "J'accepte d'être contacté par Maison Camille.",
                "de": "Ich bin einverstanden, von Maison Camille zu hören.",
            },
            "created_at": "2026-01-05T09:00:00+00:00",
        }
    ]
}
WEBHOOK_REQUEST = {
    "url": "https://crm.example/hooks/consent",
    "events": ["consent.changed", "subject.erased"],
}
WEBHOOK = {"id": 7, **WEBHOOK_REQUEST, "created_at": WHEN}
WEBHOOK_CREATED = {**WEBHOOK, "secret": "whsec_3q2-7wLzQfX0bYk1c9RrP4sHn8JtVdUeMaGiOoKl5Ww"}
WEBHOOK_SECRET = {**WEBHOOK_CREATED, "previous_secret_until": "2026-03-02T09:30:00+00:00"}
DELIVERY = {
    "id": 311,
    "event": CURSOR,
    "status": "failed",
    "attempts": 8,
    "last_status": 503,
    "last_error": "HTTP 503",
    "created_at": WHEN,
    "next_attempt_at": WHEN,
    "delivered_at": None,
}
TOKEN = {
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiIxMiJ9.c2lnbmF0dXJl",
    "token_type": "Bearer",
    "expires_in": 900,
    "scope": "consent:read consent:write events:read",
}
