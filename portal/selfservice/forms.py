"""Input of the self-service pages: the profile's fields, and the new address."""

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict
from wtforms import EmailField, StringField

from portal.core.kernel.errors import InvalidInput
from portal.core.people import profile
from portal.core.people.models.subject import Subject
from portal.forms import Form
from portal.preferences.forms import ContactForm

# The inputs of each field, as the page names them.
INPUTS = {
    profile.FIRST_NAME: (profile.FIRST_NAME,),
    profile.LAST_NAME: (profile.LAST_NAME,),
    profile.LANGUAGE: (profile.LANGUAGE,),
    profile.MOBILE: (profile.MOBILE,),
    profile.POSTAL: (
        "postal_line1",
        "postal_line2",
        "postal_postcode",
        "postal_city",
        "postal_country",
    ),
    profile.BIRTH: ("birth_day", "birth_month", "birth_year"),
}

# The field each input (and each field's own name) belongs to, for naming it in an error.
FIELD_OF = {key: name for name, keys in INPUTS.items() for key in (name, *keys)}


class EmailForm(Form):
    email = EmailField(_l("New email address"))


class ProfileForm(ContactForm):
    """Every input of the profile section, posted at once (``INPUTS``); ``read_field`` turns
    each field's inputs into its value, the core's parsers checking them. The contact fields
    (mobile, postal) are the centre's own (``ContactForm``), so both pages read them alike; the
    error summary's order comes from ``INPUTS`` and the profile's field names, not from here."""

    first_name = StringField(_l("First name"))
    last_name = StringField(_l("Last name"))
    preferred_language = StringField(_l("Preferred language"))
    birth_day = StringField(_l("Day"))
    birth_month = StringField(_l("Month"))
    birth_year = StringField(_l("Year"))

    def typed(self) -> dict[str, str]:
        """What each input holds ("" when not posted)."""
        return {key: self[key].data or "" for keys in INPUTS.values() for key in keys}


def read_field(name: str, form: MultiDict) -> str | None:
    """The validated value of field ``name`` from the posted inputs; None means "remove", or
    "not given" for a field that is not held (the profile form posts every field at once)."""
    get = lambda key: form.get(key, "")  # noqa: E731
    if name in (profile.MOBILE, profile.POSTAL) and not any(
        get(key).strip() for key in INPUTS[name]
    ):
        return None
    if name in (profile.FIRST_NAME, profile.LAST_NAME):
        return profile.parse_name(name, get(name))
    if name == profile.LANGUAGE:
        return profile.parse_language(get(name))
    if name == profile.MOBILE:
        return profile.parse_mobile(get(name))
    if name == profile.POSTAL:
        lines = [get("postal_line1"), get("postal_line2")]
        return profile.parse_postal(
            lines, get("postal_postcode"), get("postal_city"), get("postal_country")
        )
    if name == profile.BIRTH:
        return profile.parse_birth(get("birth_day"), get("birth_month"), get("birth_year"))
    raise InvalidInput("form", _l("This field is not part of your profile here."))


def stored(subject: Subject, fields: dict) -> dict[str, str]:
    """Every input of the page filled with what is held now."""
    values = {key: "" for keys in INPUTS.values() for key in keys}
    for name in (profile.FIRST_NAME, profile.LAST_NAME, profile.MOBILE):
        if name in fields:
            values[name] = fields[name].value
    values[profile.LANGUAGE] = subject.language
    if profile.POSTAL in fields:
        parts = profile.postal_parts(fields[profile.POSTAL].value)
        lines = [*parts.get("lines", []), "", ""]
        values.update(postal_line1=lines[0], postal_line2=lines[1])
        values.update(postal_postcode=parts.get("postcode", ""), postal_city=parts.get("city", ""))
        values["postal_country"] = parts.get("country", "")
    if profile.BIRTH in fields:
        year, month, day = fields[profile.BIRTH].value.split("-")
        values.update(birth_day=str(int(day)), birth_month=str(int(month)), birth_year=year)
    return values


def typed(names: list[str], form: MultiDict) -> dict[str, str]:
    """What the person typed in the fields ``names``, to show it again after an error."""
    return {key: form.get(key, "") for name in names for key in INPUTS.get(name, ())}
