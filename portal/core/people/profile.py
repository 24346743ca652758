"""Profile fields beyond the address: names, language, mobile number, postal address, date
of birth (where the group collects it).

Values are validated here and stored encrypted in ``ProfileField`` rows, one per name, with
who changed them and when, and when the person last confirmed them.
"""

import json
import unicodedata
from datetime import date

import phonenumbers
from babel import Locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core.integrations import events
from portal.core.kernel import clock
from portal.core.kernel.errors import InvalidFields, InvalidInput
from portal.core.kernel.models.group import SiteGroup
from portal.core.kernel.transaction import commit_session
from portal.core.people import subjects
from portal.core.people.models.profile import ProfileField
from portal.core.people.models.subject import Subject
from portal.extensions import db

MOBILE, POSTAL = "mobile_number", "postal_address"
FIRST_NAME, LAST_NAME, LANGUAGE, BIRTH = (
    "first_name",
    "last_name",
    "preferred_language",
    "date_of_birth",
)
LANGUAGES = ("en", "fr", "de")
# Fields a person may empty (the row goes); contact fields stay, channels depend on them.
CLEARABLE = frozenset({FIRST_NAME, LAST_NAME, BIRTH})
_TYPE = phonenumbers.PhoneNumberType
MOBILE_TYPES = {_TYPE.MOBILE, _TYPE.FIXED_LINE_OR_MOBILE}
COUNTRIES = frozenset(
    code for code in Locale("en").territories if len(code) == 2 and code.isalpha()
)


def parse_mobile(raw: str | None) -> str:
    """A mobile number in E.164 (+33612345678); raises InvalidInput("mobile_number")."""
    value = (raw or "").strip()
    if not value:
        raise InvalidInput(MOBILE, _l("Enter your mobile number to receive SMS."))
    if value.startswith("00"):
        value = "+" + value[2:]
    if not value.startswith("+"):
        raise InvalidInput(
            MOBILE,
            _l("Enter the number with its country code, starting with +, like +33 6 12 34 56 78."),
        )
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidInput(MOBILE, _l("This is not a valid phone number. Check it and try again."))
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise InvalidInput(MOBILE, _l("This is not a mobile number: SMS need a mobile phone."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_postal(lines: list[str], postcode: str, city: str, country: str) -> str:
    """A postal address as JSON text; raises InvalidInput naming the part that is wrong."""
    lines = [line.strip() for line in lines if line and line.strip()]
    parts = {"postcode": (postcode or "").strip(), "city": (city or "").strip()}
    country = (country or "").strip().upper()
    if not lines:
        raise InvalidInput("postal_line1", _l("Enter the street and number."))
    if any(len(line) > 120 for line in lines) or len(lines) > 3:
        raise InvalidInput("postal_line1", _l("Each address line can have 120 characters at most."))
    if not parts["postcode"] or len(parts["postcode"]) > 16:
        raise InvalidInput("postal_postcode", _l("Enter the postcode."))
    if not parts["city"] or len(parts["city"]) > 80:
        raise InvalidInput("postal_city", _l("Enter the town or city."))
    if country not in COUNTRIES:
        raise InvalidInput("postal_country", _l("Choose the country."))
    return json.dumps({"lines": lines, **parts, "country": country}, ensure_ascii=False)


def postal_parts(value: str | None) -> dict:
    """The parts of a stored postal address, for showing or editing it."""
    if not value:
        return {"lines": [], "postcode": "", "city": "", "country": ""}
    return json.loads(value)


def fields_of(subject: Subject) -> dict[str, ProfileField]:
    rows = db.session.scalars(select(ProfileField).where(ProfileField.subject_id == subject.id))
    return {row.name: row for row in rows}


def set_field(
    subject: Subject, name: str, value: str, actor: str, verified: bool = False
) -> ProfileField:
    """Store a validated value in the caller's transaction; unchanged values are left alone.

    A changed value loses its verification: it has not been proven to reach the person.
    """
    row = db.session.scalar(
        select(ProfileField).where(ProfileField.subject_id == subject.id, ProfileField.name == name)
    )
    now = clock.now()
    if row is None:
        row = ProfileField(subject_id=subject.id, name=name, confirmed_at=now)
        db.session.add(row)
    elif row.value == value:
        return row
    # An entry or an edit is also a confirmation: the person just said this is right.
    row.value, row.updated_at, row.updated_by, row.confirmed_at = value, now, actor, now
    row.verified_at = now if verified else None
    db.session.flush()
    subjects.was_active({subject.id: now})
    announce(subject, name, value)
    return row


def announce(subject: Subject, name: str, value: str | None) -> None:
    """The ``profile.updated`` event of one field changed (None: cleared)."""
    events.profile_updated(subject, {name: shown(name, value)})


def shown(name: str, value: str | None):
    """A field's value as integrating systems receive it (the postal address structured)."""
    return json.loads(value) if name == POSTAL and value else value


def names_of(group: SiteGroup) -> list[str]:
    """Every profile field the group holds, in the order pages and exports show them."""
    names = [FIRST_NAME, LAST_NAME, LANGUAGE, MOBILE, POSTAL]
    return [*names, BIRTH] if group.collect_date_of_birth else names


def parse_name(field: str, raw: str | None) -> str | None:
    """A first or last name as typed (any script); None when left empty."""
    value = " ".join((raw or "").split())
    if not value:
        return None
    if len(value) > 100:
        raise InvalidInput(field, _l("A name can have 100 characters at most."))
    if any(unicodedata.category(char).startswith("C") for char in value):
        raise InvalidInput(field, _l("Use letters, spaces, hyphens and apostrophes only."))
    return value


def parse_language(raw: str | None) -> str:
    if raw not in LANGUAGES:
        raise InvalidInput(LANGUAGE, _l("Choose one of the languages offered."))
    return raw


def parse_birth(day: str | None, month: str | None, year: str | None) -> str | None:
    """A date of birth as ISO text (1990-04-23); None when all three parts are empty."""
    parts = [(part or "").strip() for part in (day, month, year)]
    if not any(parts):
        return None
    if not all(part.isdigit() and len(part) <= 4 for part in parts):
        raise InvalidInput(BIRTH, _l("Enter the day, month and year as numbers, like 23 4 1990."))
    try:
        born = date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError:
        born = None
    if born is None or len(parts[2]) != 4:
        raise InvalidInput(BIRTH, _l("This date does not exist. Check the day, month and year."))
    if born > clock.now().date() or born.year < 1900:
        raise InvalidInput(BIRTH, _l("Enter a date of birth in the past, after 1900."))
    return born.isoformat()


def _check(subject: Subject, name: str, value: str | None) -> None:
    """Refuse an edit the person may not make: a field the group does not hold, or emptying a
    contact field (channels depend on it). Emptying a field that is not held is no change."""
    if name not in names_of(subject.group):
        raise InvalidInput("form", _l("This field is not part of your profile here."))
    if value is None and name not in CLEARABLE and name in fields_of(subject):
        raise InvalidInput(name, _l("This field cannot be left empty."))


def _apply(subject: Subject, name: str, value: str | None, actor: str) -> ProfileField | None:
    """One checked edit in the caller's transaction (see ``edit``)."""
    if value is None:
        row = fields_of(subject).get(name)
        if row is not None:
            db.session.delete(row)
            announce(subject, name, None)
        return None
    row = set_field(subject, name, value, actor)
    row.confirmed_at = clock.now()
    if name == LANGUAGE:
        subject.language = value
    return row


def edit(subject: Subject, name: str, value: str | None, actor: str) -> ProfileField | None:
    """The person's own edit of one field, validated beforehand by a ``parse_*`` function.

    One transaction. Saving marks the field as confirmed now, even when the value is the same
    (the person says it is still right); a changed value also records who changed it and when.
    ``None`` removes a field that may be empty. No earlier value is kept anywhere. The
    preferred language is also the language of every mail to the person.
    """
    _check(subject, name, value)
    with commit_session():
        return _apply(subject, name, value, actor)


def edit_all(
    subject: Subject, values: dict[str, str | None], actor: str
) -> dict[str, ProfileField | None]:
    """The person's edit of several fields at once (their whole profile), as ``edit`` does
    for one, in ONE transaction: all are saved or none is.

    Raises ``InvalidFields`` naming every field refused, before anything is written. Each field
    given a value is confirmed now; ``None`` removes a field that may be empty and leaves alone
    one that is not held. One ``profile.updated`` event per changed field, as for every change.
    """
    errors = {}
    for name, value in values.items():
        try:
            _check(subject, name, value)
        except InvalidInput as refused:
            errors.setdefault(refused.field, str(refused.message))
    if errors:
        raise InvalidFields(errors)
    with commit_session():
        return {name: _apply(subject, name, value, actor) for name, value in values.items()}
