"""The console's forms (Flask-WTF): each field's label, what it must hold and the message when
it does not, in the order the page shows them, so the error summary follows that order.

The forms check the shape of what was typed; the rules (a password strong enough, a slug not
taken) stay in the core, whose refusals land on the fields through ``portal.forms.refuse``.
"""

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    FileField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, ValidationError

from portal.core.kernel import clock
from portal.forms import Form


def _password(label, message=None):
    return PasswordField(label, [InputRequired(message or _l("Enter your current password."))])


class PasswordChangeForm(Form):
    current_password = _password(_l("Current password"))
    password = PasswordField(_l("New password"), [InputRequired(_l("Enter a new password."))])
    password_again = PasswordField(
        _l("The same password again"), [InputRequired(_l("Enter the new password again."))]
    )


class NewPasswordForm(Form):
    """An invited admin's first password, or one chosen from a reset link. The core says what
    a password needs (``admins.check_password``), empty included."""

    password = PasswordField(_l("New password"))
    password_again = PasswordField(_l("The same password again"))


class RecoveryCodesForm(Form):
    codes_password = _password(_l("Your password"))


class TwoFactorOffForm(Form):
    off_password = _password(_l("Your password"))


class TimeZoneForm(Form):
    time_zone = SelectField(_l("Time zone"), validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        portal_zone = current_app.config.get("BABEL_DEFAULT_TIMEZONE", "UTC")
        automatic = _(
            "My browser's time zone when known, else the portal's (%(zone)s)", zone=portal_zone
        )
        self.time_zone.choices = [("", automatic)] + [(z, z) for z in sorted(clock.time_zones())]

    def validate_time_zone(self, field):
        if field.data and not clock.known_zone(field.data):
            raise ValidationError(_l("Choose a time zone from the list."))


class TopicMailForm(Form):
    """A topic mail: written, then confirmed with the audience's size (``confirmed``) under
    a key that sends it once however often the confirmation is posted (``start_key``)."""

    title = StringField(_l("Subject"))
    body = TextAreaField(_l("Text"))
    confirmed = HiddenField()
    start_key = HiddenField()


class TermsForm(Form):
    """The processing terms an API client agreed to (the core checks text and date)."""

    text = TextAreaField(_l("Terms it agreed to"))
    agreed_on = StringField(_l("Agreed on"))


def _languages() -> list[tuple[str, str]]:
    from portal.web import LANGUAGE_NAMES

    return [(code, LANGUAGE_NAMES[code]) for code in current_app.config["LANGUAGES"]]


class GroupForm(Form):
    """The group's settings, in the page's order; the core checks them all at once."""

    name = StringField(_l("Name"))
    languages = SelectMultipleField(_l("Languages offered"), validate_choice=False)
    default_language = SelectField(_l("Default language"), validate_choice=False)
    postal_address = TextAreaField(_l("Postal address"))
    privacy_policy_url = StringField(_l("Privacy policy address"))
    sender_domain = StringField(_l("Sender domain"))
    reply_to = StringField(_l("Reply-to address"))
    logo = FileField(_l("New logo (PNG or JPEG)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.languages.choices = self.default_language.choices = _languages()


def _brand_ids(values) -> list[int]:
    try:
        return [int(value) for value in values]
    except ValueError:
        return [-1]  # refused by the core as "not in this group"


class InviteForm(Form):
    """An invitation: the address, a role and, for a brand admin, the brands (the core checks
    role and brands against the group)."""

    email = StringField(_l("Email address"))
    role = RadioField(_l("Role"), validate_choice=False)
    brands = SelectMultipleField(_l("Brands (for a brand admin)"), validate_choice=False)

    def brand_ids(self) -> list[int]:
        return _brand_ids(self.brands.data or [])


class AdminEditForm(Form):
    """Another admin's role, brands and whether they may sign in."""

    role = RadioField(_l("Role"), validate_choice=False)
    brands = SelectMultipleField(_l("Brands (for a brand admin)"), validate_choice=False)
    disabled = BooleanField(_l("Disabled: this admin cannot sign in"))

    def brand_ids(self) -> list[int]:
        return _brand_ids(self.brands.data or [])


def _language_names() -> dict[str, str]:
    from portal.web import LANGUAGE_NAMES

    return {code: LANGUAGE_NAMES[code] for code in current_app.config["LANGUAGES"]}


def topic_form(new: bool, **kwargs) -> Form:
    """A topic: its key (only when new: it never changes), a name and a description per
    language offered, its channels and whether it is marketing. The fields are made in this
    order, so the error summary follows the page; the core checks every value."""
    from portal.core.kernel.models.base import CHANNELS

    fields = {}
    if new:
        fields["key"] = StringField(_l("Key"))
    for code, name in _language_names().items():
        fields[f"name_{code}"] = StringField(_l("Name in %(language)s", language=name))
        fields[f"description_{code}"] = TextAreaField(
            _l("Description in %(language)s", language=name)
        )
    fields["channels"] = SelectMultipleField(
        _l("Channels this topic may use"), validate_choice=False
    )
    fields["marketing"] = BooleanField(_l("Marketing (advertising and offers)"))
    form = type("TopicForm", (Form,), fields)(**kwargs)
    form.channels.choices = [(channel, channel) for channel in CHANNELS]
    return form


def text_form(**kwargs) -> Form:
    """A new version of the consent text: one text per language offered."""
    fields = {
        f"text_{code}": TextAreaField(_l("Consent text in %(language)s", language=name))
        for code, name in _language_names().items()
    }
    return type("TextForm", (Form,), fields)(**kwargs)


class PolicyForm(Form):
    """A new privacy-policy version, maybe asking subscribers again (``confirmed`` once the
    admin has seen how many people that mails)."""

    policy_version = StringField(_l("New version"))
    ask_again = BooleanField(_l("Ask existing subscribers to confirm again by mail"))
    confirmed = HiddenField()


def _whole_months(form, field):
    """Empty (the rule is off, where the core allows it) or a whole number from 1 to 1200, so
    that every number typed wrong is named at once; the core checks the rest."""
    text = (field.data or "").strip()
    if text and not (text.isdigit() and 1 <= int(text) <= 1200):
        raise ValidationError(_l("Enter a whole number from 1 to 1200."))


def _number(label):
    return StringField(label, [_whole_months])


class RulesForm(Form):
    """The retention rules, as typed: the core says which number it takes (empty: off)."""

    unconfirmed_days = _number(_l("Delete sign-ups not confirmed after (days)"))
    dormant_months = _number(_l("Erase people with no consent and no activity after (months)"))
    repermission_months = _number(
        _l("Ask again when consents were not confirmed or used for (months)")
    )
    repermission_answer_days = _number(
        _l("Let consents lapse when there is no answer after (days)")
    )
    former_customer_months = _number(
        _l("Keep former customers after their last consent ended for (months)")
    )
    # In the page's fieldset "Ask people to reconfirm their details every (months)".
    reconfirm_mobile_number = _number(_l("Mobile number"))
    reconfirm_postal_address = _number(_l("Postal address"))


class SupportLookupForm(Form):
    email = StringField(_l("Email address"))
    reason = TextAreaField(_l("Reason for this lookup"))


class ImportForm(Form):
    """A file to check for one brand (the view offers only brands the admin may import to),
    maybe asking each person by mail instead; ``held`` names a checked file to import."""

    brand = SelectField(_l("Brand"), validate_choice=False)
    file = FileField(_l("CSV file"))
    reconfirm = BooleanField(_l("Ask each person to confirm by mail instead (double opt-in)"))
    held = HiddenField()
    mode = HiddenField()

    def brand_id(self) -> int | None:
        try:
            return int(self.brand.data or "")
        except ValueError:
            return None


class ApiClientForm(Form):
    """A new API client: a name, its scopes, its brands (none: every brand, for an owner) and,
    for an owner, whether it is a verified source. The core checks them all at once."""

    name = StringField(_l("Name"))
    scopes = SelectMultipleField(_l("Scopes"), validate_choice=False)
    brands = SelectMultipleField(_l("Brands"), validate_choice=False)
    verified_source = BooleanField(_l("Verified source"))

    def brand_ids(self) -> list[int]:
        return _brand_ids(self.brands.data or [])


class RotateForm(Form):
    overlap_hours = StringField(_l("Hours the current key keeps working"))

    def hours(self) -> float:
        try:
            return float(self.overlap_hours.data or "")
        except ValueError:
            return -1.0  # refused by the core as out of range


class RedeliverForm(Form):
    """Every failed delivery since a moment typed in the reader's time zone (``since``), or
    one failed delivery (``delivery``, from its row's button)."""

    delivery = HiddenField()
    since = StringField(_l("Send failed deliveries again from"))

    def since_utc(self):
        """The moment typed, read in the reader's time zone, in UTC; None when unreadable."""
        from datetime import UTC, datetime

        from flask_babel import to_utc

        try:
            typed = datetime.fromisoformat((self.since.data or "").strip())
        except ValueError:
            return None
        if typed.tzinfo is not None:
            return typed.astimezone(UTC)
        return to_utc(typed).replace(tzinfo=UTC)


class LoginForm(Form):
    """Address, password and, once enrolled, a code. A refusal names no field: it says the
    same whichever part was wrong (``form_errors``)."""

    email = StringField(_l("Email address"))
    password = PasswordField(_l("Password"))
    code = StringField(_l("Code from your authenticator app"))


class EnrolForm(Form):
    code = StringField(_l("Code from your authenticator app"))


class ForgotForm(Form):
    email = StringField(_l("Email address"))


def brand_form(new: bool, **kwargs) -> Form:
    """A brand's settings in the page's order: for a new brand its policy version and a
    consent text per language, for an existing one a new logo. The core checks them all."""
    fields = {
        "name": StringField(_l("Name")),
        "slug": StringField(_l("Slug")),
        "colour": StringField(_l("Colour")),
        "privacy_policy_url": StringField(_l("Privacy policy address")),
        "sender_name": StringField(_l("Sender name")),
        "sender_address": StringField(_l("Sender address")),
        "reply_to": StringField(_l("Reply-to address (optional)")),
        "postal_address": TextAreaField(_l("Postal address for the mail footer")),
    }
    if new:
        fields["policy_version"] = StringField(_l("Privacy policy version"))
        for code, name in _language_names().items():
            fields[f"text_{code}"] = TextAreaField(
                _l("Consent text in %(language)s", language=name)
            )
    else:
        fields["logo"] = FileField(_l("New logo (PNG or JPEG)"))
    return type("BrandForm", (Form,), fields)(**kwargs)


class ArchiveForm(Form):
    archived = HiddenField()


class WithdrawForm(Form):
    """A withdrawal the person asked for, on one consent (``consent``) of the person's page;
    the page names its fields' ids after the row, so refusals land beside the right one."""

    consent = HiddenField()
    requested_by = StringField(_l("How did the person ask?"))
    reason = TextAreaField(_l("Reason"))

    def consent_id(self) -> int | None:
        try:
            return int(self.consent.data or "")
        except ValueError:
            return None


class EraseForm(Form):
    """An erasure the person asked for: checked, then confirmed (``confirm``)."""

    subject = HiddenField()
    requested_by = StringField(_l("How did the person ask?"))
    reason = TextAreaField(_l("Reason for the erasure"))
    confirm = HiddenField()

    def subject_id(self) -> int | None:
        try:
            return int(self.subject.data or "")
        except ValueError:
            return None
