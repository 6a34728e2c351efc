"""Keeps the read models caught up: a background thread woken by the log's NOTIFY.

Only the process holding a PostgreSQL advisory lock projects; the others idle and retry,
so N API replicas and workers can all start a runner. Exactly once never depends on the
lock (the position rows are locked per batch); the lock only saves wasted work.
``wait_for`` reads the positions table, so it works from any process: a command's
response waits (bounded) until the read models have passed the events it stored.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from projections.projector import BATCH_SIZE, ProjectionSet
from projections.reader import CHANNEL, EVENTS_TABLE, decode, typed
from projections.registry import build_projectors
from projections.schema import POSITIONS

log = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 0x6E757072  # "nupr"


class ProjectorStatus(NamedTuple):
    name: str
    position: int
    lag_events: int
    lag_seconds: float


# Per read model: its position, the events after it, and the first of them (its age is
# the lag in seconds).
_STATUS = sql.SQL(
    "SELECT n.name, COALESCE(p.position, 0),"
    " GREATEST((SELECT COALESCE(max(notification_id), 0) FROM {events})"
    " - COALESCE(p.position, 0), 0),"
    " (SELECT e.state FROM {events} e WHERE e.notification_id > COALESCE(p.position, 0)"
    " ORDER BY e.notification_id LIMIT 1)"
    " FROM unnest(%s::text[]) AS n(name) LEFT JOIN {positions} p ON p.name = n.name"
    " ORDER BY n.name"
).format(events=sql.Identifier(EVENTS_TABLE), positions=sql.Identifier(POSITIONS))
_MIN_POSITION = sql.SQL(
    "SELECT CASE WHEN count(*) = cardinality(%s::text[]) THEN min(position) ELSE 0 END"
    " FROM {} WHERE name = ANY(%s::text[])"
).format(sql.Identifier(POSITIONS))


class ProjectionRunner:
    def __init__(
        self,
        pool: ConnectionPool[Any],
        conninfo: str,
        *,
        poll_interval: float = 1.0,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.pool = pool
        self.conninfo = conninfo
        self.poll_interval = poll_interval
        self.projections = ProjectionSet(build_projectors(), batch_size=batch_size)
        self.is_leader = False
        self.lock_attempts = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ synchronous
    def catch_up(self) -> int:
        """Project everything committed so far; return how many events were read."""
        return self.projections.catch_up(self.pool)

    def position(self) -> int:
        """The lowest position of the read models (every one has passed it)."""
        names = self.projections.names
        with self.pool.connection() as conn:
            row = conn.execute(_MIN_POSITION, (names, names)).fetchone()
        return int(row[0] or 0) if row else 0

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wait (bounded) until every read model has passed ``position``."""
        deadline = time.monotonic() + timeout
        delay = 0.002
        while self.position() < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)
        return True

    def status(self) -> list[ProjectorStatus]:
        with self.pool.connection() as conn:
            rows = conn.execute(_STATUS, (self.projections.names,)).fetchall()
        now = datetime.now(UTC)
        return [
            ProjectorStatus(
                name,
                int(position),
                int(lag),
                0.0 if first is None else (now - typed(decode(first)["timestamp"])).total_seconds(),
            )
            for name, position, lag, first in rows
        ]

    # ------------------------------------------------------------------ background
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="projection-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self._serve(conn)
            except Exception:
                log.exception("projection runner lost its connection; reconnecting")
                self._stopping.wait(self.poll_interval)
            finally:
                self.is_leader = False  # the session lock died with the connection

    def _serve(self, conn: psycopg.Connection[Any]) -> None:
        while not self._stopping.is_set():
            if not self.is_leader:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
                self.is_leader = bool(row.fetchone()[0])  # type: ignore[index]
                self.lock_attempts += 1
            if self.is_leader:
                try:
                    self.catch_up()
                except Exception:  # the batch rolled back; retry at the next wake-up
                    log.exception("projection batch failed; will retry")
            # Woken by the next NOTIFY, or polls: a missed notification only delays.
            for _ in conn.notifies(timeout=self.poll_interval, stop_after=1):
                pass
