"""Every message of the portal exists in French and German, extracted fresh from the source."""

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
METHODS = [
    ("portal/**.py", "python"),
    ("portal/templates/**.html", "jinja2"),
    ("portal/templates/**.txt", "jinja2"),
]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def _source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


@pytest.mark.parametrize("language", ["fr", "de"])
def test_every_message_is_translated(language):
    with open(ROOT / "translations" / language / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalogue = read_po(handle)
    missing = []
    for message_id in sorted(_source_messages()):
        entry = catalogue.get(message_id)
        strings = entry.string if entry else None
        if isinstance(strings, tuple | list):
            strings = all(strings) and strings
        if not entry or not strings or entry.fuzzy:
            missing.append(message_id)
    assert missing == [], (
        f"{len(missing)} messages untranslated in {language}: run "
        "'make translations-update' and translate them"
    )


def test_german_keeps_signing_out_and_unsubscribing_apart():
    """ "Abmelden" is signing out; unsubscribing from mail is "abbestellen", never the same word:
    a person pressing "Abmelden" must know whether they leave the page or the newsletter."""
    with open(ROOT / "translations" / "de" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalogue = read_po(handle)
    assert catalogue.get("Sign out").string == "Abmelden"
    unsubscribing = [
        (message.id, message.string)
        for message in catalogue
        if isinstance(message.id, str) and "unsubscrib" in message.id.lower()
    ]
    assert unsubscribing
    assert [pair for pair in unsubscribing if "abmeld" in pair[1].lower()] == []
