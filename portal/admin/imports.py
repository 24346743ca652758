"""The import upload form: check a file (dry run), then import it or ask by mail."""

import io

from flask import abort, current_app, g, render_template, request
from flask_babel import lazy_gettext as _l

from portal.admin import blueprint, brand_or_404, require
from portal.core.consent import imports
from portal.core.console import admins
from portal.core.kernel.errors import InvalidInput


@blueprint.route("/import", methods=["GET", "POST"])
def import_subscribers():
    require("import")
    brands = [b for b in admins.visible_brands(g.admin) if b.archived_at is None]
    errors, plan, outcome = {}, None, None
    if request.method == "POST":
        try:
            brand_id = int(request.form.get("brand", ""))
        except ValueError:
            abort(404)
        brand = brand_or_404(brand_id)
        require("import", brand)
        reconfirm = request.form.get("reconfirm") == "1"
        try:
            rows, filename = _upload()
            plan = imports.plan(brand, rows, reconfirm, current_app.config["LANGUAGES"])
            if request.form.get("mode") == "run":
                outcome = imports.run(g.admin, plan, filename)
        except InvalidInput as refused:
            errors = {refused.field: refused.message}
    return render_template(
        "admin/import.html",
        brands=brands,
        errors=errors,
        plan=plan,
        outcome=outcome,
        values=request.form,
    ), 422 if errors else 200


def _upload():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput("file", _l("Choose a CSV file."))
    limit = current_app.config["ADMIN_IMPORT_MAX_BYTES"]
    content = upload.stream.read(limit + 1)
    if len(content) > limit:
        raise InvalidInput(
            "file", _l("The file is too large (%(mb)s MB at most).", mb=limit // 2**20)
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("file", _l("The file must be CSV in UTF-8.")) from None
    return io.StringIO(text, newline=""), upload.filename
