"""What every page shares: the neutral home page, template helpers, per-group CSS."""

from flask import Flask, abort, g, redirect, render_template, request, url_for
from flask_babel import format_date, format_datetime, get_locale
from sqlalchemy import select
from sqlalchemy.orm import undefer

from portal.core.consent import labels
from portal.core.kernel.models.group import Brand, SiteGroup
from portal.extensions import db

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
        """Brand colours as CSS custom properties, so pages need no inline style (strict CSP)."""
        site_group = db.session.scalar(select(SiteGroup).where(SiteGroup.slug == group))
        if site_group is None:
            abort(404)
        css = render_template("brands.css", brands=site_group.brands)
        return (
            css,
            200,
            {"Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=300"},
        )

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

    @app.context_processor
    def helpers():
        return {
            "current_language": str(get_locale() or "en"),
            "languages": {"en": "English", "fr": "Français", "de": "Deutsch"},
            "page_languages": _page_languages,
            "format_date": format_date,
            "format_datetime": format_datetime,
            "language_url": lambda code: _with_lang(code),
            "signed_in": _signed_in,
            "countries": _countries,
            "consent_labels": labels,  # the words for channels, states, sources: one place
        }


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
    args = request.args.to_dict()
    args["lang"] = code
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def scope_to_group(blueprint) -> None:
    """Every route of ``blueprint`` lives under ``/<group>/``; ``g.group`` is that site group.

    Every query a view makes starts from ``g.group``, so nothing of another group is reachable.
    """

    @blueprint.url_value_preprocessor
    def load_group(endpoint, values):
        slug = (values or {}).pop("group", None)
        group = db.session.scalar(select(SiteGroup).where(SiteGroup.slug == slug))
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
