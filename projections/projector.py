"""Projectors and the batch loop that runs them exactly once.

A projector is a dispatch table: event type -> handler. A batch is the events in a window
of positions after the lowest position of the projectors, staged once
(see ``projections.events``); it comes back as runs of consecutive events of one type
(groups), and each group is applied by its handler as set-based SQL reading the group's
position range of the staged batch. Where a group could touch one row twice, the
statement keeps one event per row (DISTINCT ON, last or first as the event's semantics
say), which equals applying them one by one. Message events, most of the log, are
folded per message row by the client instead (``projections.folding``): one write per
row and window, applied by the projector that owns the message rows.

One transaction per batch holds the view writes of every projector and their positions,
and the position rows are locked FOR UPDATE first: two catch-ups racing (two processes,
or a runner thread and a test) serialise on them, so no event is applied twice and none
is skipped. A batch's statements go to the server in one pipeline.

Batch size adapts: a catch-up starts with a window of ``batch_size`` positions and
doubles it while the log holds more, up to ``max_batch_size`` and never past what was
waiting (a projector far behind, or a rebuild, commits rarely and amortises each batch's
fixed statements); every catch-up starts small again, so a projector near the head stays
quick. From the second window on, windows are read and parsed on a second connection
while the batches before them are applied (``projections.read_ahead``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, ClassVar

from psycopg import Connection, Cursor, sql
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

from projections.decoding import FIELDS
from projections.events import (
    EVENTS_IN_RANGE,
    PATCH_TABLE,
    Batch,
    Group,
    read_window,
    stage,
)
from projections.folding import Fold
from projections.read_ahead import Connect, ReadAhead, from_pool
from projections.schema import POSITIONS, table

Handler = Callable[[Cursor[Any], Group], None]
# A batch does not wait for its commit to reach the disk. A server crash can then lose the
# last batches, but only whole: their rows and their position are one transaction, so the
# projectors re-apply those events from the log (stored durably) on restart, exactly once.
ASYNC_COMMIT = sql.SQL("SET LOCAL synchronous_commit TO off")
BATCH_SIZE = 500  # the first window of a catch-up (positions)
MAX_BATCH_SIZE = 20_000  # reached by doubling while the log holds more
# The group's last event per campaign, as ``e`` (for updates the latest event decides).
LAST_PER_CAMPAIGN = (
    "(SELECT DISTINCT ON (e.cid) e.* FROM {events} AS e ORDER BY e.cid, e.id DESC) AS e"
)


def group_params(group: Group) -> dict[str, Any]:
    """The statement parameters of a group: its position range."""
    return {"lo": group.lo, "hi": group.hi}


class Statement:
    """A handler statement over a group's events (the staged batch's position range)."""

    def __init__(self, composed: sql.Composed) -> None:
        self.composed = composed

    def run(self, cur: Cursor[Any], group: Group, params: dict[str, Any] | None = None) -> None:
        """Run over ``group`` (with ``params`` beside its position range)."""
        cur.execute(self.composed, {**group_params(group), **(params or {})})


def whole(groups: Sequence[Group]) -> Group:
    """The positions ``groups`` span, as one group."""
    return Group("", groups[0].lo, groups[-1].hi)


class Projector:
    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]

    def __init__(self, schema: str | None = None) -> None:
        self.schema = schema
        self.handlers: dict[str, Handler] = {}

    def sql(self, template: str) -> Statement:
        """Format ``template``: {table} names (without ``rm_``), {events} (the group's
        events as ``e``, state in ``e.j``) and the decoded fields of ``FIELDS``."""
        names: dict[str, sql.Composable] = {
            name.removeprefix("rm_"): table(name, self.schema) for name in self.tables
        }
        return Statement(
            sql.SQL(template).format(**names, **FIELDS, events=EVENTS_IN_RANGE, patches=PATCH_TABLE)
        )

    def statements(self, *templates: str) -> Handler:
        """A handler that runs these statements, in order, over the group."""
        composed = [self.sql(template) for template in templates]

        def handle(cur: Cursor[Any], group: Group) -> None:
            for statement in composed:
                statement.run(cur, group)

        return handle

    def apply(self, cur: Cursor[Any], groups: Sequence[Group], fold: Fold | None = None) -> None:
        """Apply ``groups`` in order (``fold``: the window's message events folded, for a
        projector that writes message rows; given only when ``groups`` is the whole window)."""
        for group in groups:
            handler = self.handlers.get(group.type)
            if handler is not None:
                handler(cur, group)
        self.after_batch(cur, whole(groups))

    def after_batch(self, cur: Cursor[Any], batch: Group) -> None:
        """Hook for per-batch derived columns over the positions ``batch`` spans
        (must not depend on where batches end)."""


class ProjectionSet:
    """Projectors sharing one positions table (in ``schema``) and one batch loop."""

    def __init__(
        self,
        projectors: Sequence[Projector],
        schema: str | None = None,
        batch_size: int = BATCH_SIZE,
        max_batch_size: int = MAX_BATCH_SIZE,
        fold_messages: bool = True,
    ) -> None:
        self.projectors = list(projectors)
        self.fold_messages = fold_messages  # False: message events by group (tests compare)
        self.names = [p.name for p in self.projectors]
        self.batch_size = batch_size
        self.max_batch_size = max(batch_size, max_batch_size)
        self.batch_sizes: list[int] = []  # the limits of the last catch-up's batches
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
        self,
        conn: Connection[Any],
        upto: int | None = None,
        limit: int | None = None,
        ahead: ReadAhead | None = None,
    ) -> Batch:
        """Project the next batch (the next ``limit`` positions, default ``batch_size``)
        in one transaction; with ``ahead``, start reading the next window on its
        connection while this batch is applied."""
        limit = limit or self.batch_size
        outermost = conn.info.transaction_status == TransactionStatus.IDLE
        with conn.transaction(), conn.cursor() as cur:
            if outermost:
                cur.execute(ASYNC_COMMIT)
            positions = self.lock_positions(cur)
            after = min(positions.values())
            window = ahead.take(after, upto) if ahead is not None else None
            if window is None:
                window = read_window(cur, after, limit, upto)
            batch = window.batch
            if ahead is not None and batch.more and batch.done is not None:
                ahead.submit(batch.done, self.next_limit(batch, limit), upto, self.next_limit)
            # The fold covers the whole window: with a projector already past part of it
            # (rebuilt alone), every projector applies it group by group.
            if not (self.fold_messages and max(positions.values()) == after):
                window = window.unfolded()
            stage(cur, window)
            # The statements are sent without waiting for each one's result: the backend
            # runs them back to back, and this thread (which may wait for the parsing
            # thread to let go of the interpreter) is not needed between them.
            with conn.pipeline():
                for projector in self.projectors:
                    position = positions[projector.name]
                    mine = [g for g in (g.after(position) for g in batch.groups) if g]
                    if mine:
                        projector.apply(cur, mine, window.fold)
                if batch.done is not None:
                    self.set_position(cur, batch.done)
            return batch

    def catch_up(self, pool: ConnectionPool[Any], upto: int | None = None) -> int:
        with pool.connection() as conn:
            return self.catch_up_on(conn, upto, read_ahead=from_pool(pool))

    def catch_up_on(
        self,
        conn: Connection[Any],
        upto: int | None = None,
        progress: Callable[[int], None] | None = None,
        read_ahead: Connect | None = None,
    ) -> int:
        """Project batches until the head (or ``upto``); return how many events were read.
        ``read_ahead`` opens a second connection to read the next batch while one is applied
        (used from the second batch on, so a short catch-up never opens it)."""
        total, limit = 0, self.batch_size
        self.batch_sizes = []
        with ReadAhead(read_ahead) if read_ahead is not None else nullcontext() as ahead:
            while True:
                batch = self.run_batch(conn, upto, limit, ahead)
                if batch.done is None:
                    return total
                self.batch_sizes.append(limit)
                total += batch.read
                if progress is not None and batch.read:
                    progress(batch.read)
                if not batch.more:
                    return total
                limit = self.next_limit(batch, limit)

    def next_limit(self, batch: Batch, limit: int) -> int:
        """The window after ``batch`` (read with ``limit``): twice as large, within the
        batch size bounds and what was waiting."""
        return max(self.batch_size, min(limit * 2, batch.waiting, self.max_batch_size))

    def lock_positions(self, cur: Cursor[Any]) -> dict[str, int]:
        """Inside a transaction: hold the positions, pausing every other catch-up."""
        cur.execute(self._ensure, (self.names,))
        return dict(cur.execute(self._lock, (self.names,)).fetchall())

    def set_position(self, cur: Cursor[Any], position: int) -> None:
        cur.execute(self._advance, (position, self.names))
