"""The dashboard's all-time sign-up figures (requests made, requests confirmed, hence the
confirmation rate) without counting every sign-up request on every view.

A brand's ``FiguresBefore`` row holds its counts of every day before its ``before`` day. `flask
lifecycle run` carries it forward (``carry``, in the roll-up's transaction) to the first day a
run still counts again: it counts the records of the days in between by index ranges on their
time, so a run reads the days it adds; a brand with no row yet is counted once from its first
record. Two runs at once agree: the row moves only from the ``before`` its run read (the other
run's update then finds nothing to change).

The dashboard (``all_time``) adds the row, the roll-ups of the days from ``before`` up to the
last rolled day (a few rows per brand) and the records of the days after it (today), counted
live. Like a rolled-up day, a carried day keeps what its records held when it was counted: a
request the ``unconfirmed`` rule or an erasure deletes later still counts as made and not
confirmed (a count of the records alone would lose it and raise the rate).
"""

from datetime import UTC, date, datetime, time

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from portal.core.consent.models import SignupRequest
from portal.core.console.models import DailyFigures, FiguresBefore
from portal.core.kernel import clock
from portal.extensions import db

MOMENTS = {"signups": SignupRequest.requested_at, "confirmations": SignupRequest.confirmed_at}


def requests(brand_ids):
    """Sign-up requests of the brands; requests to confirm again after a policy change
    (source "admin") are not sign-ups."""
    return and_(SignupRequest.brand_id.in_(brand_ids), SignupRequest.source != "admin")


def counted(brand_ids, since: datetime | None, until: datetime | None) -> dict[int, dict]:
    """Per brand, the requests made and confirmed in [since, until) (None: open), each read
    by a range of its (brand, time) index."""
    found = {brand: dict.fromkeys(MOMENTS, 0) for brand in brand_ids}
    for name, moment in MOMENTS.items():
        when = [moment.is_not(None)]
        when += [moment >= since] if since is not None else []
        when += [moment < until] if until is not None else []
        rows = db.session.execute(
            select(SignupRequest.brand_id, func.count())
            .where(requests(brand_ids), *when)
            .group_by(SignupRequest.brand_id)
        )
        for brand, count in rows:
            found[brand][name] = int(count)
    return found


def carry(brand_ids: list[int], until: date) -> None:
    """Carry each brand's row forward to ``until`` (no day from it on is counted in), in the
    caller's transaction: a brand without one is counted from its first record."""
    now = clock.now()
    start = datetime.combine(until, time(), tzinfo=UTC)
    rows = db.session.execute(
        select(FiguresBefore.brand_id, FiguresBefore.before).where(
            FiguresBefore.brand_id.in_(brand_ids)
        )
    ).all()
    new = sorted(set(brand_ids) - {brand for brand, _ in rows})
    if new:
        dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
        values = [
            {"brand_id": brand, "before": until, "computed_at": now, **figures}
            for brand, figures in counted(new, None, start).items()
        ]
        db.session.execute(dialect.insert(FiguresBefore).on_conflict_do_nothing(), values)
    by_before: dict[date, list[int]] = {}
    for brand, before in rows:
        if before < until:
            by_before.setdefault(before, []).append(brand)
    for before, brands in by_before.items():
        since = datetime.combine(before, time(), tzinfo=UTC)
        for brand, figures in counted(brands, since, start).items():
            db.session.execute(
                update(FiguresBefore)
                .where(FiguresBefore.brand_id == brand, FiguresBefore.before == before)
                .values(
                    before=until,
                    computed_at=now,
                    **{name: getattr(FiguresBefore, name) + n for name, n in figures.items()},
                )
            )


def all_time(brand_ids: list[int], live_from: date | None) -> tuple[int, int] | None:
    """(requests made, requests confirmed) of all time: the carried rows, the roll-ups of the
    days from each row's ``before`` to ``live_from`` (the first day not rolled up for every
    brand) and the records from ``live_from`` on. None when a brand has no carried row yet,
    or its row starts after ``live_from`` (no run since it was made): count the records."""
    carried = db.session.execute(
        select(FiguresBefore.before, FiguresBefore.signups, FiguresBefore.confirmations).where(
            FiguresBefore.brand_id.in_(brand_ids)
        )
    ).all()
    if live_from is None or len(carried) != len(set(brand_ids)):
        return None
    if any(before > live_from for before, *_ in carried):
        return None
    rolled = db.session.execute(
        select(
            func.coalesce(func.sum(DailyFigures.signups), 0),
            func.coalesce(func.sum(DailyFigures.confirmations), 0),
        )
        .join(FiguresBefore, FiguresBefore.brand_id == DailyFigures.brand_id)
        .where(
            DailyFigures.brand_id.in_(brand_ids),
            DailyFigures.day >= FiguresBefore.before,
            DailyFigures.day < live_from,
        )
    ).one()
    live = counted(brand_ids, datetime.combine(live_from, time(), tzinfo=UTC), None).values()
    made = sum(row[1] for row in carried) + int(rolled[0]) + sum(f["signups"] for f in live)
    confirmed = (
        sum(row[2] for row in carried) + int(rolled[1]) + sum(f["confirmations"] for f in live)
    )
    return made, confirmed
