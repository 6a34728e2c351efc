"""The log as the projectors read it: which events, in what order, of what type.

A batch is read as positions, campaign ids, types and timestamps only; the handlers'
statements then read the events' fields straight from the log by position range (see
``projections.decoding``), so a batch's rows never pass through Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql

from projections.decoding import state_jsonb

EVENTS_TABLE = "nudgescribe_events"
CHANNEL = "nudgescribe_events"


@dataclass(frozen=True)
class Event:
    position: int
    campaign_id: UUID
    type: str  # the event class name, e.g. "RunStarted"
    timestamp: datetime


def event_type(topic: str) -> str:
    return topic.rpartition(".")[2]


# Each batch is parsed once, into a session-private staging table the handlers read.
BATCH_TABLE = sql.Identifier("pg_temp", "rm_batch")
# Emptied at commit (cheaper than a TRUNCATE per batch). Batches run as savepoints of one
# transaction (verify, rebuild) leave earlier rows behind; the handlers read only their
# own position range, so those are never seen.
_STAGE = sql.SQL(
    "CREATE TEMP TABLE IF NOT EXISTS rm_batch (id bigint NOT NULL, cid uuid NOT NULL,"
    " topic text NOT NULL, j jsonb NOT NULL, segments jsonb) ON COMMIT DELETE ROWS"
)
# A RunStarted's key lists and segments can hold tens of thousands of entries: the staged
# state keeps their sizes (segment_count, matched_count, new_count, orphaned_count) and
# the segments move to their own column, so reading a field never detoasts them.
_SLIM = (
    "CASE WHEN e.s ? 'segments'"
    " THEN (e.s - ARRAY['segments', 'matched', 'new', 'orphaned', '_meta'])"
    " || jsonb_build_object('segment_count', jsonb_array_length(e.s -> 'segments'),"
    " 'matched_count', jsonb_array_length(e.s -> 'matched'),"
    " 'new_count', jsonb_array_length(e.s -> 'new'),"
    " 'orphaned_count', jsonb_array_length(e.s -> 'orphaned')) ELSE e.s END"
)
# Limit first, parse after: the parse must run on the batch's rows only.
_READ = sql.SQL(
    f"INSERT INTO {{batch}} (id, cid, topic, j, segments) SELECT e.id, e.cid, e.topic, {_SLIM},"
    " e.s -> 'segments' FROM (SELECT r.notification_id AS id, r.originator_id AS cid, r.topic,"
    f" {state_jsonb('r.state')} AS s FROM (SELECT notification_id, originator_id,"
    " topic, state FROM {events} WHERE notification_id > %s AND notification_id <= %s"
    " ORDER BY notification_id LIMIT %s) AS r OFFSET 0) AS e"
    " RETURNING id, cid, j -> 'timestamp' ->> '_data_', topic"
).format(batch=BATCH_TABLE, events=sql.Identifier(EVENTS_TABLE))

# The events of one group: a position range of the batch holding exactly that group.
EVENTS_IN_RANGE = sql.SQL(
    "(SELECT b.id, b.cid, b.j, b.segments FROM {} b WHERE b.id BETWEEN %(lo)s AND %(hi)s)"
).format(BATCH_TABLE)


def read_events(cur: Cursor[Any], after: int, limit: int, upto: int | None = None) -> list[Event]:
    """Stage the next events after ``after`` (parsed once) and return them in log order."""
    cur.execute(_STAGE)
    bound = upto if upto is not None else 2**63 - 1
    rows = sorted(cur.execute(_READ, (after, bound, limit)).fetchall())
    return [
        Event(position, cid, event_type(topic), datetime.fromisoformat(ts))
        for position, cid, ts, topic in rows
    ]
