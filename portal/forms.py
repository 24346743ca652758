"""The base of every HTML form: Flask-WTF with CSRF, reading only form-encoded bodies.

Flask-WTF would read a JSON body as form data, and a JSON list there raises inside WTForms:
pages take forms, the API takes JSON, and neither takes the other.
"""

from flask import request
from flask_wtf import FlaskForm


class Form(FlaskForm):
    class Meta:
        def wrap_formdata(self, form, formdata):
            if request.is_json:
                return request.form  # empty: the form sees nothing rather than crash
            return FlaskForm.Meta.wrap_formdata(self, form, formdata)
