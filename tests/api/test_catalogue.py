"""Discover before writing: brands, topics and consent texts, revalidated with ETags."""

from portal.core.consent import topics as topic_admin
from tests.api.conftest import capture
from tests.factories import brand, brand_admin, topic


def test_a_client_lists_every_brand_of_its_group_with_its_latest_text(api):
    answer = api.get("/brands")
    assert answer.status_code == 200
    brands = answer.json["brands"]
    assert [b["slug"] for b in brands][:3] == ["camille", "aurele", "vespera"]
    camille = brands[0]
    assert camille["policy_version"] == "2026-01"
    assert camille["latest_text_version"] == 1
    assert camille["archived"] is False


def test_a_brand_limited_client_sees_only_its_brands(make_api):
    api = make_api(brands=["aurele", "kogen"])
    assert [b["slug"] for b in api.get("/brands").json["brands"]] == ["aurele", "kogen"]
    assert {t["brand"] for t in api.get("/topics").json["topics"]} == {"aurele", "kogen"}
    texts = api.get("/consent-texts").json["consent_texts"]
    assert {t["brand"] for t in texts} == {"aurele", "kogen"}
    # Another brand of the group reads exactly like a brand that does not exist.
    for path in ("/topics?brand=camille", "/consent-texts?brand=camille", "/topics?brand=nope"):
        closed = api.get(path)
        assert closed.status_code == 404, path
        assert closed.mimetype == "application/problem+json"


def test_topics_carry_their_channels_and_names_in_each_language(api):
    answer = api.get("/topics?brand=aurele")
    assert answer.status_code == 200
    listed = answer.json["topics"]
    assert [t["key"] for t in listed] == ["news", "events", "care"]
    events = listed[1]
    assert events["brand"] == "aurele"
    assert events["channels"] == topic("events", "aurele").channels
    assert events["names"] == {
        "en": "Events and previews",
        "fr": "Événements et avant-premières",
        "de": "Events und Previews",
    }


def test_a_text_version_found_here_is_accepted_by_a_grant(app, demo, api):
    owner = brand_admin(demo, "camille")
    texts = {"en": "Yes, tell me.", "fr": "Oui, dites-moi.", "de": "Ja, sagen Sie es mir."}
    with app.test_request_context():
        topic_admin.new_text(owner, brand("camille"), texts)
    listed = api.get("/consent-texts?brand=camille").json["consent_texts"]
    assert [(t["version"], t["latest"]) for t in listed] == [(1, False), (2, True)]
    assert listed[1]["languages"] == ["de", "en", "fr"]
    assert listed[1]["texts"] == texts
    assert api.get("/brands").json["brands"][0]["latest_text_version"] == 2
    latest = next(t["version"] for t in listed if t["latest"])
    assert api.post("/consents", json=capture(text_version=latest)).status_code == 200


def test_an_unchanged_document_answers_304_and_a_changed_one_a_new_etag(app, demo, api):
    first = api.get("/consent-texts")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")  # strong
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = api.get("/consent-texts", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert api.get("/consent-texts", headers={"If-None-Match": '"other"'}).status_code == 200
    assert api.get("/consent-texts", headers={"If-None-Match": f'"x", {etag}'}).status_code == 304
    assert api.get("/consent-texts", headers={"If-None-Match": "*"}).status_code == 304
    # If-None-Match compares weakly (RFC 9110 §13.1.2): a cache's W/ copy is the same document.
    assert api.get("/consent-texts", headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    head = api.client.head("/api/v1/consent-texts", headers=api.headers())
    assert head.status_code == 200 and head.headers["ETag"] == etag

    owner = brand_admin(demo, "camille")
    with app.test_request_context():
        topic_admin.new_text(owner, brand("camille"), {"en": "New", "fr": "Neuf", "de": "Neu"})
    changed = api.get("/consent-texts", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag


def test_each_document_has_its_own_etag_per_client(make_api):
    everything, limited = make_api(), make_api(brands=["aurele"], name="Shop")
    for path in ("/brands", "/topics", "/consent-texts"):
        mine = everything.get(path).headers["ETag"]
        assert everything.get(path, headers={"If-None-Match": mine}).status_code == 304
        # A copy another client holds is not this client's document.
        assert limited.get(path, headers={"If-None-Match": mine}).status_code == 200


def test_discovery_needs_the_read_scope(make_api):
    writer = make_api(scopes=["consent:write"])
    for path in ("/brands", "/topics", "/consent-texts"):
        refused = writer.get(path)
        assert refused.status_code == 403
        assert refused.json["type"].endswith("missing-scope")
    assert make_api(scopes=["consent:read"]).get("/brands").status_code == 200
