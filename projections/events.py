"""The log as the projectors read it: which events, in what order, of what type.

A batch is a window of positions read in one snapshot and staged once into
session-private tables the handlers' statements read, set-based, by position range
(their group: a run of consecutive events of one type):

* Message events (most of the log) are parsed by the client (``projections.staging``:
  orjson) and folded per message row (``projections.folding``); the folded rows go to a
  patch table, and the events themselves only as counts and times, for the statements
  that count progress. A window the fold cannot vouch for stages every message event's
  fields instead, for the handlers that apply them group by group.
* The rare other events, some of them hundreds of kilobytes, are parsed by the server
  (``projections.decoding``) into the same staging table, their state kept as jsonb.

Both go to the server as binary COPY.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from operator import itemgetter
from typing import Any

from psycopg import Cursor, sql

from projections import folding, staging
from projections.decoding import datetime_iso, integer, state_jsonb, text, uuid_hex
from projections.interpreter import collector_paused

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
# own position range (the primary key keeps that a range scan in a large batch). The
# RunStarted segment lists are written once and read once: stored uncompressed, as
# compressing them cost as much as parsing them. ``n``: how many events a row stands for
# (a folded window's message events are staged as counts, see ``_alike``).
# Beside it, the window's message events folded per message row (``projections.folding``);
# ``w`` tells windows apart where batches share a transaction.
PATCH_TABLE = sql.Identifier("pg_temp", "rm_staged_patches")
STAGE_TABLE = sql.SQL(
    "DO $$ BEGIN IF to_regclass('pg_temp.rm_staged') IS NULL THEN"
    " CREATE TEMP TABLE rm_staged (id bigint PRIMARY KEY, cid uuid NOT NULL,"
    " type text NOT NULL, ts timestamptz NOT NULL, run int, key text, mid uuid, content text,"
    " decision text, source uuid, reason text, j jsonb, segments jsonb,"
    " n int NOT NULL DEFAULT 1) ON COMMIT DELETE ROWS;"
    " ALTER TABLE rm_staged ALTER COLUMN j SET STORAGE EXTERNAL,"
    " ALTER COLUMN segments SET STORAGE EXTERNAL;"
    " CREATE TEMP TABLE rm_staged_patches (w bigint NOT NULL, cid uuid NOT NULL,"
    " run int NOT NULL, key text NOT NULL, ins bool NOT NULL, must bool NOT NULL, i_mid uuid,"
    " i_content text, i_origin text, i_source uuid, i_status text, i_review text,"
    " i_stage text, i_reason text, i_archived_at timestamptz, i_created_at timestamptz,"
    " i_published_at timestamptz, upd bool NOT NULL, p_content text,"
    " p_regenerated bool NOT NULL, p_status text, p_review text, p_stage text,"
    " p_published_at timestamptz, a_archived bool NOT NULL, a_orphaned bool NOT NULL,"
    " a_reason text, a_ts timestamptz) ON COMMIT DELETE ROWS; END IF; END $$"
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
MESSAGE_EVENTS = staging.MESSAGE_EVENTS
_STAGED_BY_CLIENT = frozenset(MESSAGE_EVENTS)
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
# A batch is a window of positions, (after, end]: one range scan of the log's index,
# never more than ``end - after`` rows whatever the planner believes. The rows come in
# the order the scan finds them (the client sorts them: in the heap's order, which for an
# appended log is nearly theirs, sorting costs it little, where the server chose a sort
# that spilled to disk for large windows). The statement also says whether the log holds
# anything after the window, in the same snapshot: if it does, every position in the
# window has committed or rolled back for good (appends commit in position order), so the
# window is done even where it held gaps. The campaign id comes as its 16 bytes, which is
# what the staging COPY sends. ``head`` (the last position up to the bound) says how much
# more is waiting; it comes as a row of its own, with no position (first: PostgreSQL
# appends the branches of a UNION ALL in order), whose null columns cost nothing to read.
_READ = sql.SQL(
    "SELECT NULL::bigint, max(notification_id), NULL::bytea, NULL::text, NULL::bytea"
    " FROM {events} WHERE notification_id <= %(upto)s UNION ALL"
    " (SELECT notification_id, NULL, uuid_send(originator_id), topic, state FROM {events}"
    " WHERE notification_id > %(after)s AND notification_id <= %(end)s)"
).format(events=sql.Identifier(EVENTS_TABLE))
_POSITION = itemgetter(0)


def stage_in_sql(events: sql.Composable) -> sql.Composed:
    """The statement staging the events at positions ``%s`` of the log table ``events``
    with the server-side decoders (for the events the client does not stage, see
    ``projections.staging``)."""
    return sql.SQL(
        "INSERT INTO {batch} (id, cid, type, {columns}, j, segments)"
        " SELECT e.id, e.cid, e.type, {values}, {slim}, e.j -> 'segments'"
        " FROM (SELECT r.notification_id AS id, r.originator_id AS cid,"
        " substring(r.topic FROM '[^.]*$') AS type, {state} AS j FROM {events} AS r"
        " WHERE r.notification_id = ANY(%s) OFFSET 0) AS e"
    ).format(
        batch=BATCH_TABLE,
        events=events,
        columns=sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        values=sql.SQL(", ").join(map(sql.SQL, COLUMNS.values())),  # type: ignore[arg-type]
        slim=sql.SQL(_SLIM).format(messages=sql.SQL(", ").join(map(sql.Literal, MESSAGE_EVENTS))),
        state=sql.SQL(state_jsonb("r.state")),  # type: ignore[arg-type]
    )


COPY_STAGED = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
    BATCH_TABLE, sql.SQL(", ").join(map(sql.Identifier, staging.COLUMNS))
)
_COPY_PATCHES = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
    PATCH_TABLE, sql.SQL(", ").join(map(sql.Identifier, folding.PATCH_COLUMNS))
)
_STAGE_IN_SQL = stage_in_sql(sql.Identifier(EVENTS_TABLE))


# The events of one group: its position range of the staged batch.
EVENTS_IN_RANGE = sql.SQL("(SELECT * FROM {} b WHERE b.id BETWEEN %(lo)s AND %(hi)s)").format(
    BATCH_TABLE
)


@dataclass(frozen=True)
class Batch:
    groups: list[Group]  # in log order
    read: int  # events staged
    done: int | None  # the position the batch completes (None: nothing to do)
    waiting: int  # how many positions after the batch the log held (up to its bound)

    @property
    def more(self) -> bool:
        """The log holds events after the batch."""
        return self.waiting > 0


@dataclass(frozen=True)
class Window:
    """Positions (``after``, ``end``] of the log as read in one snapshot, parsed, not yet
    staged. It can be read on any connection (the next window is read ahead on a second
    one while the current batch is applied) and staged on the batch's own."""

    after: int
    end: int
    upto: int | None
    groups: list[Group]
    copy_rows: list[bytes]  # message events parsed by the client, as binary COPY rows
    in_sql: list[int]  # the other positions, parsed by the server when staged
    head: int  # the last position of the log (up to the bound) in the same snapshot
    read: int  # how many events it holds
    fold: folding.Fold | None  # the message events folded (None: apply them by group)
    # The message events as read (position, campaign, type, state), to stage them in full
    # if the fold is not used (the states, not their decoded form: a fraction of the memory
    # of a window held read ahead).
    messages: list[tuple[int, bytes, str, bytes]]

    def unfolded(self) -> Window:
        """The window for applying its message events group by group: staged in full."""
        if self.fold is None:
            return self
        copy_rows, in_sql = _in_full(self.messages, self.in_sql)
        return replace(self, copy_rows=copy_rows, in_sql=in_sql, fold=None)

    @property
    def batch(self) -> Batch:
        more = self.head > self.end
        done = self.end if more else self.groups[-1].hi if self.groups else None
        return Batch(self.groups, self.read, done, self.head - self.end if more else 0)


MAX_POSITION = 2**63 - 1


def read_window(cur: Cursor[Any], after: int, limit: int, upto: int | None = None) -> Window:
    """Read and parse the events at positions ``after`` + 1 to ``after`` + ``limit``."""
    bound = MAX_POSITION if upto is None else upto
    end = min(bound, after + limit)
    params = {"after": after, "end": end, "upto": bound}
    rows = cur.execute(_READ, params, binary=True).fetchall()  # the states as raw bytes
    if rows[0][0] is not None:  # (never seen: the head row comes first)
        rows.sort(key=lambda row: -1 if row[0] is None else row[0])
    head = rows[0][1] or 0
    events = rows[1:]
    events.sort(key=_POSITION)
    with collector_paused():
        return _parse(after, end, upto, head, events)


def _parse(after: int, end: int, upto: int | None, head: int, rows: list[Any]) -> Window:
    in_sql: list[int] = []  # the events the server parses when staged
    runs: list[list[Any]] = []  # [type, first position, last position] per run of one type
    types: dict[str, str] = {}  # topic -> event class name
    events: list[tuple[bytes, str, staging.Message | None]] = []  # for the fold
    raw: list[tuple[int, bytes, str, bytes]] = []  # the message events, as read
    for position, _, campaign_id, topic, state in rows:
        type_name = types.get(topic) or types.setdefault(topic, topic.rpartition(".")[2])
        if runs and runs[-1][0] == type_name:
            runs[-1][2] = position
        else:
            runs.append([type_name, position, position])
        message = None
        if type_name in _STAGED_BY_CLIENT:
            raw.append((position, campaign_id, type_name, state))
            decoded = staging.decode(state)
            try:  # noqa: SIM105 (contextlib.suppress costs more, once per event)
                message = staging.parse_event(position, campaign_id, type_name, decoded, True)
            except staging.NotStageable:
                pass
        else:
            in_sql.append(position)
            if type_name == "RunStarted":
                message = staging.started_run(position, campaign_id, state)
        events.append((campaign_id, type_name, message))
    groups = [Group(*run) for run in runs]
    try:
        folded: folding.Fold | None = folding.fold(after, events)
    except folding.NotFoldable:
        folded = None
    if folded is not None:  # what the other statements read of the message events
        parsed = [m for _, kind, m in events if m is not None and kind in _STAGED_BY_CLIENT]
        copy_rows = _alike(parsed, groups)
    else:
        copy_rows, in_sql = _in_full(raw, in_sql)
    return Window(after, end, upto, groups, copy_rows, in_sql, head, len(events), folded, raw)


def _in_full(
    messages: list[tuple[int, bytes, str, bytes]], in_sql: list[int]
) -> tuple[list[bytes], list[int]]:
    """Every field of the message events, for the statements applying them group by
    group: COPY rows, and the positions left to the server beside ``in_sql``."""
    copy_rows, left = [], list(in_sql)
    for message in messages:
        try:
            copy_rows.append(staging.message_row(*message))
        except staging.NotStageable:
            left.append(message[0])
    return copy_rows, sorted(left)


def _alike(messages: list[staging.Message], groups: list[Group]) -> list[bytes]:
    """Staged rows of a folded window's message events: one per group, campaign, run,
    reason and whether a segment key is given (``staging.encode_events``)."""
    starts = [group.lo for group in groups]
    buckets: dict[tuple[Any, ...], list[Any]] = {}  # -> [first, count, latest time]
    group = 0
    for m in messages:
        while group + 1 < len(starts) and starts[group + 1] <= m.position:
            group += 1
        key = (group, m.cid, m.run, m.key is None, m.reason)
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = [m, 1, m.ts]
        else:
            bucket[1] += 1
            bucket[2] = max(bucket[2], m.ts)
    return [staging.encode_events(*bucket) for bucket in buckets.values()]


def stage(cur: Cursor[Any], window: Window) -> None:
    """Stage a window for the handlers (inside the batch's transaction)."""
    cur.execute(STAGE_TABLE)
    if window.fold is not None and window.fold.copy_rows:
        with cur.copy(_COPY_PATCHES) as copy:
            copy.write(staging.copy_data(window.fold.copy_rows))
    if window.copy_rows:
        with cur.copy(COPY_STAGED) as copy:
            copy.write(staging.copy_data(window.copy_rows))
    if window.in_sql:
        cur.execute(_STAGE_IN_SQL, (window.in_sql,))
