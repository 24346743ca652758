"""The import page: check a file (kept, encrypted, for the import that follows), then import
it or ask by mail, as a job the worker runs in batches; and a template file to start from."""

from flask import Response, abort, current_app, g, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage

from portal.admin import blueprint, brand_or_404, require
from portal.admin.forms import ImportForm
from portal.core.consent import imports
from portal.core.console import admins
from portal.core.kernel.errors import InvalidInput, NotFound
from portal.forms import refuse

TEMPLATE = (
    "email,topic,channel,consented_at,source,language\n"
    "anna@example.com,news,email,2024-05-01T10:00:00Z,old shop,en\n"
)


@blueprint.route("/import", methods=["GET", "POST"])
def import_subscribers():
    require("import")
    brands = [b for b in admins.visible_brands(g.admin) if b.archived_at is None]
    form, plan, held = ImportForm(), None, None
    form.brand.choices = [(str(b.id), b.name) for b in brands]
    if form.validate_on_submit():
        if form.mode.data == "run" and form.held.data:
            return _start(form.held.data)
        brand_id = form.brand_id()
        if brand_id is None:
            abort(404)
        brand = brand_or_404(brand_id)
        require("import", brand)
        try:
            text, filename = _upload(form.file.data)
            plan, held = imports.hold(
                g.admin, brand, text, filename, form.reconfirm.data, current_app.config["LANGUAGES"]
            )
        except InvalidInput as refused:
            refuse(form, {refused.field: refused.message})
    return render_template(
        "admin/import.html", brands=brands, form=form, plan=plan, held=held, columns=COLUMNS
    ), 422 if form.errors else 200


def _start(held: str):
    """The admin confirmed a checked file: the held job starts; its page shows progress."""
    try:
        job = imports.release(g.admin, int(held))
    except (ValueError, NotFound):
        abort(404)
    return redirect(url_for("admin.job", job_id=job.id))


@blueprint.get("/import/template.csv")
def import_template():
    require("import")
    return Response(
        TEMPLATE,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="import-template.csv"'},
    )


# Every column the import reads, whether it is required, and what it holds.
COLUMNS = (
    ("email", _l("required"), _l("The person's email address.")),
    ("topic", _l("required"), _l("The topic's key, as on the brand's topics page (like news).")),
    ("channel", _l("optional"), _l("email, sms or post; email when empty.")),
    (
        "consented_at",
        _l("required, unless asking by mail"),
        _l("When the person consented, like 2024-05-01T10:00:00Z; not in the future."),
    ),
    ("source", _l("optional"), _l("Where the consent was given (kept as evidence).")),
    ("language", _l("optional"), _l("en, fr or de; the group's language when empty.")),
)


def _upload(upload):
    if not isinstance(upload, FileStorage) or not upload.filename:
        raise InvalidInput("file", _l("Choose a CSV file."))
    limit = current_app.config["ADMIN_IMPORT_MAX_BYTES"]
    content = upload.stream.read(limit + 1)
    if len(content) > limit:
        raise InvalidInput(
            "file", _l("The file is too large (%(mb)s MB at most).", mb=limit // 2**20)
        )
    return imports.decode(content), upload.filename
