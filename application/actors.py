"""The names the system records its own actions under, in the ``user_id`` of their events.

No token may claim one, so an event's actor tells a person from the system.
"""

from __future__ import annotations

PROCESSOR = "processor"  # the background processor's jobs (generation, archiving, ...)
SYSTEM = "system"  # a command run with no user in its context
DEMO = "demo"  # the ``nudgescribe demo`` command

RESERVED_ACTORS = frozenset({PROCESSOR, SYSTEM, DEMO})


def is_reserved_actor(user_id: str) -> bool:
    """Compared as a reader would: case and surrounding spaces do not make a new name."""
    return user_id.strip().casefold() in RESERVED_ACTORS
