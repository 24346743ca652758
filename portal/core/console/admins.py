"""Admin accounts: passwords (argon2id), two-factor codes (TOTP), roles and permissions.

Roles: an owner may do everything in their site group; a brand admin only what concerns the
brands given to them; a viewer sees figures and nothing personal. Every view asks ``can``.
"""

import secrets
from functools import cache

import pyotp
from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.console import audit
from portal.core.console.models import BRAND_ADMIN, OWNER, ROLES, VIEWER, AdminAccount
from portal.core.kernel import clock
from portal.core.kernel.crypto import keys
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.group import Brand, SiteGroup
from portal.core.kernel.transaction import commit_session
from portal.core.people.subjects import normalise_email
from portal.extensions import db

MIN_PASSWORD = 12
MAX_PASSWORD = 200
ISSUER = "Consent portal"


@cache
def _hasher_of(profile: str) -> PasswordHasher:
    return PasswordHasher.from_parameters(getattr(profiles, profile))


def _hasher() -> PasswordHasher:
    """argon2id at the cost PASSWORD_HASH_PROFILE names: the library's recommended one
    (RFC 9106, low memory) unless the tests ask for the cheapest, to spare their CPU."""
    return _hasher_of(current_app.config["PASSWORD_HASH_PROFILE"])


def hash_password(password: str) -> str:
    """The argon2id hash kept for ``password``; the password itself is never stored."""
    return _hasher().hash(password)


def verify_hash(stored: str, value: str) -> bool:
    """Does ``value`` match the argon2id hash ``stored`` (a password or a recovery code)?"""
    try:
        return _hasher().verify(stored, value)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash(profile: str) -> str:
    """Checked when no account matches, so a wrong address takes as long as a wrong password.
    Made at the first sign-in, not on import: every gunicorn worker and every flask command
    would spend a quarter of a second of CPU on it at start."""
    return _hasher_of(profile).hash(secrets.token_hex(16))


# action -> roles that may take it (brand admins only for the brands given to them)
ACTIONS = {
    "view_figures": {OWNER, BRAND_ADMIN, VIEWER},
    "manage_brand": {OWNER, BRAND_ADMIN},
    "create_brand": {OWNER},
    "manage_group": {OWNER},  # the group's settings: name, languages, postal address, ...
    "support": {OWNER, BRAND_ADMIN},
    "import": {OWNER, BRAND_ADMIN},
    "manage_admins": {OWNER},
    "view_audit": {OWNER},
    "view_rules": {OWNER, VIEWER},  # the retention rules and how many people each would touch
    "manage_rules": {OWNER},
    "manage_api_clients": {OWNER, BRAND_ADMIN},
    # Recording processing terms (what makes a client a recipient of personal data) and
    # reading the disposal records with each recipient's answer: the controller's own duties.
    "manage_recipients": {OWNER},
    "view_erasures": {OWNER},
}
# What a brand admin may do without naming a brand (the pages then show only their brands).
_BRANDLESS = {"view_figures", "support", "import", "manage_api_clients"}


def can(admin: AdminAccount | None, action: str, brand: Brand | None = None) -> bool:
    """May ``admin`` take ``action`` (on ``brand``, when the action concerns one)?"""
    if admin is None or admin.disabled_at is not None or admin.role not in ACTIONS.get(action, ()):
        return False
    if brand is not None and brand.group_id != admin.group_id:
        return False
    if admin.role != BRAND_ADMIN:
        return True
    if brand is None:
        return action in _BRANDLESS and bool(admin.brands)
    return brand in admin.brands


def visible_brands(admin: AdminAccount) -> list[Brand]:
    """The brands whose figures (and, if allowed, people) this admin may see."""
    return list(admin.brands) if admin.role == BRAND_ADMIN else list(admin.group.brands)


def admin_hash(address: str) -> str:
    return keys().keyed_hash(f"admin:{address}")


def find_by_email(raw: str) -> AdminAccount | None:
    try:
        address = normalise_email(raw)
    except InvalidInput:
        return None
    return db.session.scalar(
        select(AdminAccount).where(AdminAccount.email_hash == admin_hash(address))
    )


def check_password(password: str, again: str | None = None) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise InvalidInput(
            "password", _l("Choose a password of at least %(n)s characters.", n=MIN_PASSWORD)
        )
    if len(set(password)) < 6:
        raise InvalidInput(
            "password",
            _l("This password is too easy to guess: use several words or varied characters."),
        )
    if len(password) > MAX_PASSWORD:
        raise InvalidInput("password", _l("The password is too long (200 characters at most)."))
    if again is not None and again != password:
        raise InvalidInput("password_again", _l("The two passwords are not the same."))
    return password


def new_account(group: SiteGroup, email: str, role: str, brand_ids=()) -> AdminAccount:
    """Add an account in the caller's transaction; raises InvalidInput for bad values."""
    address = normalise_email(email)
    if role not in ROLES:
        raise InvalidInput("role", _l("Choose a role."))
    if db.session.scalar(
        select(AdminAccount.id).where(AdminAccount.email_hash == admin_hash(address))
    ):
        raise InvalidInput("email", _l("There is already an admin with this address."))
    brands = _group_brands(group.id, brand_ids)
    if role == BRAND_ADMIN and not brands:
        raise InvalidInput("brands", _l("Give a brand admin at least one brand."))
    account = AdminAccount(
        group_id=group.id,
        email_hash=admin_hash(address),
        email=address,
        role=role,
        created_at=clock.now(),
        brands=brands if role == BRAND_ADMIN else [],
    )
    db.session.add(account)
    db.session.flush()
    return account


def _group_brands(group_id: int, brand_ids) -> list[Brand]:
    ids = {int(value) for value in brand_ids}
    brands = list(
        db.session.scalars(select(Brand).where(Brand.group_id == group_id, Brand.id.in_(ids)))
    )
    if len(brands) != len(ids):
        raise InvalidInput("brands", _l("One of the chosen brands is not in this group."))
    return brands


def create_owner(group: SiteGroup, email: str, password: str) -> AdminAccount:
    """The first owner of a group, made from the command line (``flask admins create-owner``)."""
    check_password(password)
    with commit_session():
        account = new_account(group, email, OWNER)
        account.password_hash = hash_password(password)
        audit.record(group.id, None, "admin.create", account.label, after={"role": OWNER})
    return account


def authenticate(email: str, password: str) -> AdminAccount | None:
    """The active account these credentials open, or None (never saying which part was wrong)."""
    # Before the lookup: its one-off cost falls on either answer alike.
    dummy = _dummy_hash(current_app.config["PASSWORD_HASH_PROFILE"])
    account = find_by_email(email)
    stored = account.password_hash if account and account.password_hash else dummy
    try:
        _hasher().verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if account is None or account.disabled_at is not None or not account.password_hash:
        return None
    if _hasher().check_needs_rehash(stored):
        with commit_session():
            account.password_hash = hash_password(password)
    return account


def needs_second_factor(account: AdminAccount) -> bool:
    return account.totp_enabled


def must_enrol(account: AdminAccount) -> bool:
    """Owners may not work without two-factor codes; others choose."""
    return account.role == OWNER and not account.totp_enabled


def _matching_step(secret: str, last_step: int, code: str) -> int | None:
    """The time step ``code`` belongs to, if it is current and newer than ``last_step``."""
    code = (code or "").strip()
    if not secret or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = clock.now().timestamp()
    for drift in (-1, 0, 1):  # one 30-second step either way for clock skew
        moment = int(now + drift * totp.interval)
        step = moment // totp.interval
        if step > last_step and secrets.compare_digest(totp.at(moment), code):
            return step
    return None


def check_code(account: AdminAccount, code: str) -> bool:
    """Accept a current TOTP code once (a code used before is refused: no replay)."""
    step = _matching_step(account.totp_secret, account.totp_last_step, code)
    if step is None:
        return False
    with commit_session():
        account.totp_last_step = step
    return True


def enrolment_secret(account: AdminAccount) -> str:
    """The secret the person puts in their authenticator app, kept (encrypted) until they
    show a code made from it; a fresh one for an account without two-factor codes yet."""
    if not account.totp_enabled and not account.totp_secret:
        with commit_session():
            account.totp_secret = pyotp.random_base32()
    return account.totp_secret


def provisioning_uri(account: AdminAccount) -> str:
    return pyotp.TOTP(account.totp_secret).provisioning_uri(name=account.email, issuer_name=ISSUER)


def enrol(account: AdminAccount, code: str) -> bool:
    """Turn on two-factor codes once the person shows a code their app made from the secret."""
    if account.totp_enabled:
        return False
    step = _matching_step(account.totp_secret, 0, code)
    if step is None:
        return False
    with commit_session():
        account.totp_enabled, account.totp_last_step = True, step
        audit.record(account.group_id, account, "admin.totp_enabled", account.label)
    return True


def logged_in(account: AdminAccount) -> None:
    with commit_session():
        account.last_login_at = clock.now()
        audit.record(account.group_id, account, "admin.login", account.label)


def set_time_zone(account: AdminAccount, zone: str) -> None:
    """The zone the admin reads dates in: an IANA name the machine knows, or "" for the
    browser's when known, else the portal's. A display choice: not audited."""
    if zone and not clock.known_zone(zone):
        raise InvalidInput("time_zone", _l("Choose a time zone from the list."))
    with commit_session():
        account.time_zone = zone or None
