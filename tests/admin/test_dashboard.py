"""Dashboard figures: counted by the database, charted as SVG, exported as CSV, no personal data."""

import re
from datetime import timedelta

from babel.dates import format_skeleton
from sqlalchemy import select

from portal.core.consent.changes import Origin
from portal.core.kernel import clock
from portal.core.people import erasure
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import confirm, confirmation_link, decide, deliver, log_in, sign_up
from tests.factories import brand, brand_admin, finished_import, make_admin


def test_figures_of_the_group_and_of_one_brand(client, demo, smtp):
    start = clock.now()
    clock.freeze(start - timedelta(days=3))
    sign_up(client, "old@example.com")  # pending for three days
    decide()
    clock.freeze(start)
    sign_up(client, "ann@example.com")
    decide()
    deliver()
    confirm(client, confirmation_link(smtp.to("ann@example.com")[0]))
    sign_up(client, "vee@example.com", brand="vespera")
    decide()
    log_in(client, make_admin(demo, "viewer"))
    page = client.get("/admin/").get_data(as_text=True)
    assert "Confirmation rate" in page and "33 %" in page and "1 of 3 sign-ups confirmed" in page
    assert 'Pending sign-ups older than 48 hours</span><span class="value">1</span>' in page
    # Sign-ups and confirmations share one chart and one scale: 3 and 1 are not the same
    # height; the empty charts say what will appear in them.
    assert page.count("<svg") == 1 and 'id="chart-signups-title"' in page
    week = format_skeleton("MMMd", monday_of_today(), locale="en")
    bars = {
        name: (float(height), int(value))
        for height, name, value in re.findall(
            rf'height="([\d.]+)"><title>(Sign-ups|Confirmations), {week}: (\d+)</title>', page
        )
    }
    (signups_height, signups), (confirmed_height, confirmed) = (
        bars["Sign-ups"],
        bars["Confirmations"],
    )
    # Two or three sign-ups this week (the old one may fall in this week or the last).
    assert confirmed == 1 and signups in (2, 3)
    assert abs(signups_height - signups * confirmed_height) < 0.2
    assert "No opt-outs or erasures in the last 12 weeks" in page
    assert "@example.com" not in page
    camille = client.get(f"/admin/brands/{brand('camille').id}/figures").get_data(as_text=True)
    assert "50 %" in camille and "1 of 2 sign-ups confirmed" in camille
    csv = client.get("/admin/figures.csv")
    assert csv.headers["Content-Type"].startswith("text/csv")
    body = csv.get_data(as_text=True)
    assert "active_consents,1,news,email,,1" in body
    assert "pending_older_than_48h,,,,,1" in body
    assert "@" not in body


def test_a_brand_admin_dashboard_counts_only_their_brands(client, demo, smtp):
    sign_up(client, "vee@example.com", brand="vespera")
    log_in(client, brand_admin(demo, "camille"))
    page = client.get("/admin/").get_data(as_text=True)
    assert "No sign-ups yet" in page


def test_erasures_per_week_count_at_the_brands_the_person_was_at(client, demo, smtp):
    sign_up(client, "ann@example.com")  # at Camille
    deliver()
    confirm(client, confirmation_link(smtp.to("ann@example.com")[0]))
    subject = db.session.scalar(select(Subject))
    erasure.erase(subject, "subject", Origin(source="self_service", actor="subject"))
    log_in(client, make_admin(demo, "viewer"))
    page = client.get("/admin/").get_data(as_text=True)
    assert "Erasures" in page and 'id="chart-optouts-title"' in page
    week = monday_of_today().isoformat()
    assert f"erasures,,,,{week},1" in client.get("/admin/figures.csv").get_data(as_text=True)
    vespera = client.get(f"/admin/brands/{brand('vespera').id}/figures.csv")
    assert f"erasures,,,,{week},0" in vespera.get_data(as_text=True)
    camille = client.get(f"/admin/brands/{brand('camille').id}/figures.csv")
    assert f"erasures,,,,{week},1" in camille.get_data(as_text=True)


def test_imported_consents_count_in_the_week_their_import_finished(client, demo):
    camille = brand("camille")
    finished_import(demo.id, camille.id, done=5, failed=1, finished_at=clock.now())
    db.session.commit()
    log_in(client, make_admin(demo, "viewer"))
    page = client.get("/admin/").get_data(as_text=True)
    week = format_skeleton("MMMd", monday_of_today(), locale="en")
    assert f"<title>Imported consents, {week}: 4</title>" in page
    body = client.get("/admin/figures.csv").get_data(as_text=True)
    assert f"imports,,,,{monday_of_today().isoformat()},4" in body


def monday_of_today():
    today = clock.now().date()
    return today - timedelta(days=today.weekday())
