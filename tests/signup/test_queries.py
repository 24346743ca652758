"""The group's home page runs a fixed number of SQL queries, whatever the number of brands."""

from sqlalchemy import event

from portal.extensions import db
from tests.preferences.test_queries import _group


def _queries_for_home(app, slug: str) -> int:
    client = app.test_client()
    count = 0

    def counted(*_args):
        nonlocal count
        count += 1

    db.session.expire_all()
    event.listen(db.engine, "before_cursor_execute", counted)
    try:
        response = client.get(f"/{slug}/")
    finally:
        event.remove(db.engine, "before_cursor_execute", counted)
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("3 topics to choose from") == (
        1 if slug == "one" else 10
    )
    return count


def test_the_same_number_of_queries_for_one_and_for_ten_brands(app):
    _group("one", 1)
    _group("ten", 10)
    assert _queries_for_home(app, "one") == _queries_for_home(app, "ten") <= 3
