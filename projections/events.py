"""The log as the projectors read it: which events, in what order, of what type.

A batch is staged once: its states parsed (see ``projections.decoding``) into a
session-private table holding, per event, the fields the frequent message events need as
typed columns, and the rest of the state as jsonb. Only the batch's groups (runs of
consecutive events of one type, as position ranges) come back to Python; the handlers'
statements read their group's rows from the staging table by position range, so a
batch's rows never pass through Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import Cursor, sql

from projections.decoding import datetime_iso, integer, state_jsonb, text, uuid_hex

EVENTS_TABLE = "nudgescribe_events"
CHANNEL = "nudgescribe_events"


@dataclass(frozen=True)
class Group:
    """Consecutive events of one type: positions ``lo`` to ``hi`` of the staged batch."""

    type: str  # the event class name, e.g. "RunStarted"
    lo: int
    hi: int

    def after(self, position: int) -> Group | None:
        """The part of the group after ``position`` (None if nothing is left)."""
        if self.hi <= position:
            return None
        return Group(self.type, max(self.lo, position + 1), self.hi)


# Each batch is parsed once, into a session-private staging table the handlers read.
BATCH_TABLE = sql.Identifier("pg_temp", "rm_staged")
# Emptied at commit (cheaper than a TRUNCATE per batch). Batches run as savepoints of one
# transaction (verify, rebuild) leave earlier rows behind; the handlers read only their
# own position range (the primary key keeps that a range scan in a large batch).
_STAGE = sql.SQL(
    "CREATE TEMP TABLE IF NOT EXISTS rm_staged (id bigint PRIMARY KEY, cid uuid NOT NULL,"
    " type text NOT NULL, ts timestamptz NOT NULL, run int, key text, mid uuid, content text,"
    " decision text, source uuid, reason text, j jsonb, segments jsonb) ON COMMIT DELETE ROWS"
)
# The message events (most of the log) are read from these columns only; their state is
# not kept. Every other event keeps its state in ``j`` for its handlers.
COLUMNS = {
    "ts": datetime_iso("timestamp"),
    "run": integer("run_number"),
    "key": text("segment_key"),
    "mid": uuid_hex("message_id"),
    "content": text("content"),
    "decision": text("decision"),
    "source": uuid_hex("copied_from_message_id"),
    "reason": text("reason"),
}
MESSAGE_EVENTS = (
    "SegmentMatched",
    "MessageGenerated",
    "MessageArchived",
    "MessageReviewed",
    "MessageEdited",
    "MessageRegenerationRequested",
    "MessagePublished",
)
# A RunStarted's key lists and segments can hold tens of thousands of entries: the staged
# state keeps their sizes (segment_count, matched_count, new_count, orphaned_count) and
# the segments move to their own column, so reading a field never detoasts them.
_SLIM = (
    "CASE WHEN e.type IN ({messages}) THEN NULL WHEN e.j ? 'segments'"
    " THEN (e.j - ARRAY['segments', 'matched', 'new', 'orphaned', '_meta'])"
    " || jsonb_build_object('segment_count', jsonb_array_length(e.j -> 'segments'),"
    " 'matched_count', jsonb_array_length(e.j -> 'matched'),"
    " 'new_count', jsonb_array_length(e.j -> 'new'),"
    " 'orphaned_count', jsonb_array_length(e.j -> 'orphaned')) ELSE e.j END"
)
# A batch is a window of positions, (after, end]: one range scan of the log's index, never
# sorted and never more than ``end - after`` rows whatever the planner believes. Only the
# window's rows are parsed. The statement returns the first and last event of each run
# of one type (with its row number in the batch), and whether the log holds anything
# after the window, in the same snapshot: if it does, every position in the window has
# committed or rolled back for good (appends commit in position order), so the window is
# done even where it held gaps.
_READ = sql.SQL(
    "WITH staged AS (INSERT INTO {batch} (id, cid, type, {columns}, j, segments)"
    " SELECT e.id, e.cid, e.type, {values}, {slim}, e.j -> 'segments'"
    " FROM (SELECT r.notification_id AS id, r.originator_id AS cid,"
    " substring(r.topic FROM '[^.]*$') AS type, {state} AS j FROM {events} AS r"
    " WHERE r.notification_id > %(after)s AND r.notification_id <= %(end)s"
    " OFFSET 0) AS e RETURNING id, type)"
    " SELECT s.id, s.type, s.rn, s.prev IS DISTINCT FROM s.type,"
    " s.next IS DISTINCT FROM s.type, p.more"
    " FROM (SELECT EXISTS (SELECT FROM {events} WHERE notification_id > %(end)s"
    " AND notification_id <= %(upto)s) AS more) AS p"
    " LEFT JOIN (SELECT id, type, row_number() OVER w AS rn, lag(type) OVER w AS prev,"
    " lead(type) OVER w AS next FROM staged WINDOW w AS (ORDER BY id)) AS s"
    " ON s.prev IS DISTINCT FROM s.type OR s.next IS DISTINCT FROM s.type ORDER BY s.id"
).format(
    batch=BATCH_TABLE,
    events=sql.Identifier(EVENTS_TABLE),
    columns=sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
    values=sql.SQL(", ").join(map(sql.SQL, COLUMNS.values())),  # type: ignore[arg-type]
    slim=sql.SQL(_SLIM).format(messages=sql.SQL(", ").join(map(sql.Literal, MESSAGE_EVENTS))),
    state=sql.SQL(state_jsonb("r.state")),  # type: ignore[arg-type]
)

# The events of one group: its position range of the staged batch.
EVENTS_IN_RANGE = sql.SQL("(SELECT * FROM {} b WHERE b.id BETWEEN %(lo)s AND %(hi)s)").format(
    BATCH_TABLE
)


@dataclass(frozen=True)
class Batch:
    groups: list[Group]  # in log order
    read: int  # events staged
    done: int | None  # the position the batch completes (None: nothing to do)
    more: bool  # the log holds events after the batch


MAX_POSITION = 2**63 - 1


def read_events(cur: Cursor[Any], after: int, limit: int, upto: int | None = None) -> Batch:
    """Stage the events at positions ``after`` + 1 to ``after`` + ``limit`` (parsed once)."""
    cur.execute(_STAGE)
    bound = MAX_POSITION if upto is None else upto
    end = min(bound, after + limit)
    rows = cur.execute(_READ, {"after": after, "end": end, "upto": bound}).fetchall()
    groups: list[Group] = []
    lo = read = 0
    more = bool(rows[0][5])
    for position, type_name, number, first, last, _ in rows:
        if first:
            lo = position
        if last:
            groups.append(Group(type_name, lo, position))
            read = number
    done = end if more else groups[-1].hi if groups else None
    return Batch(groups, read, done, more)
