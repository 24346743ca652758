"""HTTP(S) POSTs to webhook receivers through one pooling client (httpx), connecting only to
addresses checked beforehand, with the URL's name kept for TLS and Host.

A plain client would resolve the name again when it connects, and a second answer (DNS
rebinding) could then point inside the network. Here every new connection goes through
``_PinnedBackend``, which asks ``destinations.pick`` for the address (every address the name
resolves to must be public) and connects to that one; TLS still checks the certificate against
the name, sent as SNI and in ``Host``. Kept-alive connections are reused per name, so a worker
sending many events to one receiver opens one connection, not one per event.
"""

import threading

import httpcore
import httpx
from flask import current_app

from portal.core.integrations import destinations

MAX_ANSWER = 64 * 1024  # the answer's body is not wanted; never wait for a huge one


class _PinnedBackend(httpcore.SyncBackend):
    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        address = destinations.pick(host, port)  # raises destinations.Refused, OSError
        return super().connect_tcp(str(address), port, timeout, local_address, socket_options)


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's transport with a pool whose connections go through ``_PinnedBackend`` (httpx
    takes no network backend of its own, so the pool is made here as httpx makes it)."""

    def __init__(self, limits: httpx.Limits):
        super().__init__(limits=limits, trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=_PinnedBackend(),
        )


_client: httpx.Client | None = None
_lock = threading.Lock()


def client() -> httpx.Client:
    """This process's pooling client, made on first use."""
    global _client
    with _lock:
        if _client is None:
            limits = httpx.Limits(max_connections=50, max_keepalive_connections=20)
            _client = httpx.Client(
                transport=_PinnedTransport(limits), follow_redirects=False, trust_env=False
            )
        return _client


def close() -> None:
    """Close the pooled connections (a worker stopping)."""
    global _client
    with _lock:
        if _client is not None:
            _client.close()
            _client = None


def timeouts() -> httpx.Timeout:
    config = current_app.config
    connect, read = config["WEBHOOK_CONNECT_TIMEOUT"], config["WEBHOOK_READ_TIMEOUT"]
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def longest() -> float:
    """The longest one delivery may take: connecting, then sending and each read waiting for
    its timeout (what a lease must still cover before a delivery starts)."""
    config = current_app.config
    return config["WEBHOOK_CONNECT_TIMEOUT"] * 2 + config["WEBHOOK_READ_TIMEOUT"] * 3


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url``; the HTTP status (redirects are answers, never followed).

    Raises ``destinations.Refused`` for an address inside the network, ``OSError`` when the
    receiver cannot be reached or does not answer in time.
    """
    try:
        with client().stream(
            "POST", url, content=body, headers=headers, timeout=timeouts()
        ) as response:
            read = 0
            for chunk in response.iter_raw():
                read += len(chunk)
                if read >= MAX_ANSWER:
                    break
            return response.status_code
    except httpx.InvalidURL as error:
        raise ValueError(str(error)) from error
    except httpx.HTTPError as error:
        raise OSError(f"{type(error).__name__}: {error}") from error
