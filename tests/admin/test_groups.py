"""A company makes its own site group from the command line and sets it up in the console;
marketing mail needs a postal address; a brand stays a draft until it has topics and a text."""

import io

from flask_babel import refresh

from portal.core.kernel.models.group import Brand, ConsentText, SiteGroup
from portal.extensions import db
from tests.actions import log_in, post, send_topic, sign_up
from tests.factories import brand, make_admin

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _create(runner, *extra):
    return runner.invoke(
        args=["groups", "create", "--slug", "maison-ferrand", "--name", "Maison Ferrand", *extra]
    )


def test_a_group_is_created_listed_and_renamed_from_the_command_line(runner):
    made = _create(runner, "--languages", "fr,en", "--default-language", "fr")
    assert made.exit_code == 0, made.output
    assert "site group maison-ferrand created: Maison Ferrand (en, fr)" in made.output
    assert "flask admins create-owner --group maison-ferrand" in made.output
    listed = runner.invoke(args=["groups", "list"])
    assert "maison-ferrand\tMaison Ferrand\ten,fr (default fr)\t0 brands" in listed.output
    renamed = runner.invoke(
        args=["groups", "rename", "--group", "maison-ferrand", "--name", "Maison Ferrand SA"]
    )
    assert renamed.exit_code == 0 and "is now called Maison Ferrand SA" in renamed.output
    owner = runner.invoke(
        args=[
            "admins",
            "create-owner",
            "--group",
            "maison-ferrand",
            "--email",
            "claire@ferrand.example",
            "--password-stdin",
        ],
        input="a long and unusual passphrase\n",
    )
    assert owner.exit_code == 0, owner.output


def test_a_taken_or_malformed_slug_is_refused_with_a_message(runner):
    assert _create(runner).exit_code == 0
    again = _create(runner)
    assert again.exit_code == 1
    assert "--slug: Another site group already uses this slug." in again.output
    bad = runner.invoke(
        args=["groups", "create", "--slug", "Maison Ferrand", "--name", "", "--languages", "xx"]
    )
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "--slug: Use 1 to 40 lower-case letters" in bad.output
    assert "--name: Enter a name of 1 to 120 characters." in bad.output
    assert "--languages: Choose one or more of the languages this portal offers" in bad.output
    default = runner.invoke(
        args=[
            "groups",
            "create",
            "--slug",
            "x1",
            "--name",
            "X",
            "--languages",
            "en",
            "--default-language",
            "de",
        ]
    )
    assert "--default-language: The default language must be one of the group's." in default.output
    assert db.session.query(SiteGroup).count() == 1


def test_create_owner_refuses_a_taken_address_or_a_weak_password_without_a_traceback(runner):
    _create(runner)
    args = [
        "admins",
        "create-owner",
        "--group",
        "maison-ferrand",
        "--email",
        "c@ferrand.example",
        "--password-stdin",
    ]
    weak = runner.invoke(args=args, input="short\n")
    assert weak.exit_code == 1
    assert "Error: Choose a password of at least 12 characters." in weak.output
    guessable = runner.invoke(args=args, input="aaaaaaaaaaaaaaaa\n")
    assert "too easy to guess" in guessable.output
    assert runner.invoke(args=args, input="a long and unusual passphrase\n").exit_code == 0
    taken = runner.invoke(args=args, input="a long and unusual passphrase\n")
    assert taken.exit_code == 1
    assert "Error: There is already an admin with this address." in taken.output
    unknown = runner.invoke(args=[*args[:2], "--group", "nope", *args[4:]], input="x" * 20 + "\n")
    assert "no site group 'nope': make it with `flask groups create" in unknown.output
    for result in (weak, guessable, taken, unknown):
        assert "Traceback" not in result.output and "request context" not in result.output


def test_an_owner_sets_up_the_group_in_the_console(client, demo):
    log_in(client, make_admin(demo, "owner"))
    page = client.get("/admin/group").get_data(as_text=True)
    assert "Settings of LÜXE" in page
    data = {
        "name": "LÜXE Group",
        "languages": ["en", "fr"],
        "default_language": "fr",
        "postal_address": "LÜXE SA, 1 place Vendôme, 75001 Paris",
        "privacy_policy_url": "https://luxe.example/privacy",
        "sender_domain": "news.luxe.example",
        "reply_to": "hello@luxe.example",
        "logo": (io.BytesIO(PNG), "logo.png"),
    }
    saved = post(client, "/admin/group", data, content_type="multipart/form-data")
    assert saved.status_code == 302
    page = client.get("/admin/group").get_data(as_text=True)
    assert "The settings of LÜXE Group are saved." in page
    assert "1 place Vendôme" in page and "news.luxe.example" in page
    assert client.get("/luxe/logo").data == PNG
    assert db.session.get(SiteGroup, demo.id).languages == ["en", "fr"]


def test_group_settings_refuse_bad_values_in_place(client, demo):
    log_in(client, make_admin(demo, "owner"))
    data = {
        "name": "",
        "languages": ["xx"],
        "privacy_policy_url": "luxe.example",
        "sender_domain": "not a domain",
        "reply_to": "nobody",
    }
    refused = post(client, "/admin/group", data)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    for message in (
        "Enter a name of 1 to 120 characters.",
        "Choose one or more of the languages",
        "Enter the full address",
        "Enter a domain name",
        'id="f-reply_to-error"',
    ):
        assert message in page


def test_only_owners_see_the_group_settings(client, demo):
    log_in(client, make_admin(demo, "brand_admin", brands=[brand("camille")]))
    assert client.get("/admin/group").status_code == 403
    assert "Group settings" not in client.get("/admin/brands").get_data(as_text=True)


def test_topic_mail_is_refused_without_a_postal_address(runner, demo, tmp_path):
    camille = brand("camille")
    camille.postal_address = ""
    db.session.commit()
    refused = send_topic(runner, tmp_path, "Spring", "Hello.")
    assert refused.exit_code == 1
    assert "Camille has no postal address, and neither has its group" in refused.output
    demo.postal_address = "LÜXE SA, 1 place Vendôme, 75001 Paris"
    db.session.commit()
    assert send_topic(runner, tmp_path, "Spring", "Hello.").exit_code == 0


def test_the_console_says_where_the_postal_address_is_missing(client, demo):
    log_in(client, make_admin(demo, "owner"))
    camille = brand("camille")
    camille.postal_address = ""
    db.session.commit()
    assert 'id="postal-missing"' in client.get(f"/admin/brands/{camille.id}").get_data(as_text=True)
    assert 'id="postal-missing"' in client.get("/admin/group").get_data(as_text=True)
    demo.postal_address = "LÜXE SA, Paris"
    db.session.commit()
    assert 'id="postal-missing"' not in client.get(f"/admin/brands/{camille.id}").get_data(
        as_text=True
    )


def _draft(group) -> Brand:
    draft = Brand(
        group_id=group.id,
        slug="nova",
        name="Nova",
        sender_name="Nova",
        sender_address="hello@nova.example",
        privacy_policy_url="https://nova.example",
        policy_version="1",
        position=9,
    )
    db.session.add(draft)
    db.session.flush()
    db.session.add(ConsentText(brand_id=draft.id, version=1, texts={"en": "I agree."}))
    db.session.commit()
    return draft


def test_a_brand_without_topics_is_a_draft_with_no_public_page(client, demo):
    draft = _draft(demo)
    assert client.get("/luxe/join/nova").status_code == 404
    assert "Nova" not in client.get("/luxe/").get_data(as_text=True)
    assert sign_up(client, "x@example.com", brand="camille").status_code == 200
    log_in(client, make_admin(demo, "owner"))
    listing = client.get("/admin/brands").get_data(as_text=True)
    assert "Draft" in listing and "Add a topic to open its sign-up page." in listing
    topics = client.get(f"/admin/brands/{draft.id}/topics").get_data(as_text=True)
    assert "Draft" in topics


def test_a_brand_with_a_topic_and_a_text_goes_live(client, demo):
    from portal.core.kernel.models.group import Topic

    draft = _draft(demo)
    db.session.add(
        Topic(
            brand_id=draft.id,
            key="news",
            names={"en": "News"},
            descriptions={"en": "Our news."},
            channels=["email"],
        )
    )
    db.session.commit()
    assert client.get("/luxe/join/nova").status_code == 200
    assert "Sign up to Nova" in client.get("/luxe/").get_data(as_text=True)


def test_a_new_brand_starts_from_the_group_defaults(client, demo):
    demo.sender_domain, demo.reply_to = "news.luxe.example", "hello@luxe.example"
    demo.privacy_policy_url = "https://luxe.example/privacy"
    db.session.commit()
    log_in(client, make_admin(demo, "owner"))
    page = client.get("/admin/brands/new").get_data(as_text=True)
    assert 'value="hello@news.luxe.example"' in page
    assert 'value="hello@luxe.example"' in page
    assert 'value="https://luxe.example/privacy"' in page


def test_the_group_pages_speak_the_group_languages(app, demo):
    demo.languages, demo.default_language = ["fr", "de"], "fr"
    db.session.commit()

    def page(path, accept, client=None):
        refresh()  # the tests share one app context, where Flask-Babel keeps the locale
        answer = (client or app.test_client()).get(path, headers={"Accept-Language": accept})
        return answer.get_data(as_text=True)

    home = page("/luxe/", "en")
    assert '<html lang="fr"' in home  # English is not offered: the group's default language
    assert 'hreflang="de"' in home and 'hreflang="en"' not in home
    assert '<html lang="de"' in page("/luxe/", "de")
    assert '<html lang="fr"' in page("/luxe/?lang=en", "en")  # not offered: not used
    assert '<html lang="en"' in page("/admin/login", "en")  # the console keeps them all


def test_the_group_logo_is_on_its_home_page(client, demo):
    assert "group-logo" not in client.get("/luxe/").get_data(as_text=True)
    demo.logo, demo.logo_type = PNG, "image/png"
    db.session.commit()
    assert 'src="/luxe/logo"' in client.get("/luxe/").get_data(as_text=True)
