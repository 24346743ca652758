"""HTTP(S) POSTs to webhook receivers through one pooling client (httpx), connecting only to
addresses checked beforehand, with the URL's name kept for TLS and Host.

A plain client would resolve the name again when it connects, and a second answer (DNS
rebinding) could then point inside the network. Here every new connection goes through
``_PinnedBackend``, which asks ``destinations.pick`` for the address (every address the name
resolves to must be public) and connects to that one; TLS still checks the certificate against
the name, sent as SNI and in ``Host``. Kept-alive connections are reused per name, so a worker
sending many events to one receiver opens one connection, not one per event.

Each delivery has a deadline on the wall clock (``WEBHOOK_DELIVERY_SECONDS``): httpx's
timeouts bound each connect, write and read on its own, so a receiver answering one byte at a
time, each within the read timeout, could hold a worker for as long as it liked. Every
connection's reads and writes (``_DeadlineStream``) wait at most until the deadline of the
delivery under way, and fail with a timeout once it has passed.
"""

import contextvars
import threading
import time

import httpcore
import httpx
from flask import current_app

from portal.core.integrations import destinations

MAX_ANSWER = 64 * 1024  # the answer's body is not wanted; never wait for a huge one


# The monotonic time by which the delivery under way in this thread must be done, or None.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "webhook_deadline", default=None
)


def _within_deadline(timeout: float | None, late: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left of the delivery's deadline; ``late`` once past."""
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise late("the delivery's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the current delivery's deadline (a
    kept-alive connection serves several deliveries, each with its own)."""

    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes, timeout=None):
        return self._stream.read(max_bytes, _within_deadline(timeout, httpcore.ReadTimeout))

    def write(self, buffer, timeout=None):
        return self._stream.write(buffer, _within_deadline(timeout, httpcore.WriteTimeout))

    def close(self):
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info):
        return self._stream.get_extra_info(info)


class _PinnedBackend(httpcore.SyncBackend):
    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        address = destinations.pick(host, port)  # raises destinations.Refused, OSError
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        stream = super().connect_tcp(str(address), port, timeout, local_address, socket_options)
        return _DeadlineStream(stream)


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
    """The longest one delivery may take, whatever the receiver does: its deadline (what a
    lease must still cover before a delivery starts). Resolving the receiver's name comes
    before and is bounded by the system resolver's own timeouts."""
    return float(current_app.config["WEBHOOK_DELIVERY_SECONDS"])


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to ``url``; the HTTP status (redirects are answers, never followed).

    Raises ``destinations.Refused`` for an address inside the network, ``OSError`` when the
    receiver cannot be reached or does not answer in time: within each timeout, and in all
    by the delivery's deadline (``WEBHOOK_DELIVERY_SECONDS``).
    """
    token = _deadline.set(time.monotonic() + longest())
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
    finally:
        _deadline.reset(token)
