"""The centre runs a fixed number of SQL queries, whatever the number of brands."""

from portal.core import clock
from portal.core.models import Brand, Consent, ConsentText, SiteGroup, Subject, Topic
from portal.extensions import db
from tests.actions import get_counting_queries


def _group(slug: str, brands: int) -> Subject:
    group = SiteGroup(slug=slug, name=slug.upper())
    db.session.add(group)
    db.session.flush()
    subject = Subject(
        group_id=group.id, email_hash=slug, email=f"{slug}@example.com", status="active"
    )
    db.session.add(subject)
    for index in range(brands):
        brand = Brand(
            group_id=group.id,
            slug=f"b{index}",
            name=f"Brand {index}",
            sender_name="B",
            sender_address="b@example.com",
            privacy_policy_url="https://b.example",
            policy_version="1",
            position=index,
        )
        db.session.add(brand)
        db.session.flush()
        db.session.add(ConsentText(brand_id=brand.id, version=1, texts={"en": "I agree."}))
        for number in range(3):
            topic = Topic(
                brand_id=brand.id,
                key=f"t{number}",
                names={"en": f"T{number}"},
                descriptions={"en": "d"},
                channels=["email", "sms", "post"],
            )
            db.session.add(topic)
            db.session.flush()
            db.session.add(
                Consent(
                    subject_id=subject.id,
                    brand_id=brand.id,
                    topic_id=topic.id,
                    channel="email",
                    state="granted",
                    since=clock.now(),
                    source="signup_form",
                )
            )
    db.session.commit()
    return subject


def _queries_for_centre(app, subject) -> int:
    client = app.test_client()
    with client.session_transaction() as session:
        now = clock.now().timestamp()
        session["access"] = {
            "s": subject.id,
            "g": subject.group_id,
            "l": "full",
            "at": now,
            "seen": now,
        }
    response, count = get_counting_queries(client, f"/{subject.group.slug}/preferences/")
    assert response.status_code == 200
    return count


def test_the_same_number_of_queries_for_one_and_for_ten_brands(app):
    one, ten = _group("one", 1), _group("ten", 10)
    assert _queries_for_centre(app, one) == _queries_for_centre(app, ten)
    assert _queries_for_centre(app, ten) <= 8
