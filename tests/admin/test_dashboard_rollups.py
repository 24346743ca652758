"""The dashboard's past days come from daily roll-ups that `flask lifecycle run` writes; the
figures are the same as counted from the records."""

import re
from datetime import UTC, datetime, timedelta

from babel.dates import format_skeleton
from sqlalchemy import delete, func, select, update

from portal.core.consent.models import SignupRequest
from portal.core.consent.preferences import unsubscribe_all
from portal.core.console import rollups
from portal.core.console.models import DailyFigures, FiguresBefore
from portal.core.kernel import clock
from portal.core.kernel.transaction import commit_session
from portal.core.people import erasure
from portal.extensions import db
from tests.actions import confirm, confirmation_link, decide, deliver, log_in, sign_up
from tests.factories import ORIGIN, brand, finished_import, make_admin, member

MONDAY = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _day(n: int):
    clock.freeze(MONDAY + timedelta(days=n))


def _nightly(group):
    """What `flask lifecycle run` does for the dashboard, just after midnight."""
    moment = clock.now()
    clock.freeze(moment.replace(hour=0, minute=5) + timedelta(days=1))
    rows = rollups.roll_up(group.id)
    clock.freeze(moment + timedelta(days=1))
    return rows


def _journey(client, demo, smtp):
    _day(0)
    sign_up(client, "ann@example.com")
    decide()
    deliver()
    confirm(client, confirmation_link(smtp.to("ann@example.com")[0]))
    sign_up(client, "vee@example.com", brand="vespera")
    decide()
    _nightly(demo)
    unsubscribe_all(member("opt@example.com"), ORIGIN)
    finished_import(demo.id, brand("camille").id, done=5, failed=1, finished_at=clock.now())
    db.session.commit()
    _nightly(demo)
    sign_up(client, "bob@example.com")
    decide()
    gone = member("gone@example.com", brand="vespera")
    erasure.erase(gone, "subject", ORIGIN)
    _nightly(demo)  # Thursday: Monday to Wednesday are rolled up


def _csv(client, path="/admin/figures.csv") -> str:
    return client.get(path).get_data(as_text=True)


def _week(body: str) -> dict[str, int]:
    week = MONDAY.date().isoformat()
    rows = [line.split(",") for line in body.splitlines()]
    return {row[0]: int(row[5]) for row in rows if row[4] == week}


def test_past_days_come_from_the_roll_ups_and_equal_a_count_of_the_records(client, demo, smtp):
    _journey(client, demo, smtp)
    log_in(client, make_admin(demo, "viewer"))
    sign_up(client, "today@example.com")  # today's, counted live
    decide()
    rolled = _csv(client)
    # Erasing withdraws the person's consents first: one opt-out more, at Vespera.
    expected = {"signups": 4, "confirmations": 1, "optouts": 2, "erasures": 1, "imports": 4}
    assert _week(rolled) == expected
    vespera = _csv(client, f"/admin/brands/{brand('vespera').id}/figures.csv")
    assert _week(vespera) == {
        **expected,
        "signups": 1,
        "confirmations": 0,
        "optouts": 1,
        "imports": 0,
    }
    with commit_session():
        db.session.execute(delete(DailyFigures))  # what the records alone say
    assert _csv(client) == rolled
    rollups.roll_up(demo.id)  # the same days again, from the records again
    camille = brand("camille")
    with commit_session():  # an edited roll-up row shows: the page read it
        db.session.execute(
            update(DailyFigures)
            .where(DailyFigures.brand_id == camille.id, DailyFigures.day == MONDAY.date())
            .values(signups=40)
        )
    assert _week(_csv(client))["signups"] == 4 - 1 + 40
    label = format_skeleton("MMMd", MONDAY.date(), locale="en")
    page = client.get("/admin/").get_data(as_text=True)
    assert f"<title>Sign-ups, {label}: 43</title>" in page


def test_a_day_rolled_up_again_is_the_same_row(client, demo, smtp):
    _journey(client, demo, smtp)

    def rows():
        db.session.expire_all()
        figures = db.session.scalars(select(DailyFigures).order_by(DailyFigures.id)).all()
        return [
            (r.id, r.brand_id, r.day, r.signups, r.confirmations, r.optouts, r.erasures, r.imports)
            for r in figures
        ]

    before = rows()
    assert {day for _id, _brand, day, *_figures in before} >= {
        (MONDAY + timedelta(days=n)).date() for n in range(3)
    }
    assert rollups.roll_up(demo.id) == rollups.AGAIN_DAYS * len(demo.brands)
    assert rows() == before


CONFIRMED = re.compile(r"(\d+) of (\d+) sign-ups confirmed")
STALE = re.compile(r"Pending sign-ups older than 48 hours</span><span class=\"value\">(\d+)<")


def _all_time(client) -> tuple[int, int, int]:
    """(confirmed, requested, pending over 48 hours) as the dashboard shows them."""
    page = client.get("/admin/").get_data(as_text=True)
    confirmed, requested = map(int, CONFIRMED.search(page).groups())
    return confirmed, requested, int(STALE.search(page).group(1))


def _records() -> tuple[int, int, int]:
    """The same figures counted from the sign-up requests alone."""
    signups = select(func.count()).where(SignupRequest.source != "admin")
    return (
        db.session.scalar(signups.where(SignupRequest.confirmed_at.is_not(None))),
        db.session.scalar(signups),
        db.session.scalar(
            signups.where(
                SignupRequest.confirmed_at.is_(None),
                SignupRequest.requested_at < clock.now() - timedelta(hours=48),
            )
        ),
    )


def test_all_time_figures_are_carried_by_the_run_and_equal_a_count_of_the_records(
    client, demo, smtp
):
    _journey(client, demo, smtp)  # Thursday: Monday is carried, Tuesday and Wednesday rolled
    log_in(client, make_admin(demo, "viewer"))
    sign_up(client, "today@example.com")  # today's, counted live
    decide()
    carried = db.session.scalars(select(FiguresBefore)).all()
    assert {row.before for row in carried} == {(MONDAY + timedelta(days=1)).date()}
    assert sum(row.signups for row in carried) == 2  # Ann and Vee, on Monday
    shown = _all_time(client)
    assert shown == _records() == (1, 4, 1)  # Ann confirmed; Vee waiting since Monday
    camille = brand("camille")
    with commit_session():  # edited rows show: the page read them
        db.session.execute(
            update(FiguresBefore)
            .where(FiguresBefore.brand_id == camille.id)
            .values(
                signups=FiguresBefore.signups + 100,
                confirmations=FiguresBefore.confirmations + 50,
            )
        )
        db.session.execute(
            update(DailyFigures)
            .where(
                DailyFigures.brand_id == camille.id,
                DailyFigures.day == (MONDAY + timedelta(days=2)).date(),
            )
            .values(signups=DailyFigures.signups + 10)
        )
    assert _all_time(client) == (1 + 50, 4 + 110, 1)
    with commit_session():  # before any run: what the records alone say
        db.session.execute(delete(FiguresBefore))
    assert _all_time(client) == shown


def test_old_daily_figures_go_a_batch_a_run_and_no_figure_changes(client, demo, smtp, app):
    _journey(client, demo, smtp)
    log_in(client, make_admin(demo, "viewer"))
    app.config["DAILY_FIGURES_DAYS"] = rollups.WINDOW_DAYS
    before, page = _csv(client), _all_time(client)
    rows = db.session.scalar(select(func.count()).select_from(DailyFigures))
    # The first run rolled up the window back from Tuesday; two of its days are now older.
    old = 2 * len(demo.brands)
    assert rollups.prune(batch=old - 1) == old - 1
    assert rollups.prune(batch=old - 1) == 1
    assert rollups.prune() == 0
    assert db.session.scalar(select(func.count()).select_from(DailyFigures)) == rows - old
    oldest = db.session.scalar(select(func.min(DailyFigures.day)))
    assert oldest == clock.now().date() - timedelta(days=rollups.WINDOW_DAYS)
    assert (_csv(client), _all_time(client)) == (before, page)
