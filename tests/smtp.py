"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

import email
import email.policy
import threading

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        with self.sink.lock:
            self.sink.raw.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


class SMTPSink:
    """``smtputf8``: whether the server offers SMTPUTF8 (RFC 6531) in its EHLO answer."""

    def __init__(self, port: int, smtputf8: bool = False):
        self.port, self.smtputf8 = port, smtputf8
        self.lock = threading.Lock()
        self.raw: list[tuple[str, list[str], bytes]] = []
        self.controller = None

    @property
    def running(self) -> bool:
        return self.controller is not None

    def start(self) -> None:
        self.controller = Controller(
            _Handler(self), hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=self.smtputf8
        )
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
