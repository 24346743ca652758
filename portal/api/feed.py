"""The change feed: consent events after a cursor."""

from flask import Response, request

from portal.api import blueprint
from portal.api.auth import requires
from portal.api.problems import Problem
from portal.core.integrations import feed


@blueprint.get("/events")
@requires("events:read", personal=True)
def events(client):
    after = request.args.get("after", "")
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
    return Response(feed.page(client, after, int(raw_limit)), mimetype="application/json")
