"""Dashboards: figures of the whole group (or of the brands given to a brand admin), or of one
brand; the same figures as CSV. No personal data on these pages."""

from babel.dates import format_skeleton
from flask import g, render_template
from flask_babel import get_locale
from flask_babel import gettext as _

from portal.admin import blueprint, brand_or_404, require
from portal.admin.charts import weekly
from portal.core.console import admins, figures
from portal.core.integrations import erasure_requests


def _brands(brand_id: int | None):
    if brand_id is None:
        require("view_figures")
        return None, admins.visible_brands(g.admin)
    brand = brand_or_404(brand_id)
    require("view_figures", brand)
    return brand, [brand]


@blueprint.get("/")
def dashboard():
    return _page(None)


@blueprint.get("/brands/<int:brand_id>/figures")
def brand_figures(brand_id: int):
    return _page(brand_id)


def _charts(numbers) -> list:
    """Series that are compared share a chart and its scale: sign-ups with confirmations,
    opt-outs with erasures; imports on their own."""
    locale = get_locale()

    def label(week):
        return format_skeleton("MMMd", week, locale=locale)

    series = numbers.series
    return [
        weekly(
            "signups",
            _("Sign-ups and confirmations"),
            numbers.weeks,
            [(_("Sign-ups"), series["signups"]), (_("Confirmations"), series["confirmations"])],
            label,
        ),
        weekly(
            "optouts",
            _("Opt-outs and erasures"),
            numbers.weeks,
            [(_("Opt-outs"), series["optouts"]), (_("Erasures"), series["erasures"])],
            label,
        ),
        weekly(
            "imports",
            _("Imported consents"),
            numbers.weeks,
            [(_("Imported consents"), series["imports"])],
            label,
        ),
    ]


def _page(brand_id):
    brand, brands = _brands(brand_id)
    numbers = figures.compute([b.id for b in brands])
    return render_template(
        "admin/dashboard.html",
        brand=brand,
        brands=brands,
        figures=numbers,
        charts=_charts(numbers),
        active_total=sum(count for _topic, _channel, count in numbers.active),
        language=str(get_locale()),
        series_names=figures.SERIES,
        # Owners see the recipients' unanswered erasure requests (nothing personal in it).
        overdue_erasures=erasure_requests.overdue_count(g.admin.group_id)
        if brand is None and admins.can(g.admin, "view_erasures")
        else None,
    )


@blueprint.get("/figures.csv")
def figures_csv():
    return _csv(None)


@blueprint.get("/brands/<int:brand_id>/figures.csv")
def brand_figures_csv(brand_id: int):
    return _csv(brand_id)


def _csv(brand_id):
    brand, brands = _brands(brand_id)
    body = figures.as_csv(figures.compute([b.id for b in brands]), str(get_locale()))
    name = f"figures-{brand.slug if brand else g.admin.group.slug}.csv"
    return (
        body,
        200,
        {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )
