"""The log as the projectors read it: a window of positions, read in one snapshot and
decoded once into ``Event``s.

The stored state is the event's JSON as the store wrote it. Typed values at its top level
(``{"_type_": "uuid_hex" | "datetime_iso" | "decimal_str", "_data_": text}``) become
``UUID``, ``datetime`` and ``Decimal``; nested values (a segment's values, an AI config)
stay as stored, which is what the read models keep of them. PostgreSQL refuses NUL in
text and jsonb, so an escaped NUL becomes U+FFFD, a visible stand-in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any
from uuid import UUID

import orjson
from psycopg import Cursor, sql

EVENTS_TABLE = "nudgescribe_events"
CHANNEL = "nudgescribe_events"
MAX_POSITION = 2**63 - 1

_ESCAPED_NUL = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")
_TYPED: dict[str, Any] = {
    "uuid_hex": lambda data: UUID(hex=data),
    "datetime_iso": datetime.fromisoformat,
    "decimal_str": Decimal,
}


@dataclass(frozen=True, slots=True)
class Event:
    position: int
    campaign_id: UUID
    type: str  # the event class name, e.g. "RunStarted"
    data: dict[str, Any]

    @property
    def timestamp(self) -> datetime:
        return self.data["timestamp"]  # type: ignore[no-any-return]

    def __getitem__(self, field: str) -> Any:
        return self.data[field]

    def get(self, field: str) -> Any:
        return self.data.get(field)


@dataclass(frozen=True)
class Window:
    """The events at positions (``after``, ``done``], and how many more were waiting."""

    events: list[Event]
    done: int | None  # the position the window completes (None: nothing to do)
    waiting: int  # positions after the window that the log held (up to its bound)

    @property
    def more(self) -> bool:
        return self.waiting > 0


def decode(state: bytes) -> dict[str, Any]:
    if b"\\u0000" in state:
        state = _ESCAPED_NUL.sub(rb"\1\\ufffd", state)
    data: dict[str, Any] = orjson.loads(state)
    for field, value in data.items():
        if type(value) is dict and "_type_" in value and len(value) == 2:
            typed = _TYPED.get(value["_type_"])
            if typed is not None:
                data[field] = typed(value["_data_"])
    return data


# One range scan of the log's index, and in the same snapshot the last position up to the
# bound (a row of its own, first). Appends commit in position order, so when the log holds
# anything after the window every position in it has committed or rolled back for good:
# the window is done even where it held gaps. Rows are sorted by the client: the server
# would sort the states too, which spills to disk for a large window.
_READ = sql.SQL(
    "SELECT NULL::bigint, max(notification_id), NULL::uuid, NULL::text, NULL::bytea"
    " FROM {events} WHERE notification_id <= %(upto)s UNION ALL"
    " (SELECT notification_id, NULL, originator_id, topic, state FROM {events}"
    " WHERE notification_id > %(after)s AND notification_id <= %(end)s)"
).format(events=sql.Identifier(EVENTS_TABLE))


def read_window(cur: Cursor[Any], after: int, limit: int, upto: int | None = None) -> Window:
    """Read and decode the events at positions ``after`` + 1 to ``after`` + ``limit``."""
    bound = MAX_POSITION if upto is None else upto
    end = min(bound, after + limit)
    params = {"after": after, "end": end, "upto": bound}
    rows = cur.execute(_READ, params, binary=True).fetchall()
    head_row = next(row for row in rows if row[0] is None)
    head = head_row[1] or 0
    stored = sorted((row for row in rows if row[0] is not None), key=itemgetter(0))
    events = [
        Event(position, campaign_id, topic.rpartition(".")[2], decode(state))
        for position, _, campaign_id, topic, state in stored
    ]
    if head > end:
        return Window(events, end, head - end)
    return Window(events, events[-1].position if events else None, 0)
