"""One installation, several site groups: nothing of one is reachable from another."""

from sqlalchemy import select

from portal.core.kernel.models.group import Brand, ConsentText, SiteGroup, Topic
from portal.core.people.models.subject import Subject
from portal.extensions import db
from tests.actions import confirmation_link, deliver, path_of, sign_up


def make_group(slug: str, brand_slug: str = "camille") -> SiteGroup:
    group = SiteGroup(slug=slug, name=slug.upper())
    db.session.add(group)
    db.session.flush()
    brand = Brand(
        group_id=group.id,
        slug=brand_slug,
        name=f"{slug} {brand_slug}",
        sender_name="x",
        sender_address=f"x@{slug}.example",
        policy_version="1",
        privacy_policy_url="https://example.org/p",
    )
    db.session.add(brand)
    db.session.flush()
    db.session.add(ConsentText(brand_id=brand.id, version=1, texts={"en": f"{slug} consent"}))
    db.session.add(
        Topic(
            brand_id=brand.id,
            key="news",
            names={"en": f"{slug} news"},
            descriptions={"en": ""},
            channels=["email"],
        )
    )
    db.session.commit()
    return group


def test_same_address_is_two_subjects_in_two_groups(client, demo, smtp):
    make_group("other")
    sign_up(client, "both@example.com", group="luxe")
    sign_up(client, "both@example.com", group="other")
    rows = db.session.scalars(select(Subject)).all()
    assert len(rows) == 2 and rows[0].email_hash != rows[1].email_hash


def test_nothing_of_one_group_through_another(client, demo, smtp):
    make_group("other", brand_slug="solo")
    assert client.get("/other/join/camille").status_code == 404
    assert client.get("/luxe/join/solo").status_code == 404
    assert "Camille" not in client.get("/other/").get_data(as_text=True)
    assert "camille" not in client.get("/other/brands.css").get_data(as_text=True)

    sign_up(client, "a@example.com", group="luxe")
    deliver()
    link = path_of(confirmation_link(smtp.messages[0]))
    moved = link.replace("/luxe/", "/other/")
    assert client.get(moved).status_code == 400


def test_topic_and_text_of_another_group_are_refused(client, demo):
    other = make_group("other", brand_slug="solo")
    foreign_topic = db.session.scalar(select(Topic).join(Brand).where(Brand.group_id == other.id))
    answer = sign_up(client, "a@example.com", group="luxe", topics=[foreign_topic.id])
    assert answer.status_code == 422
    assert db.session.scalar(select(Subject)) is None
