from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import Form


class SignupForm(Form):
    # Length and format are checked by the core, which gives the messages; the browser's
    # own checks (type=email, maxlength) only help.
    email = EmailField(_l("Email address"), render_kw={"autocomplete": "email", "maxlength": 254})
    topics = SelectMultipleField(
        _l("What would you like to hear about?"),
        coerce=int,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    text_version = HiddenField()
