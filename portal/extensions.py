"""Extension instances, bound to the app in create_app()."""

import math
import time

from flask import request
from flask_babel import Babel
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

# Named constraints so that Alembic migrations are identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _render_type(type_, obj, autogen_context):
    """Migrations store our column types as what the database sees (no import of portal)."""
    if type_ == "type" and obj.__class__.__module__.startswith("portal."):
        return f"sa.{obj.impl!r}"
    return False


db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate(render_as_batch=True, compare_type=True, render_item=_render_type)
mail = Mail()
babel = Babel()
csrf = CSRFProtect()
htmx = HTMX()


def client_address() -> str:
    return request.remote_addr or "unknown"


# No X-RateLimit headers on every answer: reading the window for them costs two more storage
# round trips per request. Refused requests still say when to come back (``retry_after``).
limiter = Limiter(client_address, default_limits=[], headers_enabled=False)


def retry_after() -> dict[str, str]:
    """``Retry-After`` for a request the limiter refused: seconds until its window resets."""
    limit = limiter.current_limit
    if limit is None:
        return {}
    return {"Retry-After": str(max(1, math.ceil(limit.reset_at - time.time())))}
