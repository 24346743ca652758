"""The group's home page runs a fixed number of SQL queries, whatever the number of brands."""

from portal.core.console.demo import sized_group
from tests.actions import get_counting_queries


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
