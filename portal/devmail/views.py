"""The development mailbox: mails the worker wrote to MAILBOX_DIR instead of SMTP.

Registered only when PORTAL_ENV is development and no MAIL_SERVER is set, so a newcomer can
click the confirmation link of a mail without running a mail server.
"""

import email
import email.policy
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template

blueprint = Blueprint("devmail", __name__, url_prefix="/dev/mailbox")


def _folder() -> Path:
    return Path(current_app.config["MAILBOX_DIR"])


def _read(path: Path) -> dict:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return {
        "name": path.name,
        "to": message["To"],
        "sender": message["From"],
        "subject": message["Subject"],
        "date": message["Date"],
        "headers": list(message.items()),
        "text": text.get_content() if text else "",
        "html": html.get_content() if html else "",
    }


@blueprint.get("/")
def inbox():
    paths = sorted(_folder().glob("*.eml"), reverse=True) if _folder().exists() else []
    return render_template("devmail/inbox.html", mails=[_read(path) for path in paths[:200]])


def _path(name: str) -> Path:
    path = _folder() / name
    if "/" in name or not name.endswith(".eml") or not path.is_file():
        abort(404)
    return path


@blueprint.get("/<name>")
def show(name: str):
    return render_template("devmail/show.html", mail=_read(_path(name)))


@blueprint.get("/<name>/html")
def html_part(name: str):
    """The mail's HTML as a mail client would show it: its inline styles allowed, no script."""
    policy = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
    return (
        _read(_path(name))["html"],
        200,
        {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": policy,
            "X-Frame-Options": "SAMEORIGIN",
        },
    )
