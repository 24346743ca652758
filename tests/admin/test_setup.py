"""Setting up brands, topics, consent texts and the policy version from the console."""

from sqlalchemy import select

from portal.core.consent.models import Consent, LedgerEntry
from portal.core.console.models import AuditEntry
from portal.core.kernel.models.group import Brand, ConsentText, Topic
from portal.extensions import db
from tests.actions import confirm, confirmation_link, decide, deliver, log_in, post, sign_up
from tests.factories import brand, brand_admin, make_admin
from tests.smtp import text_of

NEW_BRAND = {
    "name": "Maison Lumen",
    "slug": "lumen",
    "colour": "#1f4f5a",
    "privacy_policy_url": "https://lumen.example/privacy",
    "sender_name": "Lumen",
    "sender_address": "hello@lumen.example",
    "reply_to": "care@lumen.example",
    "postal_address": "Lumen, 1 quai Voltaire, Paris",
    "policy_version": "2026-03",
    "text_en": "I agree that Lumen may write to me.",
    "text_fr": "J'accepte que Lumen m'écrive.",
    "text_de": "Ich bin einverstanden, dass Lumen mir schreibt.",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _owner(client, demo):
    owner = make_admin(demo, "owner", "boss@luxe.example")
    log_in(client, owner)
    return owner


def _topic(key, name="Letters"):
    return {
        "key": key,
        "name_en": name,
        "name_fr": name + " (fr)",
        "name_de": name + " (de)",
        "description_en": "Now and then.",
        "channels": ["email"],
        "marketing": "1",
    }


def test_an_owner_sets_up_a_brand_whose_signup_page_goes_live(client, demo):
    _owner(client, demo)
    answer = post(client, "/admin/brands/new", NEW_BRAND)
    assert answer.status_code == 302
    lumen = brand("lumen")
    assert lumen.reply_to == "care@lumen.example"
    assert (
        post(client, f"/admin/brands/{lumen.id}/topics/new", _topic("letters")).status_code == 302
    )
    assert (
        post(client, f"/admin/brands/{lumen.id}/topics/new", _topic("events", "Events")).status_code
        == 302
    )
    page = client.get("/luxe/join/lumen").get_data(as_text=True)
    assert "Sign up to Maison Lumen" in page
    assert "Letters" in page and "Events" in page
    assert "I agree that Lumen may write to me." in page
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "brand.create"))
    assert entry.after["slug"] == "lumen" and entry.actor.startswith("admin:")


def test_bad_values_are_shown_in_place_and_kept(client, demo):
    _owner(client, demo)
    bad = dict(NEW_BRAND, slug="Bad Slug", colour="#ffff00", sender_address="nope", text_de="")
    answer = post(client, "/admin/brands/new", bad)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'id="f-slug-error"' in page and 'aria-describedby="f-slug-hint f-slug-error"' in page
    assert "white text must be readable" in page.lower() or "hard to read" in page
    assert 'value="Bad Slug"' in page and 'value="Maison Lumen"' in page
    assert 'id="f-text_de-error"' in page
    assert db.session.scalar(select(Brand).where(Brand.slug == "lumen")) is None
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "brand.create")) is None


def test_editing_a_brand_keeps_before_and_after_in_the_audit_log(client, demo):
    _owner(client, demo)
    camille = brand("camille")
    values = {
        key: getattr(camille, key)
        for key in (
            "slug",
            "name",
            "sender_name",
            "sender_address",
            "postal_address",
            "colour",
            "privacy_policy_url",
        )
    }
    answer = post(client, f"/admin/brands/{camille.id}", dict(values, name="Camille Paris"))
    assert answer.status_code == 302
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "brand.update"))
    assert entry.before["name"] == "Camille" and entry.after["name"] == "Camille Paris"
    assert "Camille Paris" in client.get("/luxe/join/camille").get_data(as_text=True)


def test_logo_png_accepted_svg_and_oversize_refused(app, client, demo):
    _owner(client, demo)
    camille = brand("camille")
    values = {
        key: getattr(camille, key)
        for key in ("slug", "name", "sender_name", "sender_address", "colour", "privacy_policy_url")
    }

    def upload(content: bytes, name: str):
        logo = (io_of(content), name)
        url = f"/admin/brands/{camille.id}"
        return post(client, url, dict(values, logo=logo), content_type="multipart/form-data")

    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    refused = upload(svg, "logo.png")
    assert refused.status_code == 422
    assert "PNG or JPEG" in refused.get_data(as_text=True)
    app.config["ADMIN_LOGO_MAX_BYTES"] = 32
    large = upload(PNG, "l.png")
    assert large.status_code == 422 and "too large" in large.get_data(as_text=True)
    app.config["ADMIN_LOGO_MAX_BYTES"] = 200 * 1024
    ok = upload(PNG, "l.png")
    assert ok.status_code == 302
    served = client.get("/luxe/logos/camille")
    assert served.data == PNG and served.headers["Content-Type"] == "image/png"
    assert 'src="/luxe/logos/camille"' in client.get("/luxe/join/camille").get_data(as_text=True)


def io_of(content: bytes):
    import io

    return io.BytesIO(content)


def test_archiving_hides_the_signup_page_and_keeps_consents(client, demo, smtp):
    sign_up(client, "kept@example.com")
    decide()
    _owner(client, demo)
    camille = brand("camille")
    assert post(client, f"/admin/brands/{camille.id}/archive", {"archived": "1"}).status_code == 302
    assert client.get("/luxe/join/camille").status_code == 404
    assert "Camille" not in client.get("/luxe/").get_data(as_text=True).split("<main")[1]
    assert db.session.scalar(select(Consent).where(Consent.brand_id == camille.id)) is not None
    assert post(client, f"/admin/brands/{camille.id}/archive", {"archived": "0"}).status_code == 302
    assert client.get("/luxe/join/camille").status_code == 200


def test_a_new_consent_text_is_a_new_version_and_old_ones_stay(client, demo, smtp):
    sign_up(client, "early@example.com")
    decide()
    _owner(client, demo)
    camille = brand("camille")
    first = db.session.scalar(select(ConsentText).where(ConsentText.brand_id == camille.id))
    words = dict(first.texts)
    texts = {f"text_{lang}": text + " (2)" for lang, text in words.items()}
    unchanged = post(
        client,
        f"/admin/brands/{camille.id}/texts/new",
        {f"text_{lang}": text for lang, text in words.items()},
    )
    assert unchanged.status_code == 422 and "unchanged" in unchanged.get_data(as_text=True)
    assert post(client, f"/admin/brands/{camille.id}/texts/new", texts).status_code == 302
    db.session.expire_all()
    versions = db.session.scalars(
        select(ConsentText).where(ConsentText.brand_id == camille.id).order_by(ConsentText.version)
    ).all()
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].texts == words  # the text the early person saw is untouched
    row = db.session.scalar(select(LedgerEntry).where(LedgerEntry.text_version_id == first.id))
    assert row is not None
    assert "(2)" in client.get("/luxe/join/camille").get_data(as_text=True)


def test_editing_a_topic(client, demo):
    _owner(client, demo)
    topic = brand("camille").topics[0]
    data = _topic("ignored", "Headlines")
    data["channels"] = ["email", "sms"]
    assert post(client, f"/admin/topics/{topic.id}", data).status_code == 302
    db.session.expire_all()
    topic = db.session.get(Topic, topic.id)
    assert topic.key == "news" and topic.names["en"] == "Headlines"
    assert topic.channels == ["email", "sms"]
    none = post(client, f"/admin/topics/{topic.id}", dict(data, channels=[]))
    assert none.status_code == 422 and "Choose at least one channel" in none.get_data(as_text=True)


def test_raising_the_policy_asks_subscribers_to_confirm_again(client, demo, smtp):
    sign_up(client, "fan@example.com")
    deliver()
    confirm(client, confirmation_link(smtp.to("fan@example.com")[0]))
    smtp.clear()
    camille = brand("camille")
    _owner(client, demo)
    raising = {"policy_version": "2026-09", "ask_again": "1"}
    asked = post(client, f"/admin/brands/{camille.id}/policy", raising)
    assert "This mails 1 person" in asked.get_data(as_text=True)
    assert brand("camille").policy_version == "2026-01"  # nothing changes before the yes
    answer = post(client, f"/admin/brands/{camille.id}/policy", dict(raising, confirmed="1"))
    assert answer.status_code == 302 and "/admin/jobs/" in answer.headers["Location"]
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Waiting for the worker" in page and "every 2s" in page
    consents = db.session.scalars(select(Consent).where(Consent.brand_id == camille.id)).all()
    assert {c.state for c in consents} == {"granted"}  # kept until they confirm
    assert {c.policy_version for c in consents} == {"2026-01"}
    # Asking again is not a sign-up: the double opt-in rate still counts the one sign-up.
    dashboard = client.get("/admin/").get_data(as_text=True)
    assert "100 %" in dashboard and "1 of 1 sign-ups confirmed" in dashboard
    deliver()
    [mail] = smtp.to("fan@example.com")
    assert "updated its privacy policy" in mail["Subject"]
    assert "2026-09" in text_of(mail)
    confirm(client, confirmation_link(mail))
    db.session.expire_all()
    consents = db.session.scalars(select(Consent).where(Consent.brand_id == camille.id)).all()
    assert {c.policy_version for c in consents} == {"2026-09"}
    assert {c.state for c in consents} == {"granted"}


def test_a_brand_admin_edits_only_their_brand(client, demo):
    log_in(client, brand_admin(demo, "camille"))
    assert client.get(f"/admin/brands/{brand('camille').id}").status_code == 200
    assert client.get(f"/admin/brands/{brand('vespera').id}").status_code == 403
    assert client.get("/admin/brands/new").status_code == 403


def test_the_brand_reply_to_address_is_on_its_mails(client, demo, smtp):
    _owner(client, demo)
    post(client, "/admin/brands/new", NEW_BRAND)
    lumen = brand("lumen")
    post(client, f"/admin/brands/{lumen.id}/topics/new", _topic("letters"))
    sign_up(client, "reader@example.com", brand="lumen", topics=None)
    deliver()
    [mail] = smtp.to("reader@example.com")
    assert mail["From"] == "Lumen <hello@lumen.example>"
    assert mail["Reply-To"] == "care@lumen.example"
    assert "Lumen, 1 quai Voltaire, Paris" in text_of(mail)
