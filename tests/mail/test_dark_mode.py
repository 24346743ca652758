"""HTML mails read in dark mode: they declare both looks, and the dark one keeps every text
and link readable (WCAG 4.5:1) on its card, whatever the house's colour."""

import re

import pytest

from portal.core.console.demo import HOUSES
from portal.core.mail import health
from portal.web import contrast, on_dark
from tests.actions import deliver, sign_up
from tests.smtp import html_of

DARK = re.compile(r"@media \(prefers-color-scheme: dark\) \{(.*?)\n\}", re.S)
RULE = re.compile(r"([^{}]+)\{([^}]*)\}")


def _dark_rules(html: str) -> dict[str, dict[str, str]]:
    """The dark look of a mail: selector -> {property: value}."""
    (block,) = DARK.findall(html)
    rules = {}
    for selectors, body in RULE.findall(block):
        values = dict(
            (name.strip(), value.replace("!important", "").strip())
            for name, value in (item.split(":", 1) for item in body.split(";") if ":" in item)
        )
        for selector in selectors.split(","):
            rules[selector.strip()] = values
    return rules


def _assert_readable_in_dark(html: str) -> None:
    assert '<meta name="color-scheme" content="light dark">' in html
    rules = _dark_rules(html)
    card = rules[".mail-card"]["background"]
    for selector in (".mail-card", ".mail-quiet", ".mail-link"):
        colour = rules[selector]["color"]
        assert contrast(colour, card) >= 4.5, (selector, colour, card)
    assert contrast(rules["body"]["color"], rules["body"]["background"]) >= 4.5
    # Every text link takes the dark link colour; the button keeps white on the house colour.
    for link in re.findall(r"<a [^>]*>", html):
        assert 'class="mail-link"' in link or "background:" in link, link


@pytest.mark.parametrize("house", ["camille", "vespera", "kogen"])
def test_a_house_mail_keeps_its_text_and_links_readable_in_dark_mode(client, demo, smtp, house):
    sign_up(client, "ann@example.com", brand=house)
    deliver()
    (mail,) = smtp.to("ann@example.com")
    html = html_of(mail)
    _assert_readable_in_dark(html)
    colour = next(colour for slug, _, colour, _ in HOUSES if slug == house)
    link = _dark_rules(html)[".mail-link"]["color"]
    assert link != colour and contrast(colour, "#24211f") < 4.5  # the house's own would not read


def test_a_console_mail_reads_in_dark_mode_too(client, demo, smtp):
    health.send_test(demo.id, "boss@luxe.example", ("Portal", "portal@luxe.example"), "en")
    deliver()
    (mail,) = smtp.to("boss@luxe.example")
    _assert_readable_in_dark(html_of(mail))


def test_every_house_colour_has_a_readable_dark_link_colour():
    for _, name, colour, _ in HOUSES:
        assert contrast(on_dark(colour), "#24211f") >= 4.5, name
    assert on_dark("not a colour") == "#ffffff"
