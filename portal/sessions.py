"""The signed-in session of the preference centre, for views: start, read, end, require.

The session cookie holds only the subject id, the group id, the access level and two times.
It ends after SESSION_IDLE_MINUTES without a request (checked here against the core's clock,
not only by the cookie's expiry) and with "Sign out". Opening a link for another person
ends the current session first.
"""

from datetime import UTC, datetime
from functools import wraps

from flask import current_app, g, redirect, request, session, url_for

from portal.core.kernel import clock
from portal.core.people import access
from portal.core.people.models.subject import Subject
from portal.extensions import db

KEY = "access"


def start(subject: Subject, level: str) -> None:
    """Sign ``subject`` in; a session of someone else (or of a lower level) is ended first."""
    held = session.get(KEY) or {}
    same = held.get("s") == subject.id and held.get("g") == subject.group_id
    if same and access.allows(held.get("l"), level):
        level = held["l"]  # the footer link must not lower a fresh magic link's level
    end()
    session.permanent = True
    now = clock.now().timestamp()
    session[KEY] = {"s": subject.id, "g": subject.group_id, "l": level, "at": now, "seen": now}


def end() -> None:
    """Forget everything but the chosen language."""
    language = session.get("lang")
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF caches the form token per context: make a new one
    if language:
        session["lang"] = language


def current() -> dict | None:
    """The live session of this group, refreshed; None when signed out, idle or elsewhere."""
    held = session.get(KEY)
    group = getattr(g, "group", None)
    if not isinstance(held, dict) or group is None or held.get("g") != group.id:
        return None
    seen = datetime.fromtimestamp(held.get("seen", 0), UTC)
    if access.is_idle(seen, current_app.config["SESSION_IDLE_MINUTES"]):
        session.pop(KEY, None)  # only the sign-in: a form token made in this request stays valid
        return None
    held["seen"] = clock.now().timestamp()
    session[KEY] = held
    return held


def subject() -> Subject | None:
    held = current()
    if held is None:
        return None
    found = db.session.get(Subject, held["s"])
    if found is None or found.group_id != held["g"] or found.status == "erased":
        end()
        return None
    return found


def safe_next(path: str | None) -> str | None:
    """Only a path inside this group may be where a link returns to (no open redirect)."""
    group = getattr(g, "group", None)
    if not path or group is None or "\\" in path or "//" in path:
        return None
    return path if path.startswith(f"/{group.slug}/") else None


def require(level: str):
    """Views decorated with this run only for a signed-in subject (``g.subject``) whose
    session holds ``level``; others are sent to sign in, or to ask for a fresh link."""

    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            found = subject()
            here = request.full_path.rstrip("?") if request.method == "GET" else None
            if found is None:
                return redirect(url_for("preferences.sign_in", next=here))
            if not access.allows(current()["l"], level):
                return redirect(url_for("preferences.fresh_link", next=here))
            g.subject = found
            g.access_level = current()["l"]
            return view(*args, **kwargs)

        return wrapped

    return decorate
