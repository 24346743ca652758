"""Dashboard figures: counted by the database, charted as SVG, exported as CSV, no personal data."""

from datetime import timedelta

from sqlalchemy import select

from portal.core.consent.changes import Origin
from portal.core.kernel import clock
from portal.core.people import erasure
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import confirm, confirmation_link, deliver, sign_up
from tests.admin.helpers import brand, brand_admin, log_in, make_admin


def test_figures_of_the_group_and_of_one_brand(client, demo, smtp):
    start = clock.now()
    clock.freeze(start - timedelta(days=3))
    sign_up(client, "old@example.com")  # pending for three days
    clock.freeze(start)
    sign_up(client, "ann@example.com")
    deliver()
    confirm(client, confirmation_link(smtp.to("ann@example.com")[0]))
    sign_up(client, "vee@example.com", brand="vespera")
    log_in(client, make_admin(demo, "viewer"))
    page = client.get("/admin/").get_data(as_text=True)
    assert "Confirmation rate" in page and "33 % (1 / 3)" in page
    assert "Pending sign-ups older than 48 hours</dt><dd>1</dd>" in page
    assert page.count("<svg") == 4 and 'role="img"' in page
    assert "@example.com" not in page
    camille = client.get(f"/admin/brands/{brand('camille').id}/figures").get_data(as_text=True)
    assert "50 % (1 / 2)" in camille
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
    assert "Erasures" in page and 'id="chart-erasures-title"' in page
    week = monday_of_today().isoformat()
    assert f"erasures,,,,{week},1" in client.get("/admin/figures.csv").get_data(as_text=True)
    vespera = client.get(f"/admin/brands/{brand('vespera').id}/figures.csv")
    assert f"erasures,,,,{week},0" in vespera.get_data(as_text=True)
    camille = client.get(f"/admin/brands/{brand('camille').id}/figures.csv")
    assert f"erasures,,,,{week},1" in camille.get_data(as_text=True)


def monday_of_today():
    today = clock.now().date()
    return today - timedelta(days=today.weekday())
