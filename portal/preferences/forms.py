"""Input of the preference centre: the sign-in form, and the rows of the centre's form."""

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import EmailField, HiddenField

from portal.core.consent.preferences import Change
from portal.core.kernel.errors import InvalidInput
from portal.core.kernel.models.base import CHANNELS
from portal.core.people import profile
from portal.forms import Form

STALE = _l("This form is out of date. Reload the page and choose again.")


class SignInForm(Form):
    email = EmailField(_l("Email address"), render_kw={"autocomplete": "email", "maxlength": 254})
    next = HiddenField()
    brand = HiddenField()


def _key(raw: str) -> tuple[int, str]:
    topic, _, channel = raw.partition(":")
    if not topic.isdigit() or channel not in CHANNELS:
        raise InvalidInput("form", STALE)
    return int(topic), channel


def read_changes(form: MultiDict) -> list[Change]:
    """Every row the page showed (``shown`` = "topic:channel:0|1") against the ticked ones.

    Unticked checkboxes send nothing, so the hidden ``shown`` field is what says a row was
    on the page at all: rows that were not on it are never changed.
    """
    ticked = {_key(raw) for raw in form.getlist("consent")}
    changes = {}
    for raw in form.getlist("shown"):
        head, _, state = raw.rpartition(":")
        if state not in ("0", "1"):
            raise InvalidInput("form", STALE)
        key = _key(head)
        changes[key] = Change(key[0], key[1], wanted=key in ticked, shown=state == "1")
    if not ticked <= changes.keys():
        raise InvalidInput("form", STALE)
    return list(changes.values())


def read_contact(form: MultiDict) -> dict[str, str]:
    """Contact fields typed in the page, validated; only those given are returned."""
    contact = {}
    if form.get("mobile_number", "").strip():
        contact[profile.MOBILE] = profile.parse_mobile(form["mobile_number"])
    postal = [form.get(f"postal_{part}", "") for part in ("line1", "line2", "postcode", "city")]
    if any(value.strip() for value in postal):
        contact[profile.POSTAL] = profile.parse_postal(
            postal[:2], postal[2], postal[3], form.get("postal_country", "")
        )
    return contact


def typed(form: MultiDict) -> dict[str, str]:
    """What the person typed in the contact fields, to show it again after an error."""
    names = ("mobile_number", "postal_line1", "postal_line2", "postal_postcode", "postal_city")
    return {name: form.get(name, "") for name in (*names, "postal_country")}
