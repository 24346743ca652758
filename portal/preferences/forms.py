"""Input of the preference centre's simple forms (WTForms): the sign-in form and the contact
fields a channel needs. The grid of topics x channels is read by ``portal.preferences.rows``,
the one parser for it."""

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import EmailField, HiddenField, StringField

from portal.core.people import profile
from portal.forms import Form


class SignInForm(Form):
    email = EmailField(_l("Email address"), render_kw={"autocomplete": "email", "maxlength": 254})
    next = HiddenField()
    brand = HiddenField()


class ContactForm(Form):
    """The contact fields a channel needs (``_forms.html``'s mobile and postal inputs), as the
    reminder's "update" page posts them; ``typed()`` is what they hold, for ``read_contact``."""

    mobile_number = StringField(_l("Mobile number"))
    postal_line1 = StringField(_l("Street and number"))
    postal_line2 = StringField(_l("Address line 2 (optional)"))
    postal_postcode = StringField(_l("Postcode"))
    postal_city = StringField(_l("Town or city"))
    postal_country = StringField(_l("Country"))

    def typed(self) -> dict[str, str]:
        return {
            name: field.data or "" for name, field in self._fields.items() if name != "csrf_token"
        }


def read_contact(form) -> dict[str, str]:
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
