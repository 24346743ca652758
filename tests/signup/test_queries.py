"""The group's home page runs a fixed number of SQL queries, whatever the number of brands;
a sign-up's POST runs a few, and reads nothing again after its commit."""

from sqlalchemy import func, select

from portal.core.kernel import clock
from portal.core.kernel.models.group import Brand
from portal.core.kernel.transaction import commit_session
from portal.core.mail.models import AddressRequest
from portal.extensions import db
from tests.actions import TEXT_VERSION, TOPIC, counting_queries, get_counting_queries, signup_page
from tests.conftest import csrf_token
from tests.factories import brand, sized_group


def _queries_for_home(app, slug: str) -> int:
    response, count = get_counting_queries(app.test_client(), f"/{slug}/")
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("3 topics to choose from") == (
        1 if slug == "one" else 10
    )
    return count


def test_the_same_number_of_queries_for_one_and_for_ten_brands(app):
    sized_group("one", 1, 3)
    sized_group("ten", 10, 3)
    assert _queries_for_home(app, "one") == _queries_for_home(app, "ten") <= 3


def test_a_sign_up_reads_the_brand_once_and_shows_it_after_its_commit(client, demo):
    """The group with its brands, the brand's topics, its latest text, the request's row:
    the page after the commit shows the brand as read, without reading it again."""
    page = signup_page(client, "camille", "luxe").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "email": "counted@example.com",
        "topics": TOPIC.findall(page)[:2],
        "text_version": TEXT_VERSION.search(page).group(1),
    }
    answer, count = counting_queries(client.post, "/luxe/join/camille", data=data)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Check your inbox" in html and "Camille" in html
    assert count <= 4
    assert db.session.scalar(select(func.count()).select_from(AddressRequest)) == 1


def test_an_archived_brand_or_a_draft_has_no_sign_up_page(client, demo):
    with commit_session():
        brand("camille").archived_at = clock.now()
        db.session.add(
            Brand(
                group_id=demo.id,
                slug="draft",
                name="Draft",
                sender_name="D",
                sender_address="d@example.com",
                privacy_policy_url="https://d.example",
                policy_version="1",
            )
        )
    for slug in ("camille", "draft"):
        page = client.get(f"/luxe/join/{slug}")
        assert page.status_code == 404
        assert "brand-banner" not in page.get_data(as_text=True)
