"""Dashboard figures for a group or one brand, counted by the database (aggregate SQL).

Figures hold no personal data: only counts per topic, channel and week.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, func, select

from portal.core.consent.models import (
    GRANTED,
    WITHDRAWAL,
    Consent,
    LedgerEntry,
    SignupRequest,
)
from portal.core.console.audit import safe_cell
from portal.core.kernel import clock
from portal.core.kernel.models.group import Topic
from portal.core.kernel.models.job import DONE, Job
from portal.core.people.models.erasure import ErasureRecord
from portal.extensions import db

WEEKS = 12
STALE_AFTER = timedelta(hours=48)
SERIES = ("signups", "confirmations", "optouts", "erasures", "imports")


@dataclass
class Figures:
    active: list[tuple[Topic, str, int]]  # (topic, channel, granted consents)
    weeks: list[date]  # Mondays, oldest first
    series: dict[str, list[int]] = field(default_factory=dict)  # name -> count per week
    requested: int = 0
    confirmed: int = 0
    stale_pending: int = 0

    @property
    def confirmation_rate(self) -> float | None:
        """Share of double opt-in requests confirmed; None before the first request."""
        return self.confirmed / self.requested if self.requested else None


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _day(column):
    """The calendar day in UTC (PostgreSQL would otherwise use the session's time zone)."""
    if db.engine.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)


def _per_week(query, weeks: list[date]) -> list[int]:
    counts = dict.fromkeys(weeks, 0)
    for day, count in db.session.execute(query):
        monday = _monday(day if isinstance(day, date) else date.fromisoformat(str(day)))
        if monday in counts:
            counts[monday] += int(count or 0)
    return [counts[week] for week in weeks]


def _daily(moment, since, *conditions):
    day = _day(moment)
    return select(day, func.count()).where(moment >= since, *conditions).group_by(day)


def compute(brand_ids: list[int]) -> Figures:
    """The figures of the brands ``brand_ids`` (a group's dashboard passes all of them)."""
    now = clock.now()
    this_week = _monday(now.date())
    weeks = [this_week - timedelta(weeks=back) for back in range(WEEKS - 1, -1, -1)]
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=now.weekday() + 7 * (WEEKS - 1)
    )
    active_rows = db.session.execute(
        select(Consent.topic_id, Consent.channel, func.count())
        .where(Consent.brand_id.in_(brand_ids), Consent.state == GRANTED)
        .group_by(Consent.topic_id, Consent.channel)
    ).all()
    topics = {
        topic.id: topic
        for topic in db.session.scalars(select(Topic).where(Topic.brand_id.in_(brand_ids)))
    }
    active = sorted(
        ((topics[topic_id], channel, count) for topic_id, channel, count in active_rows),
        key=lambda row: (row[0].brand_id, row[0].position, row[0].id, row[1]),
    )
    # Requests to confirm again after a policy change (source "admin") are not sign-ups.
    requests = and_(SignupRequest.brand_id.in_(brand_ids), SignupRequest.source != "admin")
    signups = _daily(SignupRequest.requested_at, start, requests)
    confirmations = _daily(SignupRequest.confirmed_at, start, requests)
    optouts = _daily(
        LedgerEntry.occurred_at,
        start,
        LedgerEntry.brand_id.in_(brand_ids),
        LedgerEntry.action == WITHDRAWAL,
    )
    # An erasure counts at the brands where the person had consents: their anonymised proof
    # in the ledger carries the erasure id (the disposal record itself names no brand).
    erased_here = (
        select(LedgerEntry.erasure_id)
        .where(LedgerEntry.brand_id.in_(brand_ids), LedgerEntry.erasure_id.is_not(None))
        .distinct()
    )
    erasures = _daily(ErasureRecord.erased_at, start, ErasureRecord.id.in_(erased_here))
    # Consents brought in from earlier records arrive with no sign-up behind them: counted in
    # the week their import finished (the ledger keeps each consent's original date).
    day = _day(Job.finished_at)
    imports = (
        select(day, func.sum(Job.done - Job.failed))
        .where(
            Job.finished_at >= start,
            Job.kind == "import",
            Job.state == DONE,
            Job.brand_id.in_(brand_ids),
        )
        .group_by(day)
    )
    figures = Figures(active=active, weeks=weeks)
    series = (signups, confirmations, optouts, erasures, imports)
    for name, query in zip(SERIES, series, strict=True):
        figures.series[name] = _per_week(query, weeks)
    figures.requested, figures.confirmed = db.session.execute(
        select(func.count(), func.count(SignupRequest.confirmed_at)).where(requests)
    ).one()
    figures.stale_pending = db.session.scalar(
        select(func.count()).where(
            requests,
            SignupRequest.confirmed_at.is_(None),
            SignupRequest.requested_at < now - STALE_AFTER,
        )
    )
    return figures


def as_csv(figures: Figures, language: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "brand_id", "topic", "channel", "week", "value"])
    for topic, channel, count in figures.active:
        writer.writerow(
            ["active_consents", topic.brand_id, safe_cell(topic.key), channel, "", count]
        )
    for name, values in figures.series.items():
        for week, value in zip(figures.weeks, values, strict=True):
            writer.writerow([name, "", "", "", week.isoformat(), value])
    writer.writerow(["signup_requests", "", "", "", "", figures.requested])
    writer.writerow(["signup_requests_confirmed", "", "", "", "", figures.confirmed])
    writer.writerow(["pending_older_than_48h", "", "", "", "", figures.stale_pending])
    return out.getvalue()
