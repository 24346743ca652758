"""What every page shares: the neutral home page, template helpers, per-group CSS."""

import hashlib
from datetime import UTC
from urllib.parse import urlencode

from flask import Flask, abort, g, redirect, render_template, request, url_for
from flask_babel import format_date, format_datetime, format_time, get_locale
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import joinedload, undefer
from werkzeug.routing import BuildError

from portal.core.consent import labels
from portal.core.kernel import clock
from portal.core.kernel.models.group import Brand, SiteGroup
from portal.extensions import db

LANGUAGE_NAMES = {"en": "English", "fr": "Français", "de": "Deutsch"}  # each in itself

# When the portal began honouring Global Privacy Control (the gpc.json "lastUpdate").
GPC_SUPPORT_SINCE = "2026-11-23"


def init_app(app: Flask) -> None:
    @app.get("/")
    def index():
        """The default group, or the only one; otherwise a neutral page. The groups an
        installation hosts are not listed: each brand links to its own group's pages."""
        slug = app.config["PORTAL_DEFAULT_GROUP"]
        if slug:
            return redirect(url_for("signup.home", group=slug))
        slugs = db.session.scalars(select(SiteGroup.slug).limit(2)).all()
        if len(slugs) == 1:
            return redirect(url_for("signup.home", group=slugs[0]))
        return render_template("groups.html")

    @app.get("/.well-known/gpc.json")
    def gpc():
        """Global Privacy Control support resource (GPC specification, section 3.5)."""
        return {"gpc": True, "lastUpdate": GPC_SUPPORT_SINCE}

    @app.get("/<group>/brands.css")
    def brand_styles(group: str):
        """Brand colours as CSS custom properties, so pages need no inline style (strict CSP).

        Pages link it with ``?v=`` the version of the brands' colours (``brand_styles_url``):
        a changed or new brand changes the address, so a browser never keeps an old copy, and
        the versioned address may be kept for a year."""
        site_group = db.session.scalar(select(SiteGroup).where(SiteGroup.slug == group))
        if site_group is None:
            abort(404)
        brands = [(brand, ink_on(brand.colour)) for brand in site_group.brands]
        css = render_template("brands.css", brands=brands)
        current = request.args.get("v") == brand_styles_version(site_group)
        cache = "public, max-age=31536000, immutable" if current else "no-cache"
        return css, 200, {"Content-Type": "text/css; charset=utf-8", "Cache-Control": cache}

    @app.get("/<group>/logos/<brand>")
    def brand_logo(group: str, brand: str):
        """A brand's logo (checked PNG or JPEG), for its pages and the console."""
        found = db.session.scalar(
            select(Brand)
            .join(SiteGroup)
            .where(SiteGroup.slug == group, Brand.slug == brand)
            .options(undefer(Brand.logo))
        )
        if found is None or not found.logo:
            abort(404)
        return (
            found.logo,
            200,
            {
                "Content-Type": found.logo_type,
                "Cache-Control": "public, max-age=300",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @app.get("/<group>/logo")
    def group_logo(group: str):
        """The site group's own logo (checked PNG or JPEG), on its home page."""
        found = db.session.scalar(
            select(SiteGroup).where(SiteGroup.slug == group).options(undefer(SiteGroup.logo))
        )
        if found is None or not found.logo:
            abort(404)
        return (
            found.logo,
            200,
            {
                "Content-Type": found.logo_type,
                "Cache-Control": "public, max-age=300",
                "X-Content-Type-Options": "nosniff",
            },
        )

    app.jinja_env.filters["on_dark"] = on_dark

    @app.context_processor
    def helpers():
        return {
            "current_language": str(get_locale() or "en"),
            "languages": LANGUAGE_NAMES,
            "page_languages": _page_languages,
            "format_date": format_date,
            "format_datetime": format_datetime,
            "format_moment": format_moment,
            "language_url": lambda code: _with_lang(code),
            "brand_styles_url": brand_styles_url,
            "signed_in": _signed_in,
            "countries": _countries,
            "consent_labels": labels,  # the words for channels, states, sources: one place
            "time_zone_chosen": _time_zone_chosen,
        }


def _time_zone_chosen() -> bool:
    """Whether the reader chose the zone dates are shown in (an admin, in My account): then
    static/timezone.js leaves the page's dates as they are."""
    admin = g.get("admin")
    return bool(admin is not None and admin.time_zone and clock.known_zone(admin.time_zone))


def format_moment(moment) -> Markup:
    """A moment as a reader wants it: date and time in their language and time zone, naming
    the zone ("1 Dec 2026, 13:26 UTC", "1 déc. 2026, 14:26 UTC+01:00"): the zone's short name
    where the language has one, else its offset. The zone is the reader's (see
    ``portal.select_time_zone``), else the portal's BABEL_DEFAULT_TIMEZONE.

    In a ``<time datetime>`` element with the moment in UTC: on a browser's first page,
    before the server knows its zone, static/timezone.js rewrites it in the browser's zone."""
    day, time = format_date(moment, "medium"), format_time(moment, "short")
    zone = format_time(moment, "z")
    if not zone.isalpha():
        zone = format_time(moment, "ZZZZ")
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return Markup('<time datetime="{}" data-moment>{}</time>').format(
        utc.strftime("%Y-%m-%dT%H:%M:%SZ"), f"{day}, {time} {zone}"
    )


def brand_styles_version(group: SiteGroup) -> str:
    """A short digest of what brands.css says: it changes with any brand's slug or colour."""
    said = ";".join(f"{brand.slug}:{brand.colour}" for brand in group.brands)
    return hashlib.sha256(said.encode()).hexdigest()[:12]


def brand_styles_url(group: SiteGroup) -> str:
    return url_for("brand_styles", group=group.slug, v=brand_styles_version(group))


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``colour`` (#rrggbb); ValueError for anything else."""
    red, green, blue = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


def contrast(one: str, other: str) -> float:
    """WCAG 2 contrast ratio of two colours (#rrggbb)."""
    light, dark = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# The card of a mail in dark mode (mail/_dark.html): links on it must keep 4.5:1 (WCAG 1.4.3).
MAIL_DARK_CARD = "#24211f"


def on_dark(colour: str | None, background: str = MAIL_DARK_CARD) -> str:
    """``colour`` lightened (mixed with white, in steps of a tenth) until text in it reads on
    ``background``: a house's dark colour as a link in a mail shown in dark mode."""
    try:
        red, green, blue = (int((colour or "")[i : i + 2], 16) for i in (1, 3, 5))
    except ValueError:
        return "#ffffff"
    for step in range(11):
        mixed = "#" + "".join(f"{c + (255 - c) * step // 10:02x}" for c in (red, green, blue))
        if contrast(mixed, background) >= 4.5:
            return mixed
    return "#ffffff"


def ink_on(colour: str | None) -> str:
    """The text colour that reads on ``colour`` (#rrggbb): white, or near black on a light one,
    whichever has the higher WCAG contrast."""
    try:
        luminance = _luminance(colour or "")
    except ValueError:
        return "#fff"
    on_white = 1.05 / (luminance + 0.05)
    on_black = (luminance + 0.05) / (0.0145 + 0.05)  # #1f2328
    return "#fff" if on_white >= on_black else "#1f2328"


def _countries() -> list[tuple[str, str]]:
    """Country codes a postal address may have, with their names in the page's language."""
    from babel import Locale

    from portal.core.people.profile import COUNTRIES

    names = Locale.parse(str(get_locale() or "en")).territories
    return sorted(((code, names.get(code, code)) for code in COUNTRIES), key=lambda c: c[1])


def _page_languages() -> list[str]:
    from portal import page_languages

    return page_languages()[0]


def _signed_in() -> bool:
    from portal import sessions as access

    return access.current() is not None


def _with_lang(code: str) -> str:
    """This page in language ``code``. After a form was sent, or on an error page, the page's
    address is asked for again (a GET); an address that answers only to POST leads to the
    nearest home page instead (the console's, or the site group's)."""
    args = request.args.to_dict()
    args["lang"] = code
    rule = request.url_rule
    if rule is not None and "GET" in (rule.methods or ()):
        try:
            return url_for(request.endpoint, **(request.view_args or {}), **args)
        except BuildError:  # a page refused before its group was known
            return f"{request.path}?{urlencode(args)}"
    if rule is None:  # no page here (404): the same address, in the other language
        return f"{request.path}?{urlencode(args)}"
    if request.blueprint == "admin":
        return url_for("admin.dashboard", lang=code)
    group = g.get("group")
    if group is not None:
        return url_for("signup.home", group=group.slug, lang=code)
    return url_for("index", lang=code)


def scope_to_group(blueprint) -> None:
    """Every route of ``blueprint`` lives under ``/<group>/``; ``g.group`` is that site group.

    Every query a view makes starts from ``g.group``, so nothing of another group is reachable.
    """

    @blueprint.url_value_preprocessor
    def load_group(endpoint, values):
        slug = (values or {}).pop("group", None)
        # With its brands in the same query: every page's brands.css address is worked out
        # from their colours (brand_styles_url), and the page costs no query more for it.
        group = (
            db.session.execute(
                select(SiteGroup)
                .where(SiteGroup.slug == slug)
                .options(joinedload(SiteGroup.brands))
            )
            .unique()
            .scalar_one_or_none()
        )
        if group is None:
            abort(404)
        g.group = group

    @blueprint.url_defaults
    def add_group(endpoint, values):
        if "group" not in values and getattr(g, "group", None) is not None:
            values["group"] = g.group.slug


def client_origin(source: str, actor: str = "subject", evidence: dict | None = None):
    """The ledger's Origin for a change made through this request.

    A Global Privacy Control signal (``Sec-GPC: 1``, exactly "1" as the specification says)
    is recorded as evidence with every change it accompanies; the core acts on it.
    """
    from portal.core.consent.changes import Origin

    if request.headers.get("Sec-GPC") == "1":
        evidence = {**(evidence or {}), "gpc": True}
    return Origin(
        source=source,
        actor=actor,
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
        evidence=evidence,
    )
