"""Events as the projectors see them, read straight from the log and decoded here.

The log's state is the library's JSON, with typed values transcoded as
``{"_type_": ..., "_data_": ...}``. Projections do not import the application, so this
module decodes the three transcodings the domain's events use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from psycopg import Cursor, sql

EVENTS_TABLE = "nudgescribe_events"
CHANNEL = "nudgescribe_events"

_DECODERS: dict[str, Callable[[Any], Any]] = {
    "uuid_hex": UUID,
    "datetime_iso": datetime.fromisoformat,
    "decimal_str": Decimal,
}


def decode_value(value: Any) -> Any:
    """Decode transcoded values anywhere inside ``value``; unknown types pass their data."""
    if isinstance(value, dict):
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            decoder = _DECODERS.get(value["_type_"])
            return decoder(value["_data_"]) if decoder else decode_value(value["_data_"])
        return {key: decode_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    return value


def decode_state(state: bytes) -> dict[str, Any]:
    decoded = decode_value(orjson.loads(state))
    assert isinstance(decoded, dict)
    return decoded


@dataclass(frozen=True)
class Event:
    position: int
    campaign_id: UUID
    version: int
    type: str  # the event class name, e.g. "RunStarted"
    data: dict[str, Any]

    @property
    def timestamp(self) -> datetime:
        value = self.data["timestamp"]
        assert isinstance(value, datetime)
        return value


def event_type(topic: str) -> str:
    return topic.rpartition(".")[2]


_READ = sql.SQL(
    "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
    "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
).format(sql.Identifier(EVENTS_TABLE))


def read_events(cur: Cursor[Any], after: int, limit: int, upto: int | None = None) -> list[Event]:
    bound = upto if upto is not None else 2**63 - 1
    rows = cur.execute(_READ, (after, bound, limit)).fetchall()
    return [
        Event(position, originator_id, version, event_type(topic), decode_state(state))
        for position, originator_id, version, topic, state in rows
    ]
