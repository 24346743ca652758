"""The installation's home page names no site group it hosts."""

from tests.core.test_isolation import make_group


def test_several_groups_are_not_listed_to_anyone(client, demo):
    make_group("hidden-house")
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for named in ("luxe", "LÜXE", "hidden-house", "HIDDEN-HOUSE"):
        assert named not in html
    assert "Open the link in one of their mails" in html


def test_the_default_group_is_where_home_goes(app, client, demo):
    make_group("other")
    app.config["PORTAL_DEFAULT_GROUP"] = "luxe"
    assert client.get("/").headers["Location"].endswith("/luxe/")


def test_no_group_yet_is_the_same_neutral_page(client, app):
    page = client.get("/")
    assert page.status_code == 200
    assert "Open the link in one of their mails" in page.get_data(as_text=True)
