"""An HTTP(S) POST to one address checked beforehand, with the URL's name kept for TLS and Host.

``urllib`` would resolve the name again when it connects, and a second answer (DNS rebinding)
could then point inside the network. Here the connection goes to the address ``destinations``
approved; the certificate is still checked against the name, sent as SNI and in ``Host``.
"""

import http.client
import socket
import ssl
from urllib.parse import urlsplit

from portal.core.integrations import destinations


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((str(self.address), self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(_PinnedHTTP):
    default_port = 443

    def connect(self):
        super().connect()
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(self.sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body`` to ``url``; the HTTP status (redirects are answers, never followed).

    Raises ``destinations.Refused`` for an address inside the network, ``OSError`` when the
    receiver cannot be reached.
    """
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    address = destinations.pick(parts.hostname or "", port)
    kind = _PinnedHTTPS if secure else _PinnedHTTP
    connection = kind(parts.hostname, port, address, timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # the answer's body is not wanted; do not wait for a huge one
        return response.status
    except http.client.HTTPException as error:
        raise OSError("not an HTTP answer") from error
    finally:
        connection.close()
