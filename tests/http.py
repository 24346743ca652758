"""The app served over real HTTP from a thread, and a raw client that sends what it is told.

``http.client`` is used rather than the test client so that a chunked body really travels
chunked and headers arrive as bytes on the wire, as a stranger's client would send them.
"""

import contextlib
import http.client
import threading
from dataclasses import dataclass

from werkzeug.serving import make_server


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    headers: dict


@contextlib.contextmanager
def served(app):
    """``app`` on a free loopback port; yields the port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join()


def send(port, method, path, body=b"", headers=None, chunked=False) -> Answer:
    """One request on a fresh connection; ``chunked`` sends the body in 64 KiB chunks."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            for start in range(0, len(body), 65536):
                part = body[start : start + 65536]
                connection.send(b"%x\r\n%s\r\n" % (len(part), part))
            connection.send(b"0\r\n\r\n")
        else:
            if body or method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
        response = connection.getresponse()
        return Answer(
            response.status,
            response.getheader("Content-Type", ""),
            response.read(),
            dict(response.getheaders()),
        )
    finally:
        connection.close()
