"""The demo site group that `make run` and `flask demo load` set up: LÜXE and its seven
houses, each with three to six topics. (Groups of a chosen size, for the tests and the bench,
are made by ``tests.factories.sized_group``.)"""

from sqlalchemy import select

from portal.core.console.brands import check_logo
from portal.core.console.demo_logos import monogram
from portal.core.kernel.models.group import Brand, ConsentText, SiteGroup, Topic
from portal.core.kernel.transaction import commit_session
from portal.core.lifecycle.policy import defaults as default_policy
from portal.extensions import db

E, ES, EP, ESP = ["email"], ["email", "sms"], ["email", "post"], ["email", "sms", "post"]

# key: (en, fr, de) names, (en, fr, de) descriptions, channels
TOPICS = {
    "news": (
        ("News", "Actualités", "Neuigkeiten"),
        (
            "Collections, openings and stories from the house.",
            "Collections, ouvertures et histoires de la maison.",
            "Kollektionen, Eröffnungen und Geschichten des Hauses.",
        ),
        ESP,
    ),
    "events": (
        ("Events and previews", "Événements et avant-premières", "Events und Previews"),
        (
            "Invitations to shows, private sales and previews near you.",
            "Invitations aux défilés, ventes privées et avant-premières près de chez vous.",
            "Einladungen zu Schauen, Privatverkäufen und Previews in Ihrer Nähe.",
        ),
        ES,
    ),
    "offers": (
        ("Offers", "Offres", "Angebote"),
        (
            "Seasonal offers and gifts for members, made with partner brands.",
            "Offres de saison et cadeaux pour les membres, avec des marques partenaires.",
            "Saisonale Angebote und Geschenke für Mitglieder, mit Partnermarken.",
        ),
        ES,
    ),
    "catalogue": (
        ("Printed catalogue", "Catalogue imprimé", "Gedruckter Katalog"),
        (
            "The seasonal catalogue, by post and by email.",
            "Le catalogue de saison, par courrier et par email.",
            "Der Saisonkatalog, per Post und per E-Mail.",
        ),
        EP,
    ),
    "care": (
        ("Care and repairs", "Entretien et réparations", "Pflege und Reparaturen"),
        (
            "Advice on caring for your pieces, and repair reminders.",
            "Conseils d'entretien de vos pièces et rappels de réparation.",
            "Pflegetipps für Ihre Stücke und Erinnerungen an Reparaturen.",
        ),
        E,
    ),
    "journal": (
        ("The journal", "Le journal", "Das Journal"),
        (
            "Long reads on craft, materials and the people behind them.",
            "Récits sur l'artisanat, les matières et ceux qui les travaillent.",
            "Lange Geschichten über Handwerk, Materialien und Menschen.",
        ),
        E,
    ),
}

# Offers are made with partner brands: the topic shares data with third parties, so a
# Global Privacy Control signal opts the person out of it.
SHARING = {"offers"}

# slug, name, colour, topics
HOUSES = [
    ("camille", "Camille", "#7a1f3d", ["news", "events", "offers", "catalogue", "care", "journal"]),
    ("aurele", "Maison Aurèle", "#8a6d1f", ["news", "events", "care"]),
    ("vespera", "Vespera", "#1f3f7a", ["news", "offers", "journal", "events"]),
    ("orsini", "Orsini Milano", "#2f5d3a", ["news", "catalogue", "events", "offers", "care"]),
    ("hartwell", "Hartwell & Ives", "#3d3d3d", ["news", "care", "journal"]),
    ("solenne", "Solenne", "#9c3b1b", ["news", "events", "offers", "journal"]),
    ("kogen", "Kōgen", "#4b2f6b", ["news", "journal", "events", "catalogue", "care"]),
]

CONSENT_TEXT = {
    "en": (
        "I agree that {brand} may send me the news I have chosen above. I can withdraw "
        "at any time from the link in every mail or from my preference centre."
    ),
    "fr": (
        "J'accepte que {brand} m'envoie les informations choisies ci-dessus. Je peux retirer "
        "mon consentement à tout moment par le lien présent dans chaque email ou depuis mon "
        "centre de préférences."
    ),
    "de": (
        "Ich bin einverstanden, dass {brand} mir die oben gewählten Informationen sendet. "
        "Ich kann jederzeit über den Link in jeder E-Mail oder in meinem Präferenzcenter "
        "widerrufen."
    ),
}


def load() -> tuple[SiteGroup, bool]:
    """Create the demo group unless it exists; returns (group, created). A demo loaded before
    the houses had logos gets them."""
    existing = db.session.scalar(select(SiteGroup).where(SiteGroup.slug == "luxe"))
    if existing is not None:
        _give_logos(existing)
        return existing, False
    with commit_session():
        group = SiteGroup(
            slug="luxe", name="LÜXE", default_language="en", collect_date_of_birth=True
        )
        db.session.add(group)
        db.session.flush()
        default_policy(group)
        for position, (slug, name, colour, keys) in enumerate(HOUSES):
            brand = Brand(
                group_id=group.id,
                slug=slug,
                name=name,
                sender_name=name,
                sender_address=f"hello@{slug}.example",
                news_sender_address=f"news@{slug}.example",
                colour=colour,
                position=position,
                privacy_policy_url=f"https://{slug}.example/privacy",
                policy_version="2026-01",
                postal_address=f"{name}, 12 rue de la Paix, 75002 Paris, France",
            )
            brand.logo, brand.logo_type = _logo(name, colour)
            db.session.add(brand)
            db.session.flush()
            db.session.add(
                ConsentText(
                    brand_id=brand.id,
                    version=1,
                    texts={
                        language: text.format(brand=name) for language, text in CONSENT_TEXT.items()
                    },
                )
            )
            for index, key in enumerate(keys):
                names, descriptions, channels = TOPICS[key]
                db.session.add(
                    Topic(
                        brand_id=brand.id,
                        key=key,
                        position=index,
                        channels=channels,
                        names=dict(zip(("en", "fr", "de"), names, strict=True)),
                        descriptions=dict(zip(("en", "fr", "de"), descriptions, strict=True)),
                        shares_with_third_parties=key in SHARING,
                    )
                )
    return group, True


def _logo(name: str, colour: str) -> tuple[bytes, str]:
    """The house's monogram, through the check every uploaded logo passes."""
    content = monogram(name, colour)
    return check_logo(content, len(content))


def _give_logos(group: SiteGroup) -> None:
    houses = {slug: (name, colour) for slug, name, colour, _ in HOUSES}
    bare = [b for b in group.brands if b.slug in houses and b.logo_type is None]
    if not bare:
        return
    with commit_session():
        for brand in bare:
            brand.logo, brand.logo_type = _logo(*houses[brand.slug])
