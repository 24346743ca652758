"""Every table of the portal; importing this module registers them all."""

from portal.core.models.admin import AccessEntry, AdminAccount, AuditEntry
from portal.core.models.consent import Consent, LedgerEntry, SignupRequest
from portal.core.models.group import Brand, ConsentText, SiteGroup, Topic
from portal.core.models.outbox import OutboxMessage
from portal.core.models.subject import Subject

__all__ = [
    "AccessEntry",
    "AdminAccount",
    "AuditEntry",
    "Brand",
    "Consent",
    "ConsentText",
    "LedgerEntry",
    "OutboxMessage",
    "SignupRequest",
    "SiteGroup",
    "Subject",
    "Topic",
]
