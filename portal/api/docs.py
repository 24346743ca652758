"""The contract, as JSON for tools and as a page for people (rendered here, no CDN)."""

import json

from flask import current_app, jsonify, render_template, request

from portal.api import blueprint, openapi


def _document() -> dict:
    return openapi.document(current_app, request.host_url.rstrip("/") + blueprint.url_prefix)


@blueprint.get("/openapi.json")
def openapi_json():
    return jsonify(_document())


@blueprint.get("/docs")
def docs():
    document = _document()
    operations = [
        {"method": method.upper(), "path": blueprint.url_prefix + path, "spec": spec}
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
    ]
    schemas = {
        name: json.dumps(schema, indent=2, ensure_ascii=False)
        for name, schema in document["components"]["schemas"].items()
    }
    return render_template(
        "api/docs.html",
        document=document,
        operations=operations,
        schemas=schemas,
        signatures=openapi.SIGNATURES,
    )
