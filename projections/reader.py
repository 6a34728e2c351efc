"""The log as the projectors read it: a window of positions, read in one snapshot and
decoded once into ``Event``s.

The stored state is the event's JSON as the store wrote it. Typed values at its top level
(``{"_type_": "uuid_hex" | "datetime_iso" | "decimal_str", "_data_": text}``) become
``UUID``, ``datetime`` and ``Decimal``; nested values (a segment's values, an AI config)
stay as stored, which is what the read models keep of them. PostgreSQL refuses NUL in
text and jsonb, so an escaped NUL becomes U+FFFD, a visible stand-in. A state stored at
an older version of its event type is upcast to the current one (``domain.versions``), so
the projectors only ever see current events.
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

from domain.versions import upcast

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
    """A stored event, decoded. Its typed fields are decoded when read (most handlers read
    only a few of them)."""

    position: int
    campaign_id: UUID
    type: str  # the event class name, e.g. "RunStarted"
    timestamp: datetime
    data: dict[str, Any]  # the stored state, typed values still encoded

    def __getitem__(self, field: str) -> Any:
        value = self.data[field]
        return typed(value) if type(value) is dict else value

    def get(self, field: str) -> Any:
        return typed(self.data.get(field))


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
    """The stored state as a dict, its typed values still encoded (see ``typed``)."""
    if b"\\u0000" in state:
        state = _ESCAPED_NUL.sub(rb"\1\\ufffd", state)
    return orjson.loads(state)  # type: ignore[no-any-return]


def to_event(position: int, campaign_id: UUID, topic: str, state: bytes) -> Event:
    data = decode(state)
    data.pop("_meta", None)  # who and where: the log's concern, not the read models'
    moment = typed(data.pop("timestamp"))
    upcast(topic, data)
    return Event(position, campaign_id, topic.rpartition(".")[2], moment, data)


def typed(value: Any) -> Any:
    """A top-level value of a stored state, its typed encoding decoded."""
    if type(value) is dict and len(value) == 2 and "_type_" in value:
        decoder = _TYPED.get(value["_type_"])
        if decoder is not None:
            return decoder(value["_data_"])
    return value


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
    campaign_ids: dict[UUID, UUID] = {}  # one id object per campaign: fewer objects kept
    events = [
        to_event(position, campaign_ids.setdefault(campaign_id, campaign_id), topic, state)
        for position, _, campaign_id, topic, state in stored
    ]
    if head > end:
        return Window(events, end, head - end)
    return Window(events, events[-1].position if events else None, 0)
