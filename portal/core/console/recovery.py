"""How an admin gets back in: a new password (knowing the old one, or by a mailed link),
recovery codes for a lost phone, an owner resetting another admin's two-factor sign-in.

Each admin carries a session epoch: the console's session cookie records it at sign-in, and
a cookie with an older epoch no longer opens the console. A password reset or change raises
it, so every other session of that admin ends (a thief's included).
"""

import secrets

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select

from portal import tokens
from portal.core.console import admins, audit
from portal.core.console.models import OWNER, AdminAccount, RecoveryCode
from portal.core.kernel import clock, links
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.transaction import commit_session
from portal.core.mail import mails
from portal.extensions import db

RECOVERY_CODES = 10
# Ten characters from an alphabet without look-alikes (no 0/O, 1/l/I): about 50 bits each.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def _end_other_sessions(account: AdminAccount) -> None:
    account.session_epoch = (account.session_epoch or 0) + 1


def change_password(account: AdminAccount, current: str, password: str, again: str) -> None:
    """A new password for a signed-in admin who knows the current one; other sessions end."""
    if admins.authenticate(account.email, current) is None:
        raise InvalidInput("current_password", _l("This is not your current password."))
    admins.check_password(password, again)
    with commit_session():
        account.password_hash = admins.hash_password(password)
        _end_other_sessions(account)
        audit.record(account.group_id, account, "admin.password_change", account.label)


def request_reset(email: str, language: str, sender) -> None:
    """Mail a reset link if ``email`` is an active admin's; say nothing either way.

    The caller shows the same answer whatever happens here, so the form tells no one which
    addresses have accounts.
    """
    account = admins.find_by_email(email)
    if account is None or account.disabled_at is not None or not account.password_hash:
        return
    with commit_session():
        account.reset_nonce = secrets.token_hex(16)
        token = tokens.issue("admin-reset", {"a": account.id, "n": account.reset_nonce})
        link = links.link(links.ADMIN_RESET, token=token)
        with force_locale(language):
            title = _("Choose a new password for the consent portal")
            mails.to_admin(
                account.group_id,
                "admin_reset",
                account.email,
                sender,
                title,
                language,
                group=account.group,
                link=link,
            )
        audit.record(account.group_id, None, "admin.password_reset_asked", account.label)


def reset_target(payload) -> AdminAccount | None:
    """The account a reset link names, while that link is the latest and unused."""
    if not isinstance(payload, dict) or not payload.get("a"):
        return None
    account = db.session.get(AdminAccount, payload["a"])
    if account is None or not account.reset_nonce or account.disabled_at is not None:
        return None
    if not secrets.compare_digest(account.reset_nonce, str(payload.get("n", ""))):
        return None
    return account


def reset_password(account: AdminAccount, password: str, again: str) -> None:
    """Set the password from a reset link: the link stops working, every session ends.
    Two-factor sign-in stays as it was: the mailbox alone does not open the console."""
    admins.check_password(password, again)
    with commit_session():
        account.password_hash = admins.hash_password(password)
        account.reset_nonce = None
        _end_other_sessions(account)
        audit.record(account.group_id, account, "admin.password_reset", account.label)


def set_password(account: AdminAccount, password: str, two_factor_off: bool) -> None:
    """``flask admins reset-password``: for an operator locked out of every other way."""
    admins.check_password(password)
    with commit_session():
        account.password_hash = admins.hash_password(password)
        account.reset_nonce = None
        if two_factor_off:
            _turn_off_two_factor(account)
        _end_other_sessions(account)
        audit.record(
            account.group_id,
            None,
            "admin.password_reset",
            account.label,
            after={"two_factor_reset": two_factor_off},
        )


def new_recovery_codes(account: AdminAccount) -> list[str]:
    """Ten fresh single-use codes, replacing any left; only their hashes are kept, so the
    caller shows them once and they can never be shown again."""
    codes = [
        "-".join("".join(secrets.choice(ALPHABET) for _ in range(5)) for _ in range(2))
        for _ in range(RECOVERY_CODES)
    ]
    with commit_session():
        db.session.execute(delete(RecoveryCode).where(RecoveryCode.admin_id == account.id))
        for code in codes:
            db.session.add(RecoveryCode(admin_id=account.id, code_hash=admins.hash_password(code)))
        audit.record(account.group_id, account, "admin.recovery_codes", account.label)
    return codes


def codes_left(account: AdminAccount) -> int:
    return len(_unused(account))


def _unused(account: AdminAccount) -> list[RecoveryCode]:
    return list(
        db.session.scalars(
            select(RecoveryCode).where(
                RecoveryCode.admin_id == account.id, RecoveryCode.used_at.is_(None)
            )
        )
    )


def _normalise(code: str) -> str:
    code = "".join(ch for ch in (code or "").lower() if ch in ALPHABET)
    return f"{code[:5]}-{code[5:]}" if len(code) == 10 else ""


def use_recovery_code(account: AdminAccount, code: str) -> bool:
    """Accept one of the account's unused recovery codes, once."""
    code = _normalise(code)
    if not code:
        return False
    for row in _unused(account):
        if admins.verify_hash(row.code_hash, code):
            with commit_session():
                row.used_at = clock.now()
                audit.record(account.group_id, account, "admin.recovery_code_used", account.label)
            return True
    return False


def _turn_off_two_factor(account: AdminAccount) -> None:
    account.totp_enabled, account.totp_secret, account.totp_last_step = False, None, 0
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.admin_id == account.id))


def turn_off_two_factor(account: AdminAccount, password: str) -> None:
    """An admin turns off their own two-factor sign-in, where the role allows it."""
    if account.role == OWNER:
        raise InvalidInput("password", _l("Owners must keep two-factor sign-in."))
    if admins.authenticate(account.email, password) is None:
        raise InvalidInput("password", _l("This is not your current password."))
    with commit_session():
        _turn_off_two_factor(account)
        audit.record(account.group_id, account, "admin.totp_disabled", account.label)


def reset_two_factor(owner: AdminAccount, account: AdminAccount) -> None:
    """An owner clears another admin's lost authenticator: at their next sign-in they use
    their password alone, and an owner must then enrol again before going further."""
    if account.id == owner.id:
        raise InvalidInput("account", _l("Reset your own two-factor sign-in from My account."))
    with commit_session():
        _turn_off_two_factor(account)
        _end_other_sessions(account)
        audit.record(owner.group_id, owner, "admin.totp_reset", account.label)
