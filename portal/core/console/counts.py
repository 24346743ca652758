"""The dashboard's daily series counted straight from the records, over a range of days.

``daily(brand_ids, since, until)`` gives, per series, a query of (day, count) rows, or of
(day, brand id, count) rows with ``by_brand``. Each reads only the rows of its range through
an index on its time (sign-up requests and withdrawals by brand and time, erasures by time,
finished imports): the live part of a dashboard (today) and the roll-up of a closed day read
that day's rows, never the whole ledger.
"""

from datetime import datetime

from sqlalchemy import and_, exists, func, select

from portal.core.consent.models import WITHDRAWAL, LedgerEntry, SignupRequest
from portal.core.kernel.models.job import DONE, Job
from portal.core.people.models.erasure import ErasureRecord
from portal.extensions import db

SERIES = ("signups", "confirmations", "optouts", "erasures", "imports")


def day_of(column):
    """The calendar day in UTC (PostgreSQL would otherwise use the session's time zone)."""
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _in(moment, since: datetime, until: datetime | None):
    return and_(moment >= since, moment < until) if until is not None else moment >= since


def _grouped(moment, brand, value, by_brand: bool, *where):
    day = day_of(moment)
    keys = (day, brand) if by_brand else (day,)
    return select(*keys, value).where(*where).group_by(*keys)


def daily(brand_ids: list[int], since: datetime, until: datetime | None = None, by_brand=False):
    """Per series name, the query of its counts per day in [since, until)."""
    # Requests to confirm again after a policy change (source "admin") are not sign-ups.
    mine = and_(SignupRequest.brand_id.in_(brand_ids), SignupRequest.source != "admin")
    queries = {}
    for name, moment in (
        ("signups", SignupRequest.requested_at),
        ("confirmations", SignupRequest.confirmed_at),
    ):
        queries[name] = _grouped(
            moment, SignupRequest.brand_id, func.count(), by_brand, mine, _in(moment, since, until)
        )
    queries["optouts"] = _grouped(
        LedgerEntry.occurred_at,
        LedgerEntry.brand_id,
        func.count(),
        by_brand,
        LedgerEntry.brand_id.in_(brand_ids),
        LedgerEntry.action == WITHDRAWAL,
        _in(LedgerEntry.occurred_at, since, until),
    )
    queries["erasures"] = _erasures(brand_ids, since, until, by_brand)
    # Consents brought in from earlier records arrive with no sign-up behind them: counted on
    # the day their import finished (the ledger keeps each consent's original date).
    queries["imports"] = _grouped(
        Job.finished_at,
        Job.brand_id,
        func.coalesce(func.sum(Job.done - Job.failed), 0),
        by_brand,
        Job.kind == "import",
        Job.state == DONE,
        Job.brand_id.in_(brand_ids),
        _in(Job.finished_at, since, until),
    )
    return queries


def _erasures(brand_ids, since, until, by_brand):
    """An erasure counts at the brands where the person had consents: their anonymised proof
    in the ledger carries the erasure id (the disposal record itself names no brand)."""
    when = _in(ErasureRecord.erased_at, since, until)
    if by_brand:
        return _grouped(
            ErasureRecord.erased_at,
            LedgerEntry.brand_id,
            func.count(func.distinct(ErasureRecord.id)),
            True,
            when,
            LedgerEntry.erasure_id == ErasureRecord.id,
            LedgerEntry.brand_id.in_(brand_ids),
        )
    here = exists().where(
        LedgerEntry.erasure_id == ErasureRecord.id, LedgerEntry.brand_id.in_(brand_ids)
    )
    return _grouped(ErasureRecord.erased_at, None, func.count(), False, when, here)


def first_brands(brand_ids: list[int], since: datetime, until: datetime):
    """Query of (day, brand id, count): each erasure of [since, until) counted once, at the
    lowest-id brand of ``brand_ids`` where the person had consents."""
    first = (
        select(LedgerEntry.erasure_id, func.min(LedgerEntry.brand_id).label("brand_id"))
        .join(ErasureRecord, ErasureRecord.id == LedgerEntry.erasure_id)
        .where(_in(ErasureRecord.erased_at, since, until), LedgerEntry.brand_id.in_(brand_ids))
        .group_by(LedgerEntry.erasure_id)
        .subquery()
    )
    day = day_of(ErasureRecord.erased_at)
    return (
        select(day, first.c.brand_id, func.count())
        .join(first, first.c.erasure_id == ErasureRecord.id)
        .group_by(day, first.c.brand_id)
    )
