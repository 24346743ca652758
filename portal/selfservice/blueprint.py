"""The self-service blueprint, shared by its two view modules (data pages and erasure)."""

from flask import Blueprint, abort, g, render_template
from flask_babel import get_locale

from portal.core.kernel.models.group import Brand
from portal.web import scope_to_group

blueprint = Blueprint("selfservice", __name__, url_prefix="/<group>/my-data")
scope_to_group(blueprint)
SOURCE = "preference_centre"


def language() -> str:
    return str(get_locale())


def sender() -> Brand:
    """The brand self-service mails are sent in the name of: the group's first house."""
    brands = g.group.active_brands() or g.group.brands
    if not brands:
        abort(404)
    return brands[0]


def refused(reason: str):
    """The page for a mailed link that cannot be used: 410 once expired, 400 otherwise."""
    status = 410 if reason == "expired" else 400
    return render_template("selfservice/link_refused.html", reason=reason), status
