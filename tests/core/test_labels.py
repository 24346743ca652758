"""Every consent code a page or a mail shows has its words, in every language."""

import pytest
from flask_babel import force_locale

from portal import create_app
from portal.core.consent import labels
from portal.core.consent.models import (
    CONFIRMED,
    EXPIRED,
    GRANT,
    PENDING,
    REAFFIRMED,
    REQUESTED,
    SOURCES,
    SUPPRESSION_LIFTED,
    WITHDRAWAL,
    WITHDRAWN,
    WITHDRAWN_AGAIN,
)
from portal.core.kernel.models.base import CHANNELS

ACTIONS = {
    REQUESTED,
    CONFIRMED,
    GRANT,
    WITHDRAWAL,
    SUPPRESSION_LIFTED,
    EXPIRED,
    REAFFIRMED,
    WITHDRAWN_AGAIN,
}


@pytest.fixture(scope="module")
def app():
    """No database: words only."""
    return create_app({"TESTING": True})


def _all(language: str) -> dict[str, dict[str, str]]:
    with force_locale(language):
        return {
            "channels": labels.channels(),
            "states": labels.states(),
            "actions": labels.actions(),
            "sources": labels.sources(),
        }


def test_every_code_has_words(app):
    with app.test_request_context():
        words = _all("en")
    assert set(words["channels"]) == set(CHANNELS)
    assert set(words["states"]) == {PENDING, "granted", WITHDRAWN}
    assert set(words["actions"]) == ACTIONS  # "expired" once showed raw on My data
    assert set(words["sources"]) == set(SOURCES)  # and so did "retention"


@pytest.mark.parametrize("language", ["fr", "de"])
def test_the_words_are_translated_and_no_code_shows_raw(app, language):
    with app.test_request_context():
        english, translated = _all("en"), _all(language)
    for kind, by_code in translated.items():
        for code, words in by_code.items():
            assert words != code
            if kind != "channels":  # "SMS", "Post": the same word in some languages
                assert words != english[kind][code], (kind, code)
