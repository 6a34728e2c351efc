"""What a request may write into the immutable log about who sent it and from where.

``x-ip`` must hold an IPv4 or IPv6 address. A forwarded chain ("client, proxy1, proxy2")
is accepted and keeps its first valid address, the client as the first proxy saw it;
what is stored is that address in its normal form ("2001:DB8::0:1" becomes
"2001:db8::1"), so nothing but an address ever reaches the log.

``user_id`` is at most 200 printable characters (no line breaks or other control
characters, which would let one log line pass for two), and never a name the system
records its own actions under.
"""

from __future__ import annotations

import ipaddress

from api.errors import ApiError, bad_request
from application.actors import is_reserved_actor

MAX_USER_ID = 200

INVALID_IP = (
    "x-ip must be an IP address (IPv4 or IPv6), or a comma-separated forwarded chain "
    "whose first valid address is kept"
)
X_IP_RULE = (
    "The client's IP address (IPv4 or IPv6), stored with every command for audit. A "
    "comma-separated forwarded chain (client, proxy1, ...) keeps its first valid address; "
    "the address is stored in its normal form. Missing: 403 auth error; holding no IP "
    "address: 400 invalid_ip, and nothing is stored."
)


def client_ip(header: str) -> str:
    """The first valid address of ``header``, normalised; 400 when it holds none."""
    for part in header.split(","):
        try:
            address = ipaddress.ip_address(part.strip())
        except ValueError:
            continue
        # A zone ("fe80::1%eth0") names an interface of the sender's host, with any text.
        if getattr(address, "scope_id", None) is None:
            return str(address)
    raise bad_request(INVALID_IP, "invalid_ip")


def user_id_problem(user_id: str) -> ApiError | None:
    """Why ``user_id`` may not act, as the 400 to answer; None when it may."""
    if len(user_id) > MAX_USER_ID:
        return bad_request(f"user_id must be at most {MAX_USER_ID} characters", "invalid_user_id")
    if not user_id.isprintable():
        return bad_request(
            "user_id must be printable (no line breaks or other control characters)",
            "invalid_user_id",
        )
    if is_reserved_actor(user_id):
        return bad_request(
            f"user_id {user_id.strip()!r} is reserved for the system's own actions",
            "reserved_user_id",
        )
    return None
