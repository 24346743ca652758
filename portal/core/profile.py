"""Contact fields beyond the address: a mobile number for SMS, a postal address for post.

Values are validated here and stored encrypted in ``ProfileField`` rows, one per name, so
later fields (names, date of birth) need no new table.
"""

import json

import phonenumbers
from babel import Locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal.core import clock
from portal.core.errors import InvalidInput
from portal.core.models import ProfileField, Subject
from portal.extensions import db

MOBILE, POSTAL = "mobile_number", "postal_address"
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
    return row
