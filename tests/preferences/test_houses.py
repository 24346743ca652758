"""Which houses of the centre are open, and the summary of what is on in each."""

import re

from tests.actions import save, sign_in, subscribed

HOUSE = re.compile(
    r'<details class="house brand-([\w-]+)" id="house-[\w-]+"( open)?>(.*?)</details>', re.S
)
SUMMARY = re.compile(r'class="house-summary">(\d+) of (\d+) on<')


def _houses(html: str) -> dict[str, tuple[bool, int, int, int, int]]:
    """slug -> (open, on and shown in the summary, rows ticked and rows shown in the house)."""
    found = {}
    for slug, opened, body in HOUSE.findall(html):
        on, total = (int(n) for n in SUMMARY.search(body).groups())
        ticked = len(re.findall(r'name="consent" value="[^"]+" checked', body))
        found[slug] = (bool(opened), on, total, ticked, body.count('name="shown"'))
    return found


def _centre(client, smtp, brand="vespera"):
    subscribed(client, smtp, "houses@example.com", brand=brand)
    sign_in(client, smtp, "houses@example.com")
    return client.get("/luxe/preferences/").get_data(as_text=True)


def test_the_first_house_where_something_is_on_opens_and_each_counts_its_rows(client, demo, smtp):
    houses = _houses(_centre(client, smtp))
    assert [slug for slug, (opened, *_) in houses.items() if opened] == ["vespera"]
    for slug, (_, on, total, ticked, shown) in houses.items():
        assert (on, total) == (ticked, shown)
        assert total > 0
        assert on == (2 if slug == "vespera" else 0)


def test_the_house_the_person_came_from_opens_instead(client, demo, smtp):
    _centre(client, smtp)
    html = client.get("/luxe/preferences/?brand=kogen").get_data(as_text=True)
    assert [slug for slug, (opened, *_) in _houses(html).items() if opened] == ["kogen"]


def test_a_house_with_a_row_just_saved_opens_too(client, demo, smtp):
    html = _centre(client, smtp)
    orsini = re.search(r'id="house-orsini".*?name="consent" value="([^"]+)"', html, re.S).group(1)
    saved = save(client, html, {orsini: True})
    assert saved.status_code == 200
    houses = _houses(saved.get_data(as_text=True))
    assert [slug for slug, (opened, *_) in houses.items() if opened] == ["vespera", "orsini"]
    assert houses["orsini"][1] == 1
