"""The log as the projectors read it: which events, in what order, of what type.

A batch is a window of positions read in one snapshot and staged once into a
session-private table holding, per event, the fields the frequent message events need as
typed columns, and the rest of the state as jsonb. Message events are parsed by the
client (``projections.staging``: orjson, sent as one binary COPY); the rare other events,
some of them hundreds of kilobytes, are parsed by the server (``projections.decoding``).
The handlers' statements then read their group's rows (runs of consecutive events of one
type, as position ranges) from the staging table, set-based.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from psycopg import Cursor, sql

from projections import staging
from projections.decoding import datetime_iso, integer, state_jsonb, text, uuid_hex

EVENTS_TABLE = "nudgescribe_events"
CHANNEL = "nudgescribe_events"


@dataclass(frozen=True)
class Group:
    """Consecutive events of one type: positions ``lo`` to ``hi`` of the staged batch."""

    type: str  # the event class name, e.g. "RunStarted"
    lo: int
    hi: int
    staged: str | None = None  # the read-ahead table holding them (None: the session's)

    def after(self, position: int) -> Group | None:
        """The part of the group after ``position`` (None if nothing is left)."""
        if self.hi <= position:
            return None
        return replace(self, lo=max(self.lo, position + 1))


# Each batch is parsed once, into a session-private staging table the handlers read.
BATCH_TABLE = sql.Identifier("pg_temp", "rm_staged")
# Emptied at commit (cheaper than a TRUNCATE per batch). Batches run as savepoints of one
# transaction (verify, rebuild) leave earlier rows behind; the handlers read only their
# own position range (the primary key keeps that a range scan in a large batch). The
# RunStarted segment lists are written once and read once: stored uncompressed, as
# compressing them cost as much as parsing them.
_STAGED_COLUMNS = (
    "(id bigint PRIMARY KEY, cid uuid NOT NULL, type text NOT NULL, ts timestamptz NOT NULL,"
    " run int, key text, mid uuid, content text, decision text, source uuid, reason text,"
    " j jsonb, segments jsonb)"
)
_EXTERNAL = "ALTER COLUMN j SET STORAGE EXTERNAL, ALTER COLUMN segments SET STORAGE EXTERNAL"
STAGE_TABLE = sql.SQL(
    "DO $$ BEGIN IF to_regclass('pg_temp.rm_staged') IS NULL THEN"
    f" CREATE TEMP TABLE rm_staged {_STAGED_COLUMNS} ON COMMIT DELETE ROWS;"
    f" ALTER TABLE rm_staged {_EXTERNAL}; END IF; END $$"
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
# A batch is a window of positions, (after, end]: one range scan of the log's index, never
# sorted and never more than ``end - after`` rows whatever the planner believes. The
# statement also says whether the log holds anything after the window, in the same
# snapshot: if it does, every position in the window has committed or rolled back for
# good (appends commit in position order), so the window is done even where it held gaps.
# The campaign id comes as its 16 bytes, which is what the staging COPY sends.
# ``head`` (the last position up to the bound) says how much more is waiting.
_READ = sql.SQL(
    "SELECT p.head, r.notification_id, uuid_send(r.originator_id), r.topic, r.state"
    " FROM (SELECT (SELECT max(notification_id) FROM {events}"
    " WHERE notification_id <= %(upto)s) AS head) AS p LEFT JOIN LATERAL"
    " (SELECT notification_id, originator_id, topic, state FROM {events}"
    " WHERE notification_id > %(after)s AND notification_id <= %(end)s"
    " ORDER BY notification_id) AS r ON TRUE"
).format(events=sql.Identifier(EVENTS_TABLE))


def stage_in_sql(events: sql.Composable, into: sql.Composable = BATCH_TABLE) -> sql.Composed:
    """The statement staging the events at positions ``%s`` of the log table ``events``
    into ``into`` with the server-side decoders (for the events the client does not
    stage, see ``projections.staging``)."""
    return sql.SQL(
        "INSERT INTO {batch} (id, cid, type, {columns}, j, segments)"
        " SELECT e.id, e.cid, e.type, {values}, {slim}, e.j -> 'segments'"
        " FROM (SELECT r.notification_id AS id, r.originator_id AS cid,"
        " substring(r.topic FROM '[^.]*$') AS type, {state} AS j FROM {events} AS r"
        " WHERE r.notification_id = ANY(%s) OFFSET 0) AS e"
    ).format(
        batch=into,
        events=events,
        columns=sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        values=sql.SQL(", ").join(map(sql.SQL, COLUMNS.values())),  # type: ignore[arg-type]
        slim=sql.SQL(_SLIM).format(messages=sql.SQL(", ").join(map(sql.Literal, MESSAGE_EVENTS))),
        state=sql.SQL(state_jsonb("r.state")),  # type: ignore[arg-type]
    )


def _copy_into(table: sql.Composable) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, staging.COLUMNS))
    )


COPY_STAGED = _copy_into(BATCH_TABLE)


def staged_table(staged: str | None) -> sql.Composable:
    """Where a group's events are staged: the session's temp table, or a read-ahead one."""
    return BATCH_TABLE if staged is None else sql.Identifier(staged)


def events_in_range(staged: str | None) -> sql.Composed:
    """The events of one group: its position range of the staged batch."""
    return sql.SQL("(SELECT * FROM {} b WHERE b.id BETWEEN %(lo)s AND %(hi)s)").format(
        staged_table(staged)
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
    staged: str | None = None  # already staged in this read-ahead table (committed)

    @property
    def batch(self) -> Batch:
        more = self.head > self.end
        done = self.end if more else self.groups[-1].hi if self.groups else None
        read = len(self.copy_rows) + len(self.in_sql)
        return Batch(self.groups, read, done, self.head - self.end if more else 0)


MAX_POSITION = 2**63 - 1


def read_window(cur: Cursor[Any], after: int, limit: int, upto: int | None = None) -> Window:
    """Read and parse the events at positions ``after`` + 1 to ``after`` + ``limit``."""
    bound = MAX_POSITION if upto is None else upto
    end = min(bound, after + limit)
    params = {"after": after, "end": end, "upto": bound}
    rows = cur.execute(_READ, params, binary=True).fetchall()  # the states as raw bytes
    copy_rows: list[bytes] = []
    in_sql: list[int] = []
    runs: list[list[Any]] = []  # [type, first position, last position] per run of one type
    types: dict[str, str] = {}  # topic -> event class name
    for _, position, campaign_id, topic, state in rows:
        if position is None:  # the window is empty (the LEFT JOIN's one row)
            break
        type_name = types.get(topic) or types.setdefault(topic, topic.rpartition(".")[2])
        if runs and runs[-1][0] == type_name:
            runs[-1][2] = position
        else:
            runs.append([type_name, position, position])
        if type_name in _STAGED_BY_CLIENT:
            try:
                copy_rows.append(staging.message_row(position, campaign_id, type_name, state))
                continue
            except staging.NotStageable:
                pass
        in_sql.append(position)
    groups = [Group(*run) for run in runs]
    return Window(after, end, upto, groups, copy_rows, in_sql, rows[0][0] or 0)


def _stage_into(cur: Cursor[Any], window: Window, table: sql.Composable) -> None:
    if window.copy_rows:
        copy_into = COPY_STAGED if table is BATCH_TABLE else _copy_into(table)
        with cur.copy(copy_into) as copy:
            copy.write(staging.copy_data(window.copy_rows))
    if window.in_sql:
        cur.execute(stage_in_sql(sql.Identifier(EVENTS_TABLE), table), (window.in_sql,))


def stage(cur: Cursor[Any], window: Window) -> None:
    """Stage a window for the handlers (inside the batch's transaction), unless it was
    staged ahead."""
    if window.staged is None:
        cur.execute(STAGE_TABLE)
        _stage_into(cur, window, BATCH_TABLE)


# A read-ahead connection stages the windows it reads into tables of its own, so parsing
# into rows costs the batch's backend nothing. They are unlogged (a crash empties them,
# which is all they ever need), never vacuumed (emptied by TRUNCATE before each use) and
# named by the backend's pid, so two processes never share one; tables of backends that
# are gone are dropped when a reader creates its own.
_READ_AHEAD_PREFIX = "nudgescribe_stage_"
_CLEAN_UP = sql.SQL(
    "DO $$ DECLARE t regclass; BEGIN FOR t IN SELECT c.oid FROM pg_class c"
    " WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'"
    " AND c.relname ~ '^{prefix}[0-9]+_[a-z]$' AND substring(c.relname FROM '[0-9]+')::int"
    " NOT IN (SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL)"
    " LOOP EXECUTE format('DROP TABLE IF EXISTS %s', t); END LOOP; END $$"
).format(prefix=sql.SQL(_READ_AHEAD_PREFIX))


def read_ahead_tables(cur: Cursor[Any], count: int) -> list[str]:
    """Create (if need be) ``count`` staging tables of this connection's backend."""
    names = [
        f"{_READ_AHEAD_PREFIX}{cur.connection.info.backend_pid}_{chr(97 + i)}" for i in range(count)
    ]
    cur.execute(_CLEAN_UP)
    for name in names:
        cur.execute(
            sql.SQL(
                "CREATE UNLOGGED TABLE IF NOT EXISTS {} "
                + _STAGED_COLUMNS
                + " WITH (autovacuum_enabled = false)"
            ).format(sql.Identifier(name))
        )
        cur.execute(sql.SQL("ALTER TABLE {} " + _EXTERNAL).format(sql.Identifier(name)))
    return names


def stage_ahead(cur: Cursor[Any], window: Window, table: str) -> Window:
    """Stage ``window`` into the read-ahead table ``table`` (emptied first), on the
    reading connection; the batch that takes it reads its groups from there once the
    reader commits."""
    cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
    _stage_into(cur, window, sql.Identifier(table))
    groups = [replace(group, staged=table) for group in window.groups]
    return replace(window, groups=groups, staged=table)
