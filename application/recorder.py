"""The event recorder: the library's PostgreSQL recorder without pipeline mode.

The library sends LOCK, NOTIFY and one large ``unnest()`` array in psycopg pipeline mode;
past a payload size the client and server both block on a full socket buffer while the
EXCLUSIVE table lock is held, and every other writer hangs with them
(EVENTSOURCING-NOTES.md, pitfall 1). Here the same statements run one after another in
one ordinary transaction, the rows in bounded chunks, so a save of any size completes.

The EXCLUSIVE lock stays: it makes notification-id order equal commit order, which is
what lets the projectors and the processor read the log without skipping a gap.

No blind retry on connection loss: a commit whose outcome is unknown must be resolved by
re-reading the stream, never by sending the same events again.

Each row also gets its stream's chain hash (application/chain.py) and the stream's head
is upserted into ``stream_heads``, in the same transaction as the events.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from application.chain import GENESIS, chain_hash

ROWS_PER_STATEMENT = 500

# Extra writes that must commit in the same transaction as the events (for example an
# idempotency record). Set by the application around one save.
same_transaction_writes: ContextVar[Callable[[Cursor[DictRow], Sequence[int]], None] | None] = (
    ContextVar("same_transaction_writes", default=None)
)


STREAM_HEADS_TABLE = "stream_heads"


def _as_uuid(value: UUID | str) -> UUID:
    return value if type(value) is UUID else UUID(str(value))


class SnapshotRecorder(PostgresAggregateRecorder):
    # Reads fail at once when the database is unreachable, so the API answers 503 within
    # seconds: the library's decorator retries each read ten times, each waiting for the
    # pool (about half a minute in all). Callers decide whether to try again.
    select_events = PostgresAggregateRecorder.select_events.__wrapped__  # type: ignore[attr-defined]


class CampaignFactory(PostgresFactory):
    """The library's PostgreSQL factory, with reads that fail fast for snapshots too."""

    aggregate_recorder_class = SnapshotRecorder


class CampaignEventRecorder(PostgresApplicationRecorder):
    # Reads fail fast here too (see SnapshotRecorder).
    select_events = PostgresApplicationRecorder.select_events.__wrapped__  # type: ignore[attr-defined]
    select_notifications = PostgresApplicationRecorder.select_notifications.__wrapped__  # type: ignore[attr-defined]
    max_notification_id = PostgresApplicationRecorder.max_notification_id.__wrapped__  # type: ignore[attr-defined]

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        schema, table = Identifier(self.datastore.schema), Identifier(self.events_table_name)
        heads = Identifier(STREAM_HEADS_TABLE)
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
        # Binary array parameters (%b): psycopg dumps text arrays element by element with
        # escaping, about 5x slower than binary for a batch of event rows.
        self.insert_chained_statement = SQL(
            "INSERT INTO {}.{} (originator_id, originator_version, topic, state, chain_hash) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(schema, table)
        self.select_hash_statement = SQL(
            "SELECT chain_hash FROM {}.{} WHERE originator_id = %s AND originator_version = %s"
        ).format(schema, table)
        self.upsert_heads_statement = SQL(
            "INSERT INTO {}.{} (originator_id, originator_version, chain_hash, notification_id) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::bytea[], %b::bigint[]) "
            "ON CONFLICT (originator_id) DO UPDATE SET "
            "originator_version = EXCLUDED.originator_version, "
            "chain_hash = EXCLUDED.chain_hash, notification_id = EXCLUDED.notification_id"
        ).format(schema, heads)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids: list[int] = []
        with self.datastore.transaction(commit=True) as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if stored_events:
                self._lock_table(curs)
                self._notify_channel(curs)
                hashes = self._chain(curs, stored_events)
                for start in range(0, len(stored_events), ROWS_PER_STATEMENT):
                    chunk = stored_events[start : start + ROWS_PER_STATEMENT]
                    curs.execute(
                        self.insert_chained_statement,
                        (
                            [e.originator_id for e in chunk],
                            [e.originator_version for e in chunk],
                            [e.topic for e in chunk],
                            [e.state for e in chunk],
                            hashes[start : start + ROWS_PER_STATEMENT],
                        ),
                    )
                    notification_ids.extend(row["notification_id"] for row in curs.fetchall())
                self._anchor_heads(curs, stored_events, hashes, notification_ids)
            extra = same_transaction_writes.get()
            if extra is not None:
                extra(curs, notification_ids)
        return notification_ids

    def _chain(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent]) -> list[bytes]:
        """Hash each event onto the previous event of its stream (stored or in this save)."""
        last: dict[UUID, tuple[int, bytes]] = {}
        hashes: list[bytes] = []
        for event in stored_events:
            stream_id = _as_uuid(event.originator_id)
            version = event.originator_version
            known = last.get(stream_id)
            if known is not None and known[0] == version - 1:
                previous = known[1]
            elif version <= 1:
                previous = GENESIS
            else:
                curs.execute(self.select_hash_statement, (stream_id, version - 1))
                row = curs.fetchone()
                previous = bytes(row["chain_hash"]) if row and row["chain_hash"] else GENESIS
            digest = chain_hash(previous, stream_id, version, event.topic, event.state)
            last[stream_id] = (version, digest)
            hashes.append(digest)
        return hashes

    def _anchor_heads(
        self,
        curs: Cursor[DictRow],
        stored_events: Sequence[StoredEvent],
        hashes: Sequence[bytes],
        notification_ids: Sequence[int],
    ) -> None:
        heads: dict[UUID, tuple[int, bytes, int]] = {}
        for event, digest, position in zip(stored_events, hashes, notification_ids, strict=True):
            stream_id = _as_uuid(event.originator_id)
            if stream_id not in heads or heads[stream_id][0] < event.originator_version:
                heads[stream_id] = (event.originator_version, digest, position)
        ids = list(heads)
        curs.execute(
            self.upsert_heads_statement,
            (
                ids,
                [heads[i][0] for i in ids],
                [heads[i][1] for i in ids],
                [heads[i][2] for i in ids],
            ),
        )
