"""The ceiling the API is measured against: the least a Flask endpoint can do for one lookup.

Same Flask, psycopg 3 and gunicorn settings as the portal, in its own gunicorn: a static
bearer check (``hmac.compare_digest``), one query by primary key on ``subject``, a JSON answer.
No ORM session, no limiter, no portal request hooks. One connection per worker thread, in
autocommit (no BEGIN/ROLLBACK). ``bench.api`` serves it as ``bench.bare:app`` and reads
BENCH_BARE_DATABASE (a libpq URL) and BENCH_BARE_KEY (the bearer key) from the environment.
"""

import hmac
import os
import threading

import psycopg
from flask import Flask, abort, jsonify, request

_EXPECTED = f"Bearer {os.environ.get('BENCH_BARE_KEY', '')}".encode()
_DATABASE = os.environ.get("BENCH_BARE_DATABASE", "")
_local = threading.local()

app = Flask(__name__)


def _connection() -> psycopg.Connection:
    connection = getattr(_local, "connection", None)
    if connection is None or connection.closed:
        connection = _local.connection = psycopg.connect(_DATABASE, autocommit=True)
    return connection


@app.get("/bare/<int:subject_id>")
def bare(subject_id: int):
    if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), _EXPECTED):
        abort(401)
    row = (
        _connection()
        .execute("SELECT id, status FROM subject WHERE id = %s", (subject_id,))
        .fetchone()
    )
    if row is None:
        abort(404)
    return jsonify({"id": row[0], "status": row[1]})
