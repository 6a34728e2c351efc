"""The event recorder: one server-side call per save, chained and anchored, never pipelined.

The library sends LOCK, NOTIFY and one large ``unnest()`` array in psycopg pipeline mode;
past a payload size the client and server both block on a full socket buffer while the
EXCLUSIVE table lock is held, and every other writer hangs with them. Here a save is
BEGIN, one ordinary statement per ``ROWS_PER_STATEMENT`` events, the same-transaction
write if any, and COMMIT: three round trips for a small save. It calls a plpgsql function
(``<events table>_append``, created with the tables) that sets the lock timeout, takes the
EXCLUSIVE lock, notifies, checks the chain, inserts the rows, upserts the stream heads and
returns the notification ids. The explicit COMMIT (rather than the call alone in
autocommit) keeps a connection lost at COMMIT an unknown outcome that the commands
resolve by re-reading the stream (tests/fakes/commit_cutter.py).

What a save carries besides its events comes as keyword arguments of
``Application.save``, which the library hands to ``insert_events``: the encoded
``metadata`` spliced into every event, and ``also_write``, run in the events' own
transaction (an idempotency record).

The EXCLUSIVE lock stays: it makes notification-id order equal commit order, which is
what lets the projectors and the processor read the log without skipping a gap.

Chain hashes (application/chain.py) are computed here in Python. The function is given,
for each stream, the hash this save chains onto and refuses the save (SQLSTATE
``CHAIN_MOVED``) if the stored event does not carry it; the recorder then re-reads the
stored hash and tries again. The hash chained onto comes from the heads this recorder
itself committed last (almost always right: nobody else can write the version it wrote)
or, for a stream it has not just written, from one read before the call. Forgetting a
head (the memory is bounded) only costs that read.

No blind retry on connection loss: a commit whose outcome is unknown must be resolved by
re-reading the stream, never by sending the same events again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import PersistenceError, StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import Environment, EnvType
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier, Literal

from application.chain import GENESIS, chain_hash
from application.database import RECONNECT_SECONDS
from application.metadata import with_metadata

ROWS_PER_STATEMENT = 500
CHAIN_MOVED = "NSCHN"  # raised by the append function when a chained-onto hash is stale
CHAIN_ATTEMPTS = 3
REMEMBERED_HEADS = 10_000  # streams whose last committed head the recorder keeps

# A write that must commit in the same transaction as a save's events, given the cursor
# and the events' notification ids (for example an idempotency record).
SameTransactionWrite = Callable[[Cursor[DictRow], Sequence[int]], None]

STREAM_HEADS_TABLE = "stream_heads"


def _as_uuid(value: UUID | str) -> UUID:
    return value if type(value) is UUID else UUID(str(value))


class SnapshotRecorder(PostgresAggregateRecorder):
    # Reads fail at once when the database is unreachable, so the API answers 503 within
    # seconds: the library's decorator retries each read ten times, each waiting for the
    # pool (about half a minute in all). Callers decide whether to try again. The read
    # without the retry is the decorator's ``__wrapped__``: tests/unit/test_recorder_reads.py
    # pins that the library retries and that these reads do not.
    select_events = PostgresAggregateRecorder.select_events.__wrapped__  # type: ignore[attr-defined]

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self.insert_binary_statement = SQL(
            "INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[])"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        """Snapshots as binary arrays. The library sends them as one composite value in
        text, which psycopg escapes in Python byte by byte, holding the interpreter lock
        all along: for a large campaign's snapshot, most of a second in which the API's
        event loop (in the same process) barely runs (``python -m bench.snapshots``). A
        duplicate still raises the library's IntegrityError."""
        if not stored_events:
            return
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                self.insert_binary_statement,
                (
                    [_as_uuid(e.originator_id) for e in stored_events],
                    [e.originator_version for e in stored_events],
                    [e.topic for e in stored_events],
                    [e.state for e in stored_events],
                ),
            )


class CampaignFactory(PostgresFactory):
    """The library's PostgreSQL factory, with reads that fail fast for snapshots too, and
    a pool that stops retrying a lost connection after ``RECONNECT_SECONDS`` (the
    library's environment has no setting for it)."""

    aggregate_recorder_class = SnapshotRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.datastore.pool.reconnect_timeout = RECONNECT_SECONDS


@dataclass
class _Chained:
    """One save's rows with their hashes, and what the function must find already stored."""

    hashes: list[bytes] = field(default_factory=list)  # one per event, in order
    heads: dict[UUID, tuple[int, bytes]] = field(default_factory=dict)  # stream -> last (v, hash)
    # The stored events this save chains onto (stream, version, hash), checked under the lock.
    after_ids: list[UUID] = field(default_factory=list)
    after_versions: list[int] = field(default_factory=list)
    after_hashes: list[bytes] = field(default_factory=list)


class CampaignEventRecorder(PostgresApplicationRecorder):
    # Reads fail fast here too (see SnapshotRecorder).
    select_events = PostgresApplicationRecorder.select_events.__wrapped__  # type: ignore[attr-defined]
    select_notifications = PostgresApplicationRecorder.select_notifications.__wrapped__  # type: ignore[attr-defined]
    max_notification_id = PostgresApplicationRecorder.max_notification_id.__wrapped__  # type: ignore[attr-defined]

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        schema, table = Identifier(self.datastore.schema), Identifier(self.events_table_name)
        heads = Identifier(STREAM_HEADS_TABLE)
        function_name = f"{self.events_table_name}_append"
        self.check_identifier_length(function_name)
        function = Identifier(function_name)
        self.sql_create_statements.append(
            SQL("ALTER TABLE {}.{} ADD COLUMN IF NOT EXISTS chain_hash bytea").format(schema, table)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} (originator_id uuid PRIMARY KEY, "
                "originator_version bigint NOT NULL, chain_hash bytea NOT NULL, "
                "notification_id bigint NOT NULL)"
            ).format(schema, heads)
        )
        self.sql_create_statements.append(
            _append_function(schema, table, heads, function, Identifier(self.channel_name))
        )
        # Binary array parameters (%b): psycopg dumps text arrays element by element with
        # escaping, which costs far more than binary for a batch of event rows.
        self.append_statement = SQL(
            "SELECT * FROM {}.{}(%s, %b::uuid[], %b::bigint[], %b::text[], %b::bytea[], "
            "%b::bytea[], %b::uuid[], %b::bigint[], %b::bytea[]) AS appended (notification_id)"
        ).format(schema, function)
        self.select_hash_statement = SQL(
            "SELECT chain_hash FROM {}.{} WHERE originator_id = %s AND originator_version = %s"
        ).format(schema, table)
        self._heads: dict[UUID, tuple[int, bytes]] = {}  # stream -> last committed (v, hash)

    def insert_events(
        self,
        stored_events: Sequence[StoredEvent],
        *,
        metadata: bytes | None = None,
        also_write: SameTransactionWrite | None = None,
        **kwargs: Any,
    ) -> Sequence[int] | None:
        """Append the events (with ``metadata`` spliced into each) and run ``also_write``
        in the same transaction, after they are inserted."""
        if metadata is not None:
            stored_events = [with_metadata(event, metadata) for event in stored_events]
        with self.datastore.get_connection() as conn:
            if not stored_events:
                if also_write is not None:
                    with conn.transaction():
                        also_write(conn.cursor(), [])
                return []
            for attempt in range(CHAIN_ATTEMPTS):
                chained = self._chain(conn, stored_events, trust_remembered=attempt == 0)
                try:
                    notification_ids = self._append(conn, stored_events, chained, also_write)
                except psycopg.Error as error:
                    if error.sqlstate != CHAIN_MOVED:
                        raise
                    continue  # a stored hash is not the one remembered: read it, chain again
                self._remember(chained.heads)
                return notification_ids
        msg = f"stream heads kept moving during {CHAIN_ATTEMPTS} attempts to append"
        raise PersistenceError(msg)

    def _append(
        self,
        conn: psycopg.Connection[DictRow],
        events: Sequence[StoredEvent],
        chained: _Chained,
        also_write: SameTransactionWrite | None,
    ) -> list[int]:
        notification_ids: list[int] = []
        with conn.transaction():
            curs = conn.cursor()
            for start in range(0, len(events), ROWS_PER_STATEMENT):
                stop = min(start + ROWS_PER_STATEMENT, len(events))
                notification_ids += self._call(curs, events, chained, start, stop)
            if also_write is not None:
                also_write(curs, notification_ids)
        return notification_ids

    def _call(
        self,
        curs: Cursor[DictRow],
        events: Sequence[StoredEvent],
        chained: _Chained,
        start: int,
        stop: int,
    ) -> list[int]:
        chunk = events[start:stop] if start or stop < len(events) else events
        first = start == 0  # every chained-onto hash precedes the save: check it once
        curs.execute(
            self.append_statement,
            (
                f"{self.datastore.lock_timeout}s",
                [e.originator_id for e in chunk],
                [e.originator_version for e in chunk],
                [e.topic for e in chunk],
                [e.state for e in chunk],
                chained.hashes[start:stop],
                chained.after_ids if first else [],
                chained.after_versions if first else [],
                chained.after_hashes if first else [],
            ),
        )
        return [row["notification_id"] for row in curs.fetchall()]

    def _chain(
        self,
        conn: psycopg.Connection[DictRow],
        events: Sequence[StoredEvent],
        *,
        trust_remembered: bool,
    ) -> _Chained:
        """Hash each event onto the previous event of its stream (stored or in this save)."""
        chained = _Chained()
        last = chained.heads
        for event in events:
            stream_id = _as_uuid(event.originator_id)
            version = event.originator_version
            known = last.get(stream_id)
            if known is not None and known[0] == version - 1:
                previous = known[1]
            elif version <= 1:
                previous = GENESIS
            else:  # chains onto a stored event: the function checks it is still that one
                previous = self._stored_hash(conn, stream_id, version - 1, trust_remembered)
                chained.after_ids.append(stream_id)
                chained.after_versions.append(version - 1)
                chained.after_hashes.append(previous)
            digest = chain_hash(previous, stream_id, version, event.topic, event.state)
            last[stream_id] = (version, digest)
            chained.hashes.append(digest)
        return chained

    def _stored_hash(
        self, conn: psycopg.Connection[DictRow], stream_id: UUID, version: int, trust: bool
    ) -> bytes:
        remembered = self._heads.get(stream_id)
        if trust and remembered is not None and remembered[0] == version:
            return remembered[1]
        row = conn.execute(self.select_hash_statement, (stream_id, version)).fetchone()
        return bytes(row["chain_hash"]) if row and row["chain_hash"] else GENESIS

    def _remember(self, heads: dict[UUID, tuple[int, bytes]]) -> None:
        if len(self._heads) + len(heads) > REMEMBERED_HEADS:
            self._heads.clear()  # a bound, not a policy: forgetting only costs one read
        self._heads.update(heads)


def _append_function(
    schema: Identifier,
    table: Identifier,
    heads: Identifier,
    function: Identifier,
    channel: Identifier,
) -> Composed:
    """The whole append as one plpgsql function (see the module docstring)."""
    return SQL(
        """CREATE OR REPLACE FUNCTION {schema}.{function}(
    lock_timeout text, ids uuid[], versions bigint[], topics text[], states bytea[],
    hashes bytea[], after_ids uuid[], after_versions bigint[], after_hashes bytea[])
RETURNS SETOF bigint LANGUAGE plpgsql AS $body$
DECLARE
    stored bytea;
BEGIN
    PERFORM set_config('lock_timeout', lock_timeout, true);
    LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE;
    NOTIFY {channel};
    -- One primary-key lookup per stream chained onto (a join here was planned as a scan).
    FOR k IN 1 .. coalesce(cardinality(after_ids), 0) LOOP
        SELECT e.chain_hash INTO stored FROM {schema}.{table} e
        WHERE e.originator_id = after_ids[k] AND e.originator_version = after_versions[k];
        IF coalesce(stored, {genesis}) <> after_hashes[k] THEN
            RAISE EXCEPTION 'a stream head moved: chain again' USING ERRCODE = {chain_moved};
        END IF;
    END LOOP;
    RETURN QUERY
    WITH inserted AS (
        INSERT INTO {schema}.{table}
            (originator_id, originator_version, topic, state, chain_hash)
        SELECT * FROM unnest(ids, versions, topics, states, hashes)
        RETURNING originator_id, originator_version, chain_hash, notification_id
    ), anchored AS (
        INSERT INTO {schema}.{heads}
            (originator_id, originator_version, chain_hash, notification_id)
        SELECT DISTINCT ON (i.originator_id)
            i.originator_id, i.originator_version, i.chain_hash, i.notification_id
        FROM inserted i ORDER BY i.originator_id, i.originator_version DESC
        ON CONFLICT (originator_id) DO UPDATE SET
            originator_version = EXCLUDED.originator_version,
            chain_hash = EXCLUDED.chain_hash, notification_id = EXCLUDED.notification_id
    )
    SELECT i.notification_id FROM inserted i ORDER BY i.notification_id;
END
$body$"""
    ).format(
        schema=schema,
        table=table,
        heads=heads,
        function=function,
        channel=channel,
        genesis=SQL("'\\x{}'::bytea").format(SQL(GENESIS.hex())),
        chain_moved=Literal(CHAIN_MOVED),
    )
