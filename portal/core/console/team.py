"""Other admins of a group: invitations by mail, roles, brands given, disabling.

Every change here is one transaction with its audit row. An owner can never take away the
last owner of a group (the group would be left without anyone able to run it).
"""

import secrets

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from portal import tokens
from portal.core.console import admins, audit
from portal.core.console.models import BRAND_ADMIN, OWNER, ROLES, AdminAccount
from portal.core.kernel import clock, links
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.transaction import commit_session
from portal.core.mail import mails
from portal.extensions import db


def _state(account: AdminAccount) -> dict:
    return {
        "role": account.role,
        "brands": sorted(brand.slug for brand in account.brands),
        "disabled": account.disabled_at is not None,
    }


def invite(owner: AdminAccount, email: str, role: str, brand_ids, language: str, sender):
    """Create an account without a password and mail it a link to choose one."""
    with commit_session():
        account = admins.new_account(owner.group, email, role, brand_ids)
        account.invite_nonce = secrets.token_hex(16)
        account.invited_at = clock.now()
        audit.record(owner.group_id, owner, "admin.invite", account.label, after=_state(account))
        _queue_invitation(account, owner, language, sender)
    return account


def invitation_expired(account: AdminAccount, max_age: int) -> bool:
    """Is the pending invitation older than its link's lifetime (ADMIN_INVITE_MAX_AGE)?"""
    sent = account.invited_at or account.created_at
    return bool(account.invite_nonce) and (clock.now() - sent).total_seconds() > max_age


def resend(owner: AdminAccount, account: AdminAccount, language: str, sender) -> None:
    """Mail a pending (or expired) invitation again with a new link; the old link stops."""
    if not account.invite_nonce or account.group_id != owner.group_id:
        raise InvalidInput("account", _l("This admin has already accepted their invitation."))
    with commit_session():
        account.invite_nonce = secrets.token_hex(16)
        account.invited_at = clock.now()
        audit.record(owner.group_id, owner, "admin.invite_resend", account.label)
        _queue_invitation(account, owner, language, sender)


def revoke(owner: AdminAccount, account: AdminAccount) -> None:
    """Withdraw a pending invitation: the account goes (it never signed in), its link stops
    working and the address may be invited again."""
    if not account.invite_nonce or account.password_hash or account.group_id != owner.group_id:
        raise InvalidInput("account", _l("This admin has already accepted their invitation."))
    with commit_session():
        audit.record(
            owner.group_id, owner, "admin.invite_revoke", account.label, before=_state(account)
        )
        db.session.delete(account)


def _queue_invitation(account: AdminAccount, owner: AdminAccount, language: str, sender):
    token = tokens.issue("admin-invite", {"a": account.id, "n": account.invite_nonce})
    link = links.link(links.ADMIN_INVITE, token=token)
    with force_locale(language):
        title = _("You are invited to the consent portal of %(group)s", group=owner.group.name)
        mails.to_admin(
            owner.group_id,
            "admin_invite",
            account.email,
            sender,
            title,
            language,
            group=owner.group,
            link=link,
        )


def invited(payload: dict) -> AdminAccount | None:
    """The account an invitation token names, while its invitation is still open."""
    if not isinstance(payload, dict):
        return None
    account = db.session.get(AdminAccount, payload.get("a")) if payload.get("a") else None
    if account is None or not account.invite_nonce or account.disabled_at is not None:
        return None
    if not secrets.compare_digest(account.invite_nonce, str(payload.get("n", ""))):
        return None
    return account


def accept(account: AdminAccount, password: str, again: str) -> None:
    """Set the invited admin's password; the invitation link stops working."""
    admins.check_password(password, again)
    with commit_session():
        account.password_hash = admins.hash_password(password)
        account.invite_nonce = None
        audit.record(account.group_id, account, "admin.accept_invite", account.label)


def _owners_left(group_id: int, without: AdminAccount) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(AdminAccount)
        .where(
            AdminAccount.group_id == group_id,
            AdminAccount.role == OWNER,
            AdminAccount.disabled_at.is_(None),
            AdminAccount.id != without.id,
        )
    )


def change(owner: AdminAccount, account: AdminAccount, role: str, brand_ids, disabled: bool):
    """Give ``account`` a role (and brands), or disable or enable it."""
    if role not in ROLES:
        raise InvalidInput("role", _l("Choose a role."))
    brands = admins._group_brands(owner.group_id, brand_ids)
    if role == BRAND_ADMIN and not brands:
        raise InvalidInput("brands", _l("Give a brand admin at least one brand."))
    if (
        account.role == OWNER
        and (role != OWNER or disabled)
        and not _owners_left(owner.group_id, account)
    ):
        raise InvalidInput("role", _l("The group needs at least one active owner."))
    with commit_session():
        before = _state(account)
        account.role = role
        account.brands = brands if role == BRAND_ADMIN else []
        if disabled and account.disabled_at is None:
            account.disabled_at = clock.now()
        elif not disabled:
            account.disabled_at = None
        audit.record(
            owner.group_id,
            owner,
            "admin.change",
            account.label,
            before=before,
            after=_state(account),
        )


def members(group_id: int) -> list[AdminAccount]:
    return list(
        db.session.scalars(
            select(AdminAccount).where(AdminAccount.group_id == group_id).order_by(AdminAccount.id)
        )
    )
