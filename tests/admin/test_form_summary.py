"""Every console form built on Flask-WTF opens its errors with a summary in the form's own
order, each line naming its field by its label and linking to it (issue 15)."""

import re

from portal.core.kernel.models.group import Topic
from portal.extensions import db
from tests.actions import log_in, post
from tests.factories import brand, make_admin

LINE = re.compile(r'<li><a href="#(f-[a-z_]+)">([^<]*)</a></li>')


def _summary(html: str) -> list[tuple[str, str]]:
    block = html.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    return LINE.findall(block)


def test_the_topic_mail_summary_names_subject_then_text(client, demo):
    log_in(client, make_admin(demo, "owner"))
    topic = db.session.scalar(db.select(Topic).where(Topic.brand_id == brand("camille").id))
    answer = post(client, f"/admin/topics/{topic.id}/mail", {"title": "", "body": ""})
    assert answer.status_code == 422
    lines = _summary(answer.get_data(as_text=True))
    assert [anchor for anchor, _ in lines] == ["f-title", "f-body"]
    assert lines[0][1].startswith("Subject: ") and lines[1][1].startswith("Text: ")


def test_the_terms_summary_names_the_terms_then_the_date(client, demo):
    from portal.core.integrations import clients

    log_in(client, make_admin(demo, "owner"))
    made, _ = clients.create("luxe", "CRM", ["events:read"])
    answer = post(client, f"/admin/api-clients/{made.id}/terms", {"text": "", "agreed_on": "x"})
    assert answer.status_code == 422
    lines = _summary(answer.get_data(as_text=True))
    assert [anchor for anchor, _ in lines] == ["f-text", "f-agreed_on"]
    assert lines[0][1].startswith("Terms it agreed to: ")
    assert lines[1][1].startswith("Agreed on: ")


def test_my_account_names_the_password_field_it_refuses(client, demo):
    log_in(client, make_admin(demo, "viewer", "viewer@luxe.example"))
    answer = post(client, "/admin/account/password", {"current_password": ""})
    assert answer.status_code == 422
    assert _summary(answer.get_data(as_text=True)) == [
        ("f-current_password", "Current password: Enter your current password."),
        ("f-password", "New password: Enter a new password."),
        ("f-password_again", "The same password again: Enter the new password again."),
    ]


def test_the_group_settings_summary_follows_the_form(client, demo):
    log_in(client, make_admin(demo, "owner"))
    answer = post(
        client,
        "/admin/group",
        {"name": "", "default_language": "en", "privacy_policy_url": "nope", "reply_to": "x@"},
    )
    assert answer.status_code == 422
    lines = _summary(answer.get_data(as_text=True))
    assert [anchor for anchor, _ in lines] == [
        "f-name",
        "f-languages",
        "f-privacy_policy_url",
        "f-reply_to",
    ]
    assert lines[1][1].startswith("Languages offered: ")
    assert lines[2][1].startswith("Privacy policy address: ")


def test_the_invitation_summary_names_the_field_refused(client, demo):
    log_in(client, make_admin(demo, "owner"))
    answer = post(client, "/admin/admins", {"email": "new@luxe.example", "role": "pilot"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert [anchor for anchor, _ in _summary(page)] == ["f-role"]
    assert _summary(page)[0][1].startswith("Role: ")
    assert 'value="new@luxe.example"' in page  # what was typed stays


def test_an_empty_group_settings_post_is_refused_in_the_form(client, demo):
    log_in(client, make_admin(demo, "owner"))
    answer = post(client, "/admin/group", {})
    assert answer.status_code == 422
    assert "f-languages" in [anchor for anchor, _ in _summary(answer.get_data(as_text=True))]


def test_changing_an_admin_names_the_field_refused_and_keeps_the_choices(client, demo):
    log_in(client, make_admin(demo, "owner"))
    other = make_admin(demo, "viewer", "viewer@luxe.example")
    answer = post(client, f"/admin/admins/{other.id}", {"role": "brand_admin", "disabled": "1"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert _summary(page) == [
        ("f-brands", "Brands (for a brand admin): Give a brand admin at least one brand.")
    ]
    assert 'value="brand_admin" checked' in page and 'name="disabled" value="1" checked' in page


def test_a_new_topic_names_key_names_and_channels_in_the_page_order(client, demo):
    log_in(client, make_admin(demo, "owner"))
    answer = post(client, f"/admin/brands/{brand('camille').id}/topics/new", {"key": "Bad Key"})
    assert answer.status_code == 422
    lines = _summary(answer.get_data(as_text=True))
    assert [anchor for anchor, _ in lines] == [
        "f-key",
        "f-name_en",
        "f-name_fr",
        "f-name_de",
        "f-channels",
    ]
    assert lines[1][1] == "Name in English: Enter a name of 1 to 120 characters."
    assert lines[4][1] == "Channels this topic may use: Choose at least one channel."


def test_an_empty_consent_text_names_each_language(client, demo):
    log_in(client, make_admin(demo, "owner"))
    answer = post(client, f"/admin/brands/{brand('camille').id}/texts/new", {"text_fr": "Oui"})
    assert answer.status_code == 422
    lines = _summary(answer.get_data(as_text=True))
    assert [anchor for anchor, _ in lines] == ["f-text_en", "f-text_de"]
    assert lines[0][1].startswith("Consent text in English: ")


def test_the_policy_version_is_named_when_refused(client, demo):
    log_in(client, make_admin(demo, "owner"))
    camille = brand("camille")
    answer = post(client, f"/admin/brands/{camille.id}/policy", {"policy_version": ""})
    assert answer.status_code == 422
    assert _summary(answer.get_data(as_text=True)) == [
        ("f-policy_version", "New version: Enter a version of 1 to 40 characters, like 2026-02.")
    ]


def test_every_rule_typed_wrong_is_named_at_once(client, demo):
    log_in(client, make_admin(demo, "owner"))
    answer = post(
        client,
        "/admin/rules",
        {
            "unconfirmed_days": "many",
            "repermission_answer_days": "30",
            "former_customer_months": "0",
            "reconfirm_postal_address": "-3",
        },
    )
    assert answer.status_code == 422
    number = "Enter a whole number from 1 to 1200."
    assert _summary(answer.get_data(as_text=True)) == [
        ("f-unconfirmed_days", f"Delete sign-ups not confirmed after (days): {number}"),
        (
            "f-former_customer_months",
            f"Keep former customers after their last consent ended for (months): {number}",
        ),
        ("f-reconfirm_postal_address", f"Postal address: {number}"),
    ]


def test_a_rule_the_core_refuses_is_named_by_its_label(client, demo):
    log_in(client, make_admin(demo, "owner"))
    answer = post(client, "/admin/rules", {"repermission_answer_days": ""})
    assert answer.status_code == 422
    assert _summary(answer.get_data(as_text=True)) == [
        (
            "f-repermission_answer_days",
            "Let consents lapse when there is no answer after (days): "
            "Enter a whole number from 1 to 1200.",
        )
    ]


def test_the_support_lookup_names_address_then_reason(client, demo):
    log_in(client, make_admin(demo, "owner"))
    answer = post(client, "/admin/support", {"email": "", "reason": ""})
    assert answer.status_code == 422
    lines = _summary(answer.get_data(as_text=True))
    assert [anchor for anchor, _ in lines] == ["f-email", "f-reason"]
    assert lines[0][1].startswith("Email address: ")
    assert lines[1][1].startswith("Reason for this lookup: Say why you look this person up")


def test_an_import_without_a_file_names_the_file_field(client, demo):
    log_in(client, make_admin(demo, "owner"))
    camille = brand("camille")
    answer = post(client, "/admin/import", {"brand": camille.id, "mode": "check"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert _summary(page) == [("f-file", "CSV file: Choose a CSV file.")]
    assert f'<option selected value="{camille.id}">' in page  # the brand chosen stays


def test_a_new_api_client_names_each_field_refused_in_order(client, demo):
    log_in(client, make_admin(demo, "owner"))
    answer = post(client, "/admin/api-clients/new", {"name": "", "brands": "999999"})
    assert answer.status_code == 422
    assert _summary(answer.get_data(as_text=True)) == [
        ("f-name", "Name: Give the client a name (at most 80 characters)."),
        ("f-scopes", "Scopes: Choose at least one scope."),
        ("f-brands", "Brands: Choose only brands you manage."),
    ]


def test_a_key_rotation_names_the_overlap_it_refuses(client, demo):
    from portal.core.integrations import clients

    log_in(client, make_admin(demo, "owner"))
    made, _ = clients.create("luxe", "CRM", ["events:read"])
    answer = post(client, f"/admin/api-clients/{made.id}/rotate", {"overlap_hours": "many"})
    assert answer.status_code == 422
    assert _summary(answer.get_data(as_text=True)) == [
        (
            "f-overlap_hours",
            "Hours the current key keeps working: "
            "The overlap is more than 0 hours and at most a year.",
        )
    ]


def test_a_new_brand_names_every_field_refused_in_the_page_order(client, demo):
    log_in(client, make_admin(demo, "owner"))
    answer = post(client, "/admin/brands/new", {"name": "", "slug": "Bad Slug", "colour": "red"})
    assert answer.status_code == 422
    lines = _summary(answer.get_data(as_text=True))
    anchors = [anchor for anchor, _ in lines]
    page_order = ["f-name", "f-slug", "f-colour", "f-privacy_policy_url", "f-sender_name"]
    assert anchors[:3] == page_order[:3]
    assert anchors[-3:] == ["f-text_en", "f-text_fr", "f-text_de"]
    assert lines[1] == ("f-slug", "Slug: Use 1 to 40 lower-case letters, digits and hyphens.")
    assert lines[2] == ("f-colour", "Colour: Enter a colour like #7a1f3d.")
