"""Every table of the portal; importing this module registers them all."""

from portal.core.consent.models import Consent, LedgerAnchor, LedgerEntry, SignupRequest
from portal.core.console.models import AccessEntry, AdminAccount, AuditEntry, RecoveryCode
from portal.core.integrations.models.api import (
    ApiClient,
    IdempotencyRecord,
    WebhookDelivery,
    WebhookEndpoint,
)
from portal.core.integrations.models.event import Event
from portal.core.integrations.models.recipients import ErasureRequest, RecipientTerms
from portal.core.kernel.models.group import Brand, ConsentText, SiteGroup, Topic
from portal.core.kernel.models.job import Job, JobFailure, WorkerHeartbeat
from portal.core.lifecycle.models import LifecycleNotice, LifecyclePolicy
from portal.core.mail.models import AddressRequest, OutboxMessage
from portal.core.people.models.access import SignInLink
from portal.core.people.models.erasure import ErasureRecord, Suppression
from portal.core.people.models.passkey import Passkey, PasskeyChallenge
from portal.core.people.models.profile import EmailChange, ProfileField
from portal.core.people.models.subject import Subject

__all__ = [
    "AddressRequest",
    "ApiClient",
    "Event",
    "Job",
    "JobFailure",
    "WorkerHeartbeat",
    "IdempotencyRecord",
    "WebhookDelivery",
    "WebhookEndpoint",
    "AccessEntry",
    "AdminAccount",
    "AuditEntry",
    "RecoveryCode",
    "Brand",
    "Consent",
    "ConsentText",
    "EmailChange",
    "ErasureRecord",
    "ErasureRequest",
    "RecipientTerms",
    "LedgerAnchor",
    "LedgerEntry",
    "LifecycleNotice",
    "LifecyclePolicy",
    "OutboxMessage",
    "Passkey",
    "PasskeyChallenge",
    "ProfileField",
    "SignInLink",
    "SignupRequest",
    "SiteGroup",
    "Subject",
    "Suppression",
    "Topic",
]


def _ids_never_reused() -> None:
    """On SQLite a key without AUTOINCREMENT hands a deleted newest row's id to the next row
    (an erased person's id to the next sign-up); every table with an integer key has it, and
    new tables' migrations are written with it (``sqlite_autoincrement``)."""
    from sqlalchemy import Integer

    from portal.extensions import db

    for table in db.metadata.tables.values():
        key = list(table.primary_key.columns)
        if len(key) == 1 and isinstance(key[0].type, Integer):
            table.dialect_options["sqlite"]["autoincrement"] = True


_ids_never_reused()
