"""Dashboard figures for a group or one brand, counted by the database (aggregate SQL).

The weekly series read past days from the daily roll-ups (``rollups``) and count only the
days not rolled up yet (today) from the records, so a page reads a bounded number of rows
whatever the size of the ledger. So does the confirmation rate (``totals``: all-time counts
carried by the lifecycle run, plus the roll-ups and today's records).

Two figures are states of now, which no sum of past days gives, and are counted live: pending
sign-ups older than 48 hours (a request confirmed since no longer counts) by a range of the
index of waiting requests (a small set: the ``unconfirmed`` rule deletes them once due), and
the active consents per topic and channel (a consent leaves "granted" by withdrawal, expiry,
the lifecycle's rules or erasure) by a range of the (topic, channel, state) index, one entry
per consent granted.

Figures hold no personal data: only counts per topic, channel and week.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, literal, select

from portal.core.consent.models import GRANTED, Consent, SignupRequest
from portal.core.console import counts, rollups, totals
from portal.core.console.audit import safe_cell
from portal.core.console.counts import SERIES
from portal.core.console.models import DailyFigures
from portal.core.kernel import clock
from portal.core.kernel.models.group import Brand, Topic
from portal.extensions import db

WEEKS = 12
STALE_AFTER = timedelta(hours=48)


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


def _add(counts: dict[date, int], rows) -> None:
    for day, count in rows:
        monday = _monday(rollups.as_date(day))
        if monday in counts:
            counts[monday] += int(count or 0)


def _erasures_column(brand_ids: list[int]):
    """The roll-up column whose sum over ``brand_ids`` counts each erasure once: a brand's
    own, or the group's (``erasures_once``) when they are all its brands; None for another
    set of brands, whose erasures are then counted from the records."""
    if len(set(brand_ids)) == 1:
        return DailyFigures.erasures
    groups = set(db.session.scalars(select(Brand.group_id).where(Brand.id.in_(brand_ids))))
    if len(groups) != 1:
        return None
    every = set(db.session.scalars(select(Brand.id).where(Brand.group_id == groups.pop())))
    return DailyFigures.erasures_once if every == set(brand_ids) else None


def _series(brand_ids: list[int], weeks: list[date], live_from: date) -> dict[str, list[int]]:
    """Each series per week: the days rolled up for every brand (before ``live_from``) from
    ``DailyFigures``, the days after them (today, or more if no run has rolled them up yet)
    counted from the records, by index ranges."""
    start = weeks[0]
    per_week = {name: dict.fromkeys(weeks, 0) for name in SERIES}
    erasures = _erasures_column(brand_ids)
    columns = [getattr(DailyFigures, name) for name in SERIES]
    columns[SERIES.index("erasures")] = erasures if erasures is not None else literal(0)
    rolled = db.session.execute(
        select(DailyFigures.day, *(func.sum(column) for column in columns))
        .where(
            DailyFigures.brand_id.in_(brand_ids),
            DailyFigures.day >= start,
            DailyFigures.day < live_from,
        )
        .group_by(DailyFigures.day)
    ).all()
    for n, name in enumerate(SERIES, start=1):
        _add(per_week[name], ((row[0], row[n]) for row in rolled))
    live = counts.daily(brand_ids, rollups.midnight(live_from))
    if erasures is None:
        live["erasures"] = counts.daily(brand_ids, rollups.midnight(start))["erasures"]
    for name, query in live.items():
        _add(per_week[name], db.session.execute(query))
    return {name: [per_week[name][week] for week in weeks] for name in SERIES}


def compute(brand_ids: list[int]) -> Figures:
    """The figures of the brands ``brand_ids`` (a group's dashboard passes all of them)."""
    now = clock.now()
    this_week = _monday(now.date())
    weeks = [this_week - timedelta(weeks=back) for back in range(WEEKS - 1, -1, -1)]
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
    figures = Figures(active=active, weeks=weeks)
    through = rollups.rolled_through(brand_ids, weeks[0])
    live_from = min(through + timedelta(days=1), now.date()) if through else weeks[0]
    figures.series = _series(brand_ids, weeks, live_from)
    requests = totals.requests(brand_ids)
    found = totals.all_time(brand_ids, live_from if through else None)
    if found is None:  # no run has carried a brand's figures yet: count the records
        found = db.session.execute(
            select(func.count(), func.count(SignupRequest.confirmed_at)).where(requests)
        ).one()
    figures.requested, figures.confirmed = found
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
