"""Event versions: what each event type's stored state looks like now, and how older
stored states are brought up to it.

Every event class has a version, ``class_version`` (1 unless the class says otherwise).
The library's mapper writes it into a stored state when it is above 1 and, reading a
state of an older version, applies the class's ``upcast_vN_vN+1(state)`` static methods
in turn. Readers that decode the stored JSON themselves (the projections, the export)
call ``upcast`` below, so every reader applies the same upcasters: each change of shape
is defined once, on its event class.

An upcaster changes the shape of the state (adds, renames, removes fields, fills in a
default) and never decodes a value: the mapper hands it values decoded (UUIDs, datetimes),
the projections and the export hand them as stored.
"""

from __future__ import annotations

from dataclasses import fields
from functools import cache
from typing import Any

from eventsourcing.utils import TopicError, resolve_topic

from domain.campaign import Campaign

VERSION_KEY = "class_version"  # where the library writes a version above 1
# Fields of every event that the log's columns (or the export's line) carry, not its data.
ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


def event_classes() -> dict[str, type[Campaign.Event]]:
    """Every event type the Campaign aggregate records, by name."""
    return {
        name: value
        for name, value in vars(Campaign).items()
        if isinstance(value, type)
        and issubclass(value, Campaign.Event)
        and value not in (Campaign.Event, Campaign.Created)  # the bases
    }


def version_of(event_class: type[Any]) -> int:
    return int(getattr(event_class, VERSION_KEY, 1))


def data_fields(event_class: type[Any]) -> list[str]:
    """The fields of the event's data in its current version, in stored order."""
    return [f.name for f in fields(event_class) if f.name not in ENVELOPE]


@cache
def _class(topic: str) -> type[Any] | None:
    try:
        return resolve_topic(topic)  # type: ignore[no-any-return]
    except TopicError:  # a topic this code no longer knows: read as stored
        return None


def stored_version(state: dict[str, Any]) -> int:
    """The version a state was stored at: 1 without a version member (the library writes
    one from version 2 on), else that member; 0 when the member is no such version."""
    if VERSION_KEY not in state:
        return 1
    version = state[VERSION_KEY]
    return version if type(version) is int and version >= 2 else 0


def current_version(topic: str) -> int:
    event_class = _class(topic)
    return 1 if event_class is None else version_of(event_class)


def upcast(topic: str, state: dict[str, Any]) -> dict[str, Any]:
    """The stored state brought to the current version of its type, in place and without
    the version member, as the library's mapper does it. A state that is not at a version
    of its type this code knows (a newer one, an odd version member) is left as stored."""
    version, current = stored_version(state), current_version(topic)
    if not 1 <= version <= current:
        return state
    state.pop(VERSION_KEY, None)
    event_class = _class(topic)
    while version < current:
        getattr(event_class, f"upcast_v{version}_v{version + 1}")(state)
        version += 1
    return state
