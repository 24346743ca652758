"""Every table of the portal; importing this module registers them all."""

from portal.core.models.access import SignInLink
from portal.core.models.admin import AccessEntry, AdminAccount, AuditEntry
from portal.core.models.api import (
    ApiClient,
    IdempotencyRecord,
    WebhookDelivery,
    WebhookEndpoint,
)
from portal.core.models.consent import Consent, LedgerEntry, SignupRequest
from portal.core.models.erasure import ErasureRecord, Suppression
from portal.core.models.event import Event
from portal.core.models.group import Brand, ConsentText, SiteGroup, Topic
from portal.core.models.lifecycle import LifecycleNotice, LifecyclePolicy
from portal.core.models.outbox import OutboxMessage
from portal.core.models.profile import EmailChange, ProfileField
from portal.core.models.request import AddressRequest
from portal.core.models.subject import Subject

__all__ = [
    "AddressRequest",
    "ApiClient",
    "Event",
    "IdempotencyRecord",
    "WebhookDelivery",
    "WebhookEndpoint",
    "AccessEntry",
    "AdminAccount",
    "AuditEntry",
    "Brand",
    "Consent",
    "ConsentText",
    "EmailChange",
    "ErasureRecord",
    "LedgerEntry",
    "LifecycleNotice",
    "LifecyclePolicy",
    "OutboxMessage",
    "ProfileField",
    "SignInLink",
    "SignupRequest",
    "SiteGroup",
    "Subject",
    "Suppression",
    "Topic",
]
