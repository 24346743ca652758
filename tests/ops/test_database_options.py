"""The database URL's own connection options reach PostgreSQL beside the portal's timeouts."""

import pytest
import sqlalchemy as sa

from portal import create_app
from portal.extensions import db


def test_the_urls_options_are_kept_with_the_timeouts(app):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("postgresql"):
        pytest.skip("connection options are PostgreSQL's")
    named = create_app(
        {
            **app.config,
            "SQLALCHEMY_DATABASE_URI": url + "?options=-c%20application_name%3Dcrm-sync",
            "DATABASE_LOCK_TIMEOUT_MS": 1234,
        }
    )
    with named.app_context():
        shown = db.session.execute(
            sa.text("SELECT current_setting('application_name'), current_setting('lock_timeout')")
        ).one()
        db.session.remove()
        db.engine.dispose()
    assert tuple(shown) == ("crm-sync", "1234ms")
