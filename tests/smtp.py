"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

import email
import email.policy
import socket
import threading

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        with self.sink.lock:
            self.sink.raw.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


class _OnSocket(Controller):
    """aiosmtpd on a socket bound beforehand: the port is ours from the start, never a port
    found free and then taken by someone else before the server binds it."""

    def __init__(self, handler, bound: socket.socket, **options):
        super().__init__(handler, hostname="127.0.0.1", port=bound.getsockname()[1], **options)
        self.bound = bound

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.bound)


def _bind(port: int = 0) -> socket.socket:
    bound = socket.socket()
    bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    bound.bind(("127.0.0.1", port))
    return bound


class SMTPSink:
    """``smtputf8``: whether the server offers SMTPUTF8 (RFC 6531) in its EHLO answer;
    ``port``: 0 lets the system choose (the socket is kept until the server takes it)."""

    def __init__(self, port: int = 0, smtputf8: bool = False):
        self.smtputf8 = smtputf8
        self.bound = _bind(port) if port == 0 else None
        self.port = self.bound.getsockname()[1] if self.bound else port
        self.lock = threading.Lock()
        self.raw: list[tuple[str, list[str], bytes]] = []
        self.controller = None

    @property
    def running(self) -> bool:
        return self.controller is not None

    def start(self) -> None:
        # After an outage (``stop``) the port is bound again: the app is configured with it.
        bound, self.bound = self.bound or _bind(self.port), None
        self.controller = _OnSocket(_Handler(self), bound, enable_SMTPUTF8=self.smtputf8)
        self.controller.start()

    def stop(self) -> None:
        """Take the server down, as in an outage; ``start`` brings it back on the same port."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def clear(self) -> None:
        with self.lock:
            self.raw.clear()

    @property
    def messages(self) -> list[email.message.EmailMessage]:
        with self.lock:
            return [
                email.message_from_bytes(raw, policy=email.policy.default) for _, _, raw in self.raw
            ]

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [message for message in self.messages if message["To"] == address]


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()
