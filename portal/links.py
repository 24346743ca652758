"""Absolute links for mails, built from PORTAL_BASE_URL rather than from a request.

Mails are composed inside core operations, which may run from the API, the CLI or a worker,
where there is no request to take a host name from.
"""

from urllib.parse import urlsplit

from flask import current_app


def external_url(endpoint: str, **values) -> str:
    base = urlsplit(current_app.config["PORTAL_BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)
