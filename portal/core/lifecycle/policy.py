"""A site group's lifecycle settings: read with defaults, changed with a before/after record."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.console import audit
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.group import SiteGroup
from portal.core.kernel.transaction import transaction
from portal.core.lifecycle.models import LifecyclePolicy
from portal.core.people.profile import MOBILE, POSTAL
from portal.extensions import db

SETTINGS = (
    "unconfirmed_days",
    "dormant_months",
    "repermission_months",
    "repermission_answer_days",
    "former_customer_months",
    "reconfirm_months",
)
# Settings that may be empty, which turns their rule off.
OPTIONAL = {"unconfirmed_days", "dormant_months", "repermission_months", "former_customer_months"}
FIELDS = (MOBILE, POSTAL)  # profile fields a group may ask people to reconfirm


def months_ago(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` calendar months earlier (the 31st becomes the last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    days = [31, 29 if _leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return moment.replace(year=year, month=month, day=min(moment.day, days))


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def policy_of(group: SiteGroup) -> LifecyclePolicy:
    """The group's policy; a group without one gets the defaults (and keeps them)."""
    row = db.session.scalar(select(LifecyclePolicy).where(LifecyclePolicy.group_id == group.id))
    if row is None:
        with transaction():
            row = defaults(group)
    return row


def defaults(group: SiteGroup) -> LifecyclePolicy:
    """Add the default policy in the caller's transaction: 30 days to confirm a sign-up,
    erasure after 24 months of dormancy, re-permission after 18 months, 30 days to answer,
    former customers kept 12 months, the postal address reconfirmed every 12 months."""
    row = LifecyclePolicy(
        group_id=group.id,
        unconfirmed_days=30,
        dormant_months=24,
        repermission_months=18,
        repermission_answer_days=30,
        former_customer_months=12,
        reconfirm_months={POSTAL: 12},
        updated_at=clock.now(),
        updated_by="default",
    )
    db.session.add(row)
    db.session.flush()
    return row


def as_dict(row: LifecyclePolicy) -> dict:
    return {name: getattr(row, name) for name in SETTINGS}


def _number(name: str, value, optional: bool):
    if value in (None, "") and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1200:
        raise InvalidInput(name, _l("Enter a whole number from 1 to 1200."))
    return value


def _intervals(value) -> dict:
    if not isinstance(value, dict):
        raise InvalidInput("reconfirm_months", _l("Give a number of months per field."))
    for field_name, months in value.items():
        if field_name not in FIELDS:
            raise InvalidInput("reconfirm_months", _l("This field cannot be reconfirmed."))
        _number("reconfirm_months", months, optional=False)
    return dict(value)


def update_policy(group: SiteGroup, changes: dict, actor: str, admin=None) -> tuple[dict, dict]:
    """Change some settings; returns (before, after), also written to the audit log in the
    same transaction (``admin`` None: the command line or a test).

    Everything is validated before anything is written: an unknown setting or a bad value
    raises InvalidInput naming it, and nothing changes.
    """
    row = policy_of(group)
    before = as_dict(row)
    clean = {}
    for name, value in changes.items():
        if name not in SETTINGS:
            raise InvalidInput(name, _l("There is no such setting."))
        if name == "reconfirm_months":
            clean[name] = _intervals(value)
        else:
            clean[name] = _number(name, value, optional=name in OPTIONAL)
    with transaction():
        for name, value in clean.items():
            setattr(row, name, value)
        row.updated_at, row.updated_by = clock.now(), actor
        after = as_dict(row)
        if after != before:
            audit.record(
                group.id, admin, "lifecycle.update", "retention rules", before=before, after=after
            )
    return before, after
