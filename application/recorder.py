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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import Cursor
from psycopg.rows import DictRow

ROWS_PER_STATEMENT = 500

# Extra writes that must commit in the same transaction as the events (for example an
# idempotency record). Set by the application around one save.
same_transaction_writes: ContextVar[Callable[[Cursor[DictRow], Sequence[int]], None] | None] = (
    ContextVar("same_transaction_writes", default=None)
)


class CampaignEventRecorder(PostgresApplicationRecorder):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        notification_ids: list[int] = []
        with self.datastore.transaction(commit=True) as curs:
            self._insert_events(curs, stored_events, **kwargs)
            if stored_events:
                self._lock_table(curs)
                self._notify_channel(curs)
                for start in range(0, len(stored_events), ROWS_PER_STATEMENT):
                    chunk = stored_events[start : start + ROWS_PER_STATEMENT]
                    curs.execute(self.insert_events_statement, (self._rows(chunk),))
                    notification_ids.extend(row["notification_id"] for row in curs.fetchall())
            extra = same_transaction_writes.get()
            if extra is not None:
                extra(curs, notification_ids)
        return notification_ids

    def _rows(self, stored_events: Sequence[StoredEvent]) -> list[Any]:
        return [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
