"""The change feed: consent events after a cursor, or from a moment."""

from datetime import UTC, datetime

from flask import Response, current_app, request, url_for

from portal.api import blueprint, examples
from portal.api.contract import operation
from portal.api.problems import Problem
from portal.core.integrations import cursors, feed

SINCE_EXAMPLE = "2026-03-01T09:30:00Z"


def _since(value: str) -> datetime:
    """An ISO 8601 date and time with its offset, in UTC; a 400 problem otherwise."""
    try:
        moment = datetime.fromisoformat(value.upper()) if len(value) <= 64 else None
        moment = moment.astimezone(UTC) if moment and moment.tzinfo else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None:
        raise Problem(
            400,
            f"since must be an ISO 8601 date and time with its offset, like {SINCE_EXAMPLE} "
            "(write a '+' offset as %2B in a URL).",
            "invalid-parameter",
            errors=[{"field": "since", "message": "not an ISO 8601 date-time with offset"}],
        )
    return moment


PARAMETERS = (
    {
        "name": "after",
        "in": "query",
        "required": False,
        "description": "next_cursor of the previous page (or an event id); none: the start",
        "schema": {"type": "string", "maxLength": 100, "pattern": cursors.PATTERN},
        "example": examples.CURSOR,
    },
    {
        "name": "since",
        "in": "query",
        "required": False,
        "description": "Start at the first event created at or after this time (ISO 8601 "
        "with its offset; '+' written %2B). With after: wherever is later of the two.",
        "schema": {"type": "string", "format": "date-time", "maxLength": 64},
        "example": SINCE_EXAMPLE,
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": feed.MAX_PAGE, "default": 100},
    },
)


@blueprint.get("/events")
@operation(
    operation_id="listEvents",
    reads_only=True,
    may_lag=True,
    summary="Consent events after a cursor, oldest first",
    scope="events:read",
    personal=True,
    ok="FeedPage",
    example=examples.FEED,
    params=PARAMETERS,
    errors=(400, 410, 422),
    headers={
        "Link": {
            "description": 'RFC 8288 `<...>; rel="next"`: the next page, while has_more is true.',
            "schema": {"type": "string"},
        }
    },
    links={"nextPage": ("listEvents", {"after": "$response.body#/next_cursor"})},
)
def events(client):
    after = request.args.get("after", "")
    since = request.args.get("since")
    raw_limit = request.args.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= feed.MAX_PAGE:
        raise Problem(
            422,
            f"limit must be a whole number from 1 to {feed.MAX_PAGE}.",
            "invalid-parameter",
            errors=[{"field": "limit", "message": "out of range"}],
        )
    if len(after) > 100:
        raise Problem(
            422,
            "This cursor was not issued by this feed.",
            "invalid-parameter",
            errors=[{"field": "after", "message": "unknown cursor"}],
        )
    if since is not None:
        # Both: the later of the two places, so neither bound is ever crossed.
        at = feed.cursor_at(client, _since(since))
        after = max(after, at, key=cursors.decode) if after else at
    limit = int(raw_limit)
    try:
        page = feed.page(client, after, limit)
    except feed.CursorExpired:
        days = current_app.config["EVENT_RETENTION_DAYS"]
        raise Problem(
            410,
            f"This cursor points before events deleted since (events are kept {days} days): "
            "start again with since=<a time> and reconcile what you hold, for example by "
            "looking up the people concerned.",
            "cursor-expired",
            errors=[{"field": "after", "message": "expired cursor"}],
        ) from None
    response = Response(page.body, mimetype="application/json")
    if page.has_more:
        # RFC 8288: the next page as a link, so a client can walk the feed by headers alone.
        following = url_for("api.events", after=page.next_cursor, limit=limit, _external=True)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response
