"""Where a webhook may be sent: public internet addresses only, checked twice.

A webhook URL is a request the portal makes on a client's behalf, so it must never reach the
portal's own network (server-side request forgery): loopback, private, shared, link-local,
multicast, reserved and cloud-metadata destinations are refused when a URL is registered and
again when the worker resolves it, and the worker connects to exactly the address it checked,
so a name that resolves differently the second time (DNS rebinding) gains nothing.

``WEBHOOKS_ALLOW_INSECURE`` (development and testing only) lets http:// receivers on loopback
through; nothing else opens.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from flask import current_app

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that mean "this machine" or a cloud provider's metadata service whatever they resolve to.
_NAMES = ("localhost", "metadata.google.internal", "metadata.goog", "instance-data")
# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64, RFC 6052 / 8215).
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class Refused(Exception):
    """The destination is not a public internet address (the message says why, for the log)."""


def _embedded(address: Address) -> Address | None:
    """The IPv4 address hidden in an IPv6 one (mapped, 6to4, NAT64), if any."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    """A unicast address of the public internet: not loopback, private, shared (CGNAT),
    link-local (where cloud metadata lives), multicast, reserved or unspecified."""
    inner = _embedded(address)
    if inner is not None and not is_public(inner):
        return False
    return address.is_global and not address.is_multicast


def _allowed(address: Address) -> bool:
    inner = _embedded(address) or address
    loopback_ok = current_app.config["WEBHOOKS_ALLOW_INSECURE"]
    return is_public(address) or (loopback_ok and inner.is_loopback)


def literal(host: str) -> Address | None:
    """``host`` as an IP address if it is one in any form a resolver accepts: dotted, decimal
    (2130706433), octal (0177.0.0.1), hexadecimal (0x7f.1), short (127.1) or IPv6."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))  # the C library's own reading
    except OSError:
        return None


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to now (empty when it does not resolve)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [ipaddress.ip_address(entry[4][0].split("%", 1)[0]) for entry in found]


def _check_name(host: str) -> None:
    name = host.rstrip(".").lower()
    names = _NAMES[1:] if current_app.config["WEBHOOKS_ALLOW_INSECURE"] else _NAMES
    if any(name == bad or name.endswith("." + bad) for bad in names):
        raise Refused(f"{host} names this machine or a metadata service")


def check_registration(url: str) -> None:
    """Raise ``Refused`` when ``url`` points inside the network, as far as can be told now.

    A name that does not resolve yet is accepted: the worker checks again before each delivery.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    _check_name(host)
    fixed = literal(host)
    addresses = [fixed] if fixed is not None else resolve(host, parts.port or 443)
    for address in addresses:
        if not _allowed(address):
            raise Refused(f"{host} is {address}, not a public address")


def pick(host: str, port: int) -> Address:
    """The address to connect to for ``host``: every address it resolves to must be allowed
    (a name that answers with one public and one private address is refused), and the first
    is returned, for the caller to connect to that one and no other. OSError when ``host``
    does not resolve."""
    _check_name(host)
    fixed = literal(host)
    addresses = [fixed] if fixed is not None else resolve(host, port)
    if not addresses:
        raise OSError(f"{host} does not resolve")
    for address in addresses:
        if not _allowed(address):
            raise Refused(f"{host} is {address}, not a public address")
    return addresses[0]
