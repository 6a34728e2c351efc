"""Projectors and the batch loop that runs them exactly once.

A projector is a dispatch table: event type -> handler. A batch is up to ``batch_size``
events read from the log after the lowest position of the projectors; it is split into
runs of consecutive events of one type (a group), and each group is applied by its
handler as set-based SQL reading the group's position range straight from the log. Where
a group could touch one row twice, the statement keeps one event per row (DISTINCT ON,
last or first as the event's semantics say), which equals applying them one by one.

One transaction per batch holds the view writes of every projector and their positions,
and the position rows are locked FOR UPDATE first: two catch-ups racing (two processes,
or a runner thread and a test) serialise on them, so no event is applied twice and none
is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby
from typing import Any, ClassVar

from psycopg import Connection, Cursor, sql
from psycopg_pool import ConnectionPool

from projections.decoding import FIELDS
from projections.events import EVENTS_IN_RANGE, Event, read_events
from projections.schema import POSITIONS, table

Handler = Callable[[Cursor[Any], list[Event]], None]
BATCH_SIZE = 500
# The group's last event per campaign, as ``e`` (for updates the latest event decides).
LAST_PER_CAMPAIGN = (
    "(SELECT DISTINCT ON (e.cid) e.* FROM {events} AS e ORDER BY e.cid, e.id DESC) AS e"
)


def group_params(events: Sequence[Event]) -> dict[str, Any]:
    """The statement parameters of a group: its position range and its campaigns."""
    return {
        "lo": events[0].position,
        "hi": events[-1].position,
        "ids": list(dict.fromkeys(e.campaign_id for e in events)),
    }


class Projector:
    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]

    def __init__(self, schema: str | None = None) -> None:
        self.schema = schema
        self.handlers: dict[str, Handler] = {}

    def sql(self, template: str) -> sql.Composed:
        """Format ``template``: {table} names (without ``rm_``), {events} (the group's
        events as ``e``, state in ``e.j``) and the decoded fields of ``FIELDS``."""
        names = {name.removeprefix("rm_"): table(name, self.schema) for name in self.tables}
        return sql.SQL(template).format(**names, **FIELDS, events=EVENTS_IN_RANGE)

    def statements(self, *templates: str) -> Handler:
        """A handler that runs these statements, in order, over the group."""
        composed = [self.sql(template) for template in templates]

        def handle(cur: Cursor[Any], events: list[Event]) -> None:
            params = group_params(events)
            for statement in composed:
                cur.execute(statement, params)

        return handle

    def apply(self, cur: Cursor[Any], events: Sequence[Event]) -> None:
        for type_name, run in groupby(events, key=lambda e: e.type):
            handler = self.handlers.get(type_name)
            if handler is not None:
                handler(cur, list(run))
        self.after_batch(cur, events)

    def after_batch(self, cur: Cursor[Any], events: Sequence[Event]) -> None:
        """Hook for per-batch derived columns (must not depend on where batches end)."""


class ProjectionSet:
    """Projectors sharing one positions table (in ``schema``) and one batch loop."""

    def __init__(
        self,
        projectors: Sequence[Projector],
        schema: str | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.projectors = list(projectors)
        self.names = [p.name for p in self.projectors]
        self.batch_size = batch_size
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

    def run_batch(self, conn: Connection[Any], upto: int | None = None) -> int:
        """Project the next batch in one transaction; return how many events it read."""
        with conn.transaction(), conn.cursor() as cur:
            positions = self.lock_positions(cur)
            events = read_events(cur, min(positions.values()), self.batch_size, upto)
            if not events:
                return 0
            for projector in self.projectors:
                after = positions[projector.name]
                mine = [e for e in events if e.position > after]
                if mine:
                    projector.apply(cur, mine)
            self.set_position(cur, events[-1].position)
            return len(events)

    def catch_up(self, pool: ConnectionPool[Any], upto: int | None = None) -> int:
        with pool.connection() as conn:
            return self.catch_up_on(conn, upto)

    def catch_up_on(
        self,
        conn: Connection[Any],
        upto: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        total = 0
        while read := self.run_batch(conn, upto):
            total += read
            if progress is not None:
                progress(read)
        return total

    def lock_positions(self, cur: Cursor[Any]) -> dict[str, int]:
        """Inside a transaction: hold the positions, pausing every other catch-up."""
        cur.execute(self._ensure, (self.names,))
        return dict(cur.execute(self._lock, (self.names,)).fetchall())

    def set_position(self, cur: Cursor[Any], position: int) -> None:
        cur.execute(self._advance, (position, self.names))
