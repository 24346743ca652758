"""The demo group LÜXE as `make run` loads it: its houses show their logos everywhere a
brand admin's uploaded logo shows."""

import re

from portal.core.console.demo import HOUSES
from portal.core.kernel.models.group import Brand
from portal.extensions import db
from tests.actions import deliver, sign_up
from tests.smtp import html_of

PNG = b"\x89PNG\r\n\x1a\n"


def test_flask_demo_load_gives_every_house_a_png_logo(app, runner, client):
    answer = runner.invoke(args=["demo", "load"])
    assert "created: LÜXE (7 brands)" in answer.output
    for slug, *_ in HOUSES:
        served = client.get(f"/luxe/logos/{slug}")
        assert served.status_code == 200, slug
        assert served.headers["Content-Type"] == "image/png"
        assert served.data.startswith(PNG)


def test_the_houses_logos_show_on_the_group_home_and_the_sign_up_page(client, demo):
    home = client.get("/luxe/").get_data(as_text=True)
    assert len(re.findall(r'<img class="logo" src="/luxe/logos/[a-z]+"', home)) == len(HOUSES)
    join = client.get("/luxe/join/kogen").get_data(as_text=True)
    assert '<img class="brand-logo" src="/luxe/logos/kogen"' in join


def test_the_confirmation_mail_carries_the_house_logo(client, demo, smtp):
    sign_up(client, "ann@example.com", brand="vespera")
    deliver()
    (mail,) = smtp.to("ann@example.com")
    assert "/luxe/logos/vespera" in html_of(mail)


def test_a_demo_loaded_before_the_logos_gets_them_when_loaded_again(app, runner, demo):
    for brand in demo.brands:
        brand.logo, brand.logo_type = None, None
    db.session.commit()
    runner.invoke(args=["demo", "load"])
    db.session.expire_all()
    assert all(brand.logo_type == "image/png" for brand in db.session.query(Brand))
