"""The centre runs a fixed number of SQL queries, whatever the number of brands."""

from portal.core.console.demo import sized_group
from portal.core.kernel import clock
from tests.actions import get_counting_queries


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
    one, ten = sized_group("one", 1, 3), sized_group("ten", 10, 3)
    assert _queries_for_centre(app, one) == _queries_for_centre(app, ten)
    assert _queries_for_centre(app, ten) <= 8
