"""What auditors get: the event log as JSON lines, and a check of its hash chains.

Both read the events table directly (a server-side cursor, so a log of millions of
events streams in constant memory). The export decodes the stored JSON as an auditor with
no access to the code would, and gives each event in its type's current version: a state
stored at an older one is upcast by the event class's own upcasters (``domain.versions``).
The chains are checked over the bytes as stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from psycopg import Connection, sql

from application.chain import GENESIS, chain_hash
from application.metadata import META_KEY
from application.recorder import STREAM_HEADS_TABLE
from application.store import EVENTS_TABLE
from domain.versions import upcast

FETCH_SIZE = 2000


def decode_transcoded(value: Any) -> Any:
    """Turn the transcoder's {"_type_", "_data_"} wrappers back into plain JSON values."""
    kind = type(value)
    if kind is dict:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            if value["_type_"] == "uuid_hex":
                return _dashed(value["_data_"])
            return decode_transcoded(value["_data_"])
        return {k: decode_transcoded(v) if type(v) in _NESTED else v for k, v in value.items()}
    if kind is list:
        return [decode_transcoded(v) if type(v) in _NESTED else v for v in value]
    return value


_NESTED = {dict, list}
_HEX_DIGITS = frozenset("0123456789abcdef")


def _dashed(hex_: str) -> str:
    """str(UUID(hex_)), by slicing when the transcoder wrote its 32 lower-case hex digits (the
    export dashes every id of every event, so it skips building a UUID each time)."""
    if len(hex_) == 32 and set(hex_) <= _HEX_DIGITS:
        return f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}"
    return str(UUID(hex_))


def event_record(
    position: int, stream_id: UUID, version: int, topic: str, state: bytes
) -> dict[str, Any]:
    data = decode_transcoded(orjson.loads(state))
    metadata = data.pop(META_KEY, {}) or {}
    timestamp = data.pop("timestamp", None)
    data.pop("originator_topic", None)
    upcast(topic, data)
    return {
        "position": position,
        "stream_id": str(stream_id),
        "version": version,
        "type": topic.rsplit(".", 1)[-1],
        "timestamp": timestamp,
        "data": data,
        "metadata": {k: metadata.get(k) for k in ("user_id", "account_id", "ip", "correlation_id")},
    }


def export_events(
    conn: Connection[Any], *, campaign_id: UUID | None = None, since: int | None = None
) -> Iterator[dict[str, Any]]:
    """The log in log order; ``since`` is exclusive (positions after it)."""
    query = sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
        "WHERE notification_id > %s {} ORDER BY notification_id"
    ).format(
        sql.Identifier(EVENTS_TABLE),
        sql.SQL("AND originator_id = %s") if campaign_id else sql.SQL(""),
    )
    params: list[Any] = [since or 0]
    if campaign_id:
        params.append(campaign_id)
    with conn.transaction(), conn.cursor(name="export_events") as cur:
        cur.itersize = FETCH_SIZE
        cur.execute(query, params)
        for position, stream_id, version, topic, state in cur:
            yield event_record(position, stream_id, version, topic, bytes(state))


def stream_events(
    conn: Connection[Any], stream_id: UUID, *, after_version: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    """A page of one stream's events, as ``export_events`` gives them, in version order
    from ``after_version`` (exclusive): the review console's audit timeline."""
    query = sql.SQL(
        "SELECT notification_id, originator_id, originator_version, topic, state FROM {} "
        "WHERE originator_id = %s AND originator_version > %s "
        "ORDER BY originator_version LIMIT %s"
    ).format(sql.Identifier(EVENTS_TABLE))
    rows = conn.execute(query, (stream_id, after_version, limit)).fetchall()
    return [event_record(p, s, v, t, bytes(state)) for p, s, v, t, state in rows]


def verify_stream(conn: Connection[Any], stream_id: UUID) -> tuple[int, list[ChainProblem]]:
    """``verify_chains`` for one stream: (events checked, problems found), read through a
    server-side cursor and checked a few rows at a time (any length, constant memory)."""
    head_row = conn.execute(
        sql.SQL("SELECT originator_version, chain_hash FROM {} WHERE originator_id = %s").format(
            sql.Identifier(STREAM_HEADS_TABLE)
        ),
        (stream_id,),
    ).fetchone()
    head = (head_row[0], bytes(head_row[1])) if head_row else None
    query = sql.SQL(
        "SELECT originator_version, topic, state, chain_hash FROM {} "
        "WHERE originator_id = %s ORDER BY originator_version"
    ).format(sql.Identifier(EVENTS_TABLE))
    checked = 0

    def rows(cur: Any) -> Iterator[_Row]:
        nonlocal checked
        for version, topic, state, stored in cur:
            checked += 1
            yield _Row(version, topic, bytes(state), bytes(stored) if stored else None)

    with conn.transaction(), conn.cursor(name="verify_stream") as cur:
        cur.itersize = FETCH_SIZE
        cur.execute(query, (stream_id,))
        problems = _check_stream(stream_id, rows(cur), head)
    if not checked and head is not None:
        return 0, [ChainProblem(stream_id, head[0], "deleted (whole stream)")]
    return checked, problems


@dataclass(frozen=True)
class ChainProblem:
    stream_id: UUID
    version: int
    problem: str  # edited, deleted, re-ordered, head mismatch, unchained

    def __str__(self) -> str:
        return f"stream {self.stream_id} version {self.version}: {self.problem}"


@dataclass
class _Row:
    version: int
    topic: str
    state: bytes
    stored_hash: bytes | None


def verify_chains(conn: Connection[Any]) -> tuple[int, list[ChainProblem]]:
    """Recompute every stream's chain; return (events checked, problems found)."""
    problems: list[ChainProblem] = []
    heads = {
        row[0]: (row[1], bytes(row[2]))
        for row in conn.execute(
            sql.SQL("SELECT originator_id, originator_version, chain_hash FROM {}").format(
                sql.Identifier(STREAM_HEADS_TABLE)
            )
        )
    }
    checked = 0
    seen: set[UUID] = set()
    query = sql.SQL(
        "SELECT originator_id, originator_version, topic, state, chain_hash FROM {} "
        "ORDER BY originator_id, originator_version"
    ).format(sql.Identifier(EVENTS_TABLE))
    stream: list[_Row] = []
    current: UUID | None = None
    with conn.transaction(), conn.cursor(name="verify_chains") as cur:
        cur.itersize = FETCH_SIZE
        cur.execute(query)
        for stream_id, version, topic, state, stored in cur:
            checked += 1
            if stream_id != current:
                if current is not None:
                    problems += _check_stream(current, stream, heads.get(current))
                current, stream = stream_id, []
                seen.add(stream_id)
            stream.append(_Row(version, topic, bytes(state), bytes(stored) if stored else None))
        if current is not None:
            problems += _check_stream(current, stream, heads.get(current))
    for missing in sorted(set(heads) - seen):
        problems.append(ChainProblem(missing, heads[missing][0], "deleted (whole stream)"))
    return checked, problems


def _check_stream(
    stream_id: UUID, rows: Iterable[_Row], head: tuple[int, bytes] | None
) -> list[ChainProblem]:
    """The problems of one stream's rows, in version order. Each row is checked once the
    next has been read (a re-ordered row is recognised by its neighbours), so an iterator
    of rows is checked holding three at a time."""
    problems: list[ChainProblem] = []
    previous = GENESIS
    expected_version = 1
    before: _Row | None = None
    for row, after in _with_next(rows):
        while row.version > expected_version:
            problems.append(ChainProblem(stream_id, expected_version, "deleted"))
            expected_version += 1
        expected_version = row.version + 1
        if row.stored_hash is None:
            problems.append(ChainProblem(stream_id, row.version, "unchained"))
            before = row
            continue
        follows_gap = row.version != (before.version + 1 if before is not None else 1)
        # After a deletion the missing hash cannot be recomputed: the gap is the finding,
        # and the chain resumes from this row's stored hash.
        if not follows_gap:
            actual = chain_hash(previous, stream_id, row.version, row.topic, row.state)
            if actual != row.stored_hash:
                why = _why(stream_id, row, (before, after), previous)
                problems.append(ChainProblem(stream_id, row.version, why))
        previous = row.stored_hash
        before = row
    last = before
    if head is not None and last is not None:
        if head[0] > last.version:
            for version in range(last.version + 1, head[0] + 1):
                problems.append(ChainProblem(stream_id, version, "deleted"))
        elif head != (last.version, last.stored_hash):
            problems.append(ChainProblem(stream_id, last.version, "head mismatch"))
    return problems


def _with_next(rows: Iterable[_Row]) -> Iterator[tuple[_Row, _Row | None]]:
    """Each row with the one after it (None after the last)."""
    iterator = iter(rows)
    current = next(iterator, None)
    while current is not None:
        following = next(iterator, None)
        yield current, following
        current = following


def _why(
    stream_id: UUID, row: _Row, neighbours: tuple[_Row | None, _Row | None], previous: bytes
) -> str:
    """A row whose content belongs at a neighbouring version was re-ordered, else edited."""
    for moved in neighbours:
        if (
            moved is not None
            and chain_hash(previous, stream_id, row.version, moved.topic, moved.state)
            == row.stored_hash
        ):
            return "re-ordered"
    return "edited"
