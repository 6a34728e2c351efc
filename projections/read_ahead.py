"""Reading the next windows of the log while the current batch is applied.

A backend runs on one core. While it writes batch N's rows, a second connection (and a
client thread, for the parsing and folding of ``projections.events``) reads and parses
the windows after it, so a catch-up far behind uses both cores. Read-ahead starts only
once a batch has found more waiting, so a projector near the head never opens the
second connection.

The reader does not wait to be asked for each window: from where it was started it
reads window after window (each where the last one ended, sized as the batches grow),
up to ``DEPTH`` windows ahead of the batches. Parsing a window costs about as much as
applying it, so a reader that waited for each batch to ask would leave one side idle
half the time.

A window read ahead is only a guess of where the next batch starts: the batch locks its
positions first and takes the window only if it starts exactly there (another catch-up
may have moved them), else it stops the reader and reads its own. A window is one
snapshot with its own ``more`` flag, so gap safety does not depend on which connection
read it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, suppress
from functools import partial
from typing import Any

from psycopg import Connection
from psycopg_pool import ConnectionPool, PoolTimeout

from projections.events import Batch, Window, read_window
from projections.interpreter import quick_thread_switches

Connect = Callable[[], AbstractContextManager[Connection[Any]]]
Grow = Callable[[Batch, int], int]  # the next window's size after a batch of a size
# How long read-ahead waits for a pooled connection before reading in line instead.
POOL_WAIT = 1.0
DEPTH = 2  # windows read ahead of the batches, at most (each held parsed in memory)
_END = object()  # the reader stopped: no more windows (the log ended, or it failed)


def from_pool(pool: ConnectionPool[Any]) -> Connect:
    """Read-ahead connections from ``pool``, if one is free soon (never a pool timeout)."""
    return partial(pool.connection, timeout=POOL_WAIT)


class ReadAhead:
    def __init__(self, connect: Connect) -> None:
        self._connect = connect
        self._resources = ExitStack()
        self._conn: Connection[Any] | None = None
        self._unavailable = False  # no second connection: every batch reads in line
        self._switching = False  # threads switch quickly while this read-ahead lasts
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._windows: queue.Queue[Any] = queue.Queue(DEPTH)

    def submit(self, after: int, limit: int, upto: int | None, grow: Grow | None = None) -> None:
        """Read from position ``after`` on: ``limit`` positions, then (with ``grow``) the
        windows after it, while the log holds more. Nothing changes if windows are being
        read already (``take`` stops a reader that went astray)."""
        if self._unavailable or self._thread is not None:
            return
        if not self._switching:
            self._resources.enter_context(quick_thread_switches())
            self._switching = True
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._read,
            args=(after, limit, upto, grow),
            name="projections-read-ahead",
            daemon=True,
        )
        self._thread.start()

    def take(self, after: int, upto: int | None) -> Window | None:
        """The next window read ahead, if it starts at ``after`` (None: read in line)."""
        if self._thread is None:
            return None
        item = self._windows.get()
        if isinstance(item, BaseException):
            self._halt()
            raise item  # a failed read fails the catch-up, like any other read
        if item is _END or (item.after, item.upto) != (after, upto):
            self._halt()
            return None
        return item  # type: ignore[no-any-return]

    def _read(self, after: int, limit: int, upto: int | None, grow: Grow | None) -> None:
        try:
            if self._conn is None:
                try:
                    self._conn = self._resources.enter_context(self._connect())
                except PoolTimeout:  # every pooled connection is busy
                    self._unavailable = True
                    return
            while not self._stop.is_set():
                with self._conn.transaction(), self._conn.cursor() as cur:
                    window = read_window(cur, after, limit, upto)
                self._windows.put(window)  # waits while DEPTH windows are unused
                batch = window.batch
                if grow is None or not batch.more or batch.done is None:
                    return
                after, limit = batch.done, grow(batch, limit)
        except BaseException as error:  # handed to the batch that takes it
            self._windows.put(error)
        finally:
            self._windows.put(_END)

    def _halt(self) -> None:
        """Stop the reader and drop what it read."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        while thread.is_alive():
            with suppress(queue.Empty):  # unblock a reader waiting to put a window
                self._windows.get(timeout=0.05)
        while not self._windows.empty():
            self._windows.get_nowait()

    def close(self) -> None:
        self._halt()
        self._resources.close()

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
