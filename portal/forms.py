"""The base of every HTML form: Flask-WTF with CSRF, reading only form-encoded bodies.

Flask-WTF would read a JSON body as form data, and a JSON list there raises inside WTForms:
pages take forms, the API takes JSON, and neither takes the other.
"""

from functools import cache

from babel import support
from flask import current_app, request
from flask_babel import get_locale
from flask_wtf import FlaskForm
from wtforms.i18n import messages_path


@cache
def _wtforms_messages(locale: str) -> support.Translations:
    """WTForms' own messages in one language. Flask-WTF reads the catalogue from disk again
    in every request that builds a form; it never changes while the process runs."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class Form(FlaskForm):
    class Meta:
        def wrap_formdata(self, form, formdata):
            if request.is_json:
                return request.form  # empty: the form sees nothing rather than crash
            return FlaskForm.Meta.wrap_formdata(self, form, formdata)

        def get_translations(self, form):
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return FlaskForm.Meta.get_translations(self, form)  # as Flask-WTF would
            locale = get_locale()
            return None if locale is None else _wtforms_messages(str(locale))


def refuse(form: FlaskForm, errors: dict) -> FlaskForm:
    """Put the core's refusals ({field: message}, as InvalidFields and InvalidInput carry them)
    on the form's fields, so they show in place and in the summary like the form's own; a
    refusal naming no field of the form shows above it."""
    for name, message in errors.items():
        field = form._fields.get(name)
        if field is None:
            form.form_errors.append(message)
        else:
            field.errors = [*field.errors, message]
    return form
