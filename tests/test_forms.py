"""The form base: WTForms' own messages in the page's language, unless the setting says not."""

import pytest
from werkzeug.datastructures import MultiDict
from wtforms import SelectChoice, SelectMultipleField

from portal.forms import Form


class _Choice(Form):
    class Meta:
        csrf = False

    topics = SelectMultipleField(choices=[SelectChoice("news", "News")])


@pytest.mark.parametrize(
    ("enabled", "expected"),
    [
        (True, "«\xa0cars\xa0» n'est pas un choix valide pour ce champ."),
        (False, "'cars' is not a valid choice for this field."),
    ],
)
def test_wtforms_messages_follow_the_language_and_the_setting(app, enabled, expected):
    app.config["WTF_I18N_ENABLED"] = enabled
    with app.test_request_context("/?lang=fr", headers={"Accept-Language": "fr"}):
        form = _Choice(formdata=MultiDict([("topics", "cars")]))
        assert not form.validate()
        assert form.topics.errors == [expected]
