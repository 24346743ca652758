"""Daily roll-ups of the dashboard figures: one ``DailyFigures`` row per brand and closed day.

``roll_up(group_id)`` (called by `flask lifecycle run`) counts the closed days (UTC) since
the group's last rolled day, at most the dashboard's window back, with the queries of
``counts`` over that range, and writes every brand's row of every such day, zeros included,
in one transaction by insert-or-update on (brand, day). So:

- recomputing a day writes the same row: runs on several machines at once, or again after
  a crash, agree (a crash leaves no row of that run: the transaction never committed);
- no lock beyond the rows written: consent changes never wait for a roll-up;
- the last ``AGAIN_DAYS`` closed days are counted again on every run, for rows committed
  just after midnight with a time before it;
- a run reads the days it writes, never the whole ledger;
- it carries the all-time sign-up figures forward in the same transaction (``totals``).

``prune`` deletes the rows older than ``DAILY_FIGURES_DAYS`` (carried already: the dashboard
reads 12 weeks), ``RETENTION_BATCH`` a run.
"""

from datetime import UTC, date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from portal.config import FIGURES_WINDOW_DAYS
from portal.core.console import counts, totals
from portal.core.console.models import DailyFigures, FiguresBefore
from portal.core.kernel import clock
from portal.core.kernel.models.group import Brand
from portal.core.kernel.transaction import commit_session
from portal.extensions import db

WINDOW_DAYS = FIGURES_WINDOW_DAYS  # the dashboard's 12 weeks, from whichever weekday it is
AGAIN_DAYS = 2
FIGURES = ("signups", "confirmations", "optouts", "erasures", "erasures_once", "imports")


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def rolled_through(brand_ids: list[int], since: date) -> date | None:
    """The last day rolled up for every one of ``brand_ids`` (None if one has none since
    ``since``): the days after it are not all rolled up yet."""
    last = dict(
        db.session.execute(
            select(DailyFigures.brand_id, func.max(DailyFigures.day))
            .where(DailyFigures.brand_id.in_(brand_ids), DailyFigures.day >= since)
            .group_by(DailyFigures.brand_id)
        ).all()
    )
    if not brand_ids or set(last) != set(brand_ids):
        return None
    return min(as_date(day) for day in last.values())


def roll_up(group_id: int) -> int:
    """Write the group's rows of the closed days not rolled up yet; returns how many rows."""
    today = clock.now().date()
    brands = sorted(db.session.scalars(select(Brand.id).where(Brand.group_id == group_id)))
    first = today - timedelta(days=WINDOW_DAYS)
    last = rolled_through(brands, first)
    if last is not None:
        first = max(first, min(last + timedelta(days=1), today - timedelta(days=AGAIN_DAYS)))
    if not brands or first >= today:
        db.session.rollback()
        return 0
    days = [first + timedelta(days=n) for n in range((today - first).days)]
    values = {(brand, day): dict.fromkeys(FIGURES, 0) for brand in brands for day in days}
    since, until = midnight(first), midnight(today)
    queries = counts.daily(brands, since, until, by_brand=True)
    queries["erasures_once"] = counts.first_brands(brands, since, until)
    for name, query in queries.items():
        for day, brand, count in db.session.execute(query):
            values[(brand, as_date(day))][name] = int(count or 0)
    now = clock.now()
    rows = [
        {"brand_id": brand, "day": day, "computed_at": now, **figures}
        for (brand, day), figures in sorted(values.items())
    ]
    with commit_session():
        for start in range(0, len(rows), 500):
            db.session.execute(_upsert(), rows[start : start + 500])
        # The days no run counts again go into the all-time figures (confirmation rate).
        totals.carry(brands, today - timedelta(days=AGAIN_DAYS))
    return len(rows)


def _upsert():
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(DailyFigures.__table__)
    again = {name: statement.excluded[name] for name in (*FIGURES, "computed_at")}
    return statement.on_conflict_do_update(index_elements=["brand_id", "day"], set_=again)


def prune(now=None, batch: int | None = None) -> int:
    """Delete the rows of days older than ``DAILY_FIGURES_DAYS`` (at least the dashboard's
    window, checked at start-up), ``batch`` (``RETENTION_BATCH``) at most, oldest first; only
    days their brand's all-time figures carry already (``totals``), so no total changes."""
    today = (now or clock.now()).date()
    cut = today - timedelta(days=current_app.config["DAILY_FIGURES_DAYS"])
    batch = batch or current_app.config["RETENTION_BATCH"]
    carried = select(FiguresBefore.brand_id).where(
        FiguresBefore.brand_id == DailyFigures.brand_id, FiguresBefore.before > DailyFigures.day
    )
    old = (
        select(DailyFigures.id)
        .where(DailyFigures.day < cut, carried.exists())
        .order_by(DailyFigures.day)
        .limit(batch)
    )
    with commit_session():
        ids = db.session.scalars(old).all()
        if ids:
            db.session.execute(delete(DailyFigures).where(DailyFigures.id.in_(ids)))
    return len(ids)
