"""Reading the next window of the log while the current batch is applied.

A backend runs on one core. While it writes batch N's rows, a second connection (and a
client thread, for the parsing of ``projections.staging``) reads and parses batch N + 1,
so a catch-up far behind uses both cores. Read-ahead starts only once a batch has found
more waiting, so a projector near the head never opens the second connection.

A window read ahead is only a guess of where the next batch starts: the batch locks its
positions first and takes the window only if it starts exactly there (another catch-up
may have moved them), else it reads its own. A window is one snapshot with its own
``more`` flag, so gap safety does not depend on which connection read it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from functools import partial
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool, PoolTimeout

from projections.events import Window, read_window
from projections.interpreter import quick_thread_switches

Connect = Callable[[], AbstractContextManager[Connection[Any]]]
# How long read-ahead waits for a pooled connection before reading in line instead.
POOL_WAIT = 1.0


def from_pool(pool: ConnectionPool[Any]) -> Connect:
    """Read-ahead connections from ``pool``, if one is free soon (never a pool timeout)."""
    return partial(pool.connection, timeout=POOL_WAIT)


class ReadAhead:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._resources = ExitStack()
        self._executor: ThreadPoolExecutor | None = None
        self._conn: Connection[Any] | None = None
        self._pending: Future[Window | None] | None = None
        self._unavailable = False  # no second connection: every batch reads in line

    def submit(self, after: int, limit: int, upto: int | None) -> None:
        """Start reading positions ``after`` + 1 to ``after`` + ``limit``."""
        if self._unavailable:
            return
        if self._executor is None:
            self._resources.enter_context(quick_thread_switches())
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="projections-read-ahead")
        self._pending = self._executor.submit(self._read, after, limit, upto)

    def take(self, after: int, upto: int | None) -> Window | None:
        """The window read ahead, if it starts at ``after`` (None: read in line)."""
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        window = pending.result()  # a failed read fails the catch-up, like any other read
        if window is None or (window.after, window.upto) != (after, upto):
            return None
        return window

    def _read(self, after: int, limit: int, upto: int | None) -> Window | None:
        if self._conn is None:
            try:
                self._conn = self._resources.enter_context(self._connect())
            except PoolTimeout:  # every pooled connection is busy
                self._unavailable = True
                return None
        with self._conn.transaction(), self._conn.cursor() as cur:
            return read_window(cur, after, limit, upto)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)  # the connection is only used by its thread
        self._resources.close()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
