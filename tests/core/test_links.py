"""The core asks for mailed links by purpose; the web layer has a page for every purpose."""

from portal import create_app
from portal.core.kernel import links
from portal.links import PAGES


def test_every_purpose_the_core_names_leads_to_a_page():
    app = create_app({"TESTING": True, "PORTAL_BASE_URL": "https://consent.example"})
    assert set(PAGES) == set(links.PURPOSES)
    assert [
        PAGES[purpose] for purpose in links.PURPOSES if PAGES[purpose] not in app.view_functions
    ] == []
    with app.app_context():
        assert links.link(links.SIGNUP_HOME, group="luxe") == "https://consent.example/luxe/"
