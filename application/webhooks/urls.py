"""Which URLs a webhook may call: the one rule, checked at create and update and again
before every delivery (a name may resolve elsewhere by then: DNS rebinding).

Only ``https``, and only hosts whose every address is public (``is_global``): loopback,
private, link-local (cloud metadata at 169.254.169.254), shared (100.64/10), reserved
and multicast addresses are refused. ``allow_private`` lifts both (tests, receivers on
premises). A delivery then connects to the address checked here, not to a new lookup.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from application.webhooks.errors import InvalidWebhook

MAX_URL_LENGTH = 2000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """A URL split into what a delivery needs: the host for TLS and Host, and the address."""

    url: str
    host: str
    port: int
    address: str  # the checked IP address the delivery connects to


def check_shape(url: str, *, allow_private: bool) -> tuple[str, int]:
    """The URL's host and port, or InvalidWebhook for a URL no delivery may use."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhook(None, f"url: longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidWebhook(None, "url: not a valid URL") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise InvalidWebhook(None, "url: must use https")
    if not parts.hostname:
        raise InvalidWebhook(None, "url: has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhook(None, "url: must not carry credentials")
    if parts.fragment:
        raise InvalidWebhook(None, "url: must not have a fragment")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def is_public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_addresses(host: str, addresses: list[str], *, allow_private: bool) -> str:
    """The address to connect to, when every one the host resolved to may be called."""
    if not addresses:
        raise InvalidWebhook(None, f"url: host {host} does not resolve")
    if not allow_private:
        for text in addresses:
            if not is_public(ipaddress.ip_address(text.split("%", 1)[0])):
                raise InvalidWebhook(None, f"url: host {host} resolves to a non-public address")
    return addresses[0]


def literal(host: str) -> list[str] | None:
    """An IP literal is its own only address (no lookup); None for a name."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return None


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (an IP literal is its own), [] when none."""
    found = literal(host)
    if found is not None:
        return found
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_url(url: str, *, allow_private: bool) -> Target:
    """The whole rule, resolving the host now (blocking: call it off the event loop)."""
    host, port = check_shape(url, allow_private=allow_private)
    address = check_addresses(host, resolve(host, port), allow_private=allow_private)
    return Target(url, host, port, address)
