"""What every page shares: the brand stylesheet's address follows the brands, the console's
menu marks the current page and stays on its error pages, the language switch is everywhere."""

import re

from portal.extensions import db
from tests.actions import log_in, post
from tests.factories import brand, make_admin

STYLES = re.compile(r'href="(/luxe/brands\.css\?v=[0-9a-f]+)"')


def test_a_changed_brand_colour_changes_the_stylesheet_address(client, demo):
    before = STYLES.search(client.get("/luxe/join/camille").get_data(as_text=True)).group(1)
    answer = client.get(before)
    assert "immutable" in answer.headers["Cache-Control"]
    camille = brand("camille")
    assert f".brand-camille {{ --brand: {camille.colour}; --brand-ink: #fff; }}" in answer.get_data(
        as_text=True
    )
    camille.colour = "#1f4f5a"
    db.session.commit()
    after = STYLES.search(client.get("/luxe/join/camille").get_data(as_text=True)).group(1)
    assert after != before
    assert "--brand: #1f4f5a" in client.get(after).get_data(as_text=True)
    # An old address is still answered, but not to be kept.
    assert client.get(before).headers["Cache-Control"] == "no-cache"


def test_the_menu_marks_the_current_page_and_stays_on_error_pages(client, demo):
    log_in(client, make_admin(demo, "viewer", "viewer@luxe.example"))
    brands = client.get("/admin/brands").get_data(as_text=True)
    assert '<a href="/admin/brands" aria-current="page">Brands</a>' in brands
    assert brands.count('aria-current="page"') == 1
    for path, status in (("/admin/admins", 403), ("/admin/nowhere", 404)):
        answer = client.get(path)
        page = answer.get_data(as_text=True)
        assert answer.status_code == status
        assert 'class="console-nav"' in page and "viewer@luxe.example" in page, path
        assert f'href="{path}?lang=fr"' in page, path  # the language switch stays


def test_the_language_switch_after_a_form_was_sent(client, demo):
    log_in(client, make_admin(demo, "owner", "boss@luxe.example"))
    answer = post(client, "/admin/support", {"email": "nobody@example.com", "reason": ""})
    page = answer.get_data(as_text=True)
    assert 'href="/admin/support?lang=de"' in page and 'hreflang="de"' in page
    # An address that answers only to POST (here refusing a withdrawal of nothing) leads to
    # the console's home in that language.
    refused = post(client, "/admin/support/withdraw", {})
    assert refused.status_code == 404
    assert 'href="/admin/?lang=fr"' in refused.get_data(as_text=True)
