"""Projectors, and the batch loop that runs them exactly once.

A projector is a dispatch table: event type -> ``Handler``, each naming the rows it reads
or changes (``touches``) and changing them in memory (``apply``); a projector may also
name rows it reads once per window and change them once the window is applied. A batch
reads a window of the log once; each projector loads the rows its handlers name, folds the window's
events into them in log order and writes each changed row once (``projections.fold``,
``projections.writer``). Events a projector has no handler for still move its position.

One transaction per batch holds the writes of every projector and their positions, and
the position rows are locked FOR UPDATE first: two catch-ups racing (two processes, or a
runner thread and a test) serialise on them, so no event is applied twice and none is
skipped.

Windows adapt: a catch-up starts with ``batch_size`` positions and doubles the window
while the log holds more, up to ``max_batch_size`` and never past what was waiting, so a
projector far behind (or a rebuild) commits rarely while one near the head stays quick.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from psycopg import Connection, Cursor, sql
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from projections.fold import Rows, Touch
from projections.reader import Event, Window, read_window
from projections.schema import POSITIONS, Table, table
from projections.writer import insert, upsert

# A batch does not wait for its commit to reach the disk. A server crash can then lose the
# last batches, but only whole: their rows and their position are one transaction, so the
# projectors re-apply those events from the log (stored durably) on restart, exactly once.
ASYNC_COMMIT = sql.SQL("SET LOCAL synchronous_commit TO off")
BATCH_SIZE = 500  # the first window of a catch-up (positions)
MAX_BATCH_SIZE = 20_000  # reached by doubling while the log holds more


def nothing(_event: Event) -> list[Touch]:
    return []


@dataclass(frozen=True)
class Handler:
    apply: Callable[[Rows, Event], None]
    touches: Callable[[Event], Iterable[Touch]] = nothing  # the rows it reads or changes
    # Rows that cannot exist before this event (a new campaign's, a new run's): a later
    # event of the window touching one of them (its key, or its key less the last column)
    # finds it in memory, so it is not loaded.
    creates: Callable[[Event], Iterable[Touch]] = nothing


class Projector:
    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]]
    handlers: ClassVar[dict[str, Handler]]

    def __init__(self, schema: str | None = None) -> None:
        self.schema = schema

    def project(self, cur: Cursor[Any], events: Sequence[Event]) -> None:
        """Fold ``events`` into the rows they change and write those rows."""
        rows = self.plan(events)
        rows.load(cur, self.schema)
        self.apply(rows, events)
        self.write(cur, rows)

    def plan(self, events: Sequence[Event]) -> Rows:
        """The rows ``events`` touch, before any is loaded."""
        rows = Rows(self.tables)
        for event in events:
            handler = self.handlers.get(event.type)
            if handler is not None:
                for touch in handler.touches(event):
                    rows.want(touch)
                for touch in handler.creates(event):
                    rows.create(touch)
        for touch in self.window_touches(events):
            rows.want(touch)
        return rows

    def apply(self, rows: Rows, events: Sequence[Event]) -> None:
        """Fold ``events`` into ``rows``, in log order."""
        for event in events:
            handler = self.handlers.get(event.type)
            if handler is not None:
                handler.apply(rows, event)
        self.after_window(rows, events)

    def window_touches(self, events: Sequence[Event]) -> Iterable[Touch]:
        """Rows read or changed once per window, whichever events it holds."""
        return ()

    def after_window(self, rows: Rows, events: Sequence[Event]) -> None:
        """Changes that follow from the window as a whole (none may depend on where
        windows end)."""

    def write(self, cur: Cursor[Any], rows: Rows) -> None:
        for spec in self.tables:
            new, changed = rows.changed_rows(spec)
            insert(cur, spec, self.schema, new)
            upsert(cur, spec, self.schema, changed)


class ProjectionSet:
    """Projectors sharing one positions table (in ``schema``) and one batch loop."""

    def __init__(
        self,
        projectors: Sequence[Projector],
        schema: str | None = None,
        batch_size: int = BATCH_SIZE,
        max_batch_size: int = MAX_BATCH_SIZE,
    ) -> None:
        self.projectors = list(projectors)
        self.names = [p.name for p in self.projectors]
        self.batch_size = batch_size
        self.max_batch_size = max(batch_size, max_batch_size)
        self.batch_sizes: list[int] = []  # the windows of the last catch-up
        positions = table(POSITIONS, schema)
        self._ensure = sql.SQL(
            "INSERT INTO {} (name, position, updated_at) SELECT n, 0, now() "
            "FROM unnest(%s::text[]) AS n ON CONFLICT (name) DO NOTHING"
        ).format(positions)
        self._lock = sql.SQL(
            "SELECT name, position FROM {} WHERE name = ANY(%s) ORDER BY name FOR UPDATE"
        ).format(positions)
        self._advance = sql.SQL(
            "UPDATE {} SET position = GREATEST(position, %s), updated_at = now()"
            " WHERE name = ANY(%s)"
        ).format(positions)

    def run_batch(
        self, conn: Connection[Any], upto: int | None = None, limit: int | None = None
    ) -> Window:
        """Project the next window (``limit`` positions, default ``batch_size``) in one
        transaction (a savepoint inside a caller's transaction)."""
        outermost = conn.info.transaction_status == TransactionStatus.IDLE
        with conn.transaction(), conn.cursor() as cur:
            if outermost:
                cur.execute(ASYNC_COMMIT)
            positions = self.lock_positions(cur)
            window = read_window(cur, min(positions.values()), limit or self.batch_size, upto)
            for projector in self.projectors:
                after = positions[projector.name]
                mine = [event for event in window.events if event.position > after]
                if mine:
                    projector.project(cur, mine)
            if window.done is not None:
                self.set_position(cur, window.done)
            return window

    def catch_up(self, pool: ConnectionPool[Any], upto: int | None = None) -> int:
        with pool.connection() as conn:
            return self.catch_up_on(conn, upto)

    def catch_up_on(
        self,
        conn: Connection[Any],
        upto: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Project windows until the head (or ``upto``); return how many events were read."""
        total, limit = 0, self.batch_size
        self.batch_sizes = []
        while True:
            window = self.run_batch(conn, upto, limit)
            if window.done is None:
                return total
            self.batch_sizes.append(limit)
            total += len(window.events)
            if progress is not None and window.events:
                progress(len(window.events))
            if not window.more:
                return total
            limit = max(self.batch_size, min(limit * 2, window.waiting, self.max_batch_size))

    def lock_positions(self, cur: Cursor[Any]) -> dict[str, int]:
        """Inside a transaction: hold the positions, pausing every other catch-up."""
        cur.execute(self._ensure, (self.names,))
        return dict(cur.execute(self._lock, (self.names,)).fetchall())

    def set_position(self, cur: Cursor[Any], position: int) -> None:
        cur.execute(self._advance, (position, self.names))
