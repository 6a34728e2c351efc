"""The dispatcher: follows the log into the outbox and delivers what is due.

A thread of its own runs an asyncio loop. Each round it follows the log (``follower``),
records finished attempts (``outbox``), and claims due rows for its slots (``slots``):
``webhook_concurrency`` running in all and ``webhook_endpoint_concurrency`` per endpoint,
so an endpoint that never answers holds only its own slots, each for at most the
timeout, and every other endpoint's deliveries go on. It wakes on the log's NOTIFY, the outbox's, a
finished attempt, or the poll interval. Any number of dispatchers (one per processor)
share the work: the follower's position and the outbox rows are claimed with SKIP LOCKED.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from uuid import UUID

import psycopg
from psycopg import sql

from application.database import ConnectionInfo, open_pool
from application.metrics import WEBHOOK_BACKLOG, WEBHOOK_DELIVERIES, WEBHOOK_OLDEST_SECONDS
from application.settings import Settings
from application.store import EVENTS_TABLE
from application.webhooks.follower import Follower
from application.webhooks.outbox import Claimed, Outbox, Result
from application.webhooks.schema import CHANNEL
from application.webhooks.sender import LEASE_SECONDS, Clients, send
from application.webhooks.slots import Slots

log = logging.getLogger(__name__)
BACKLOG_EVERY_SECONDS = 5.0  # how often the backlog gauges are read


class WebhookDispatcher:
    def __init__(
        self, connection: ConnectionInfo, settings: Settings, *, poll_interval: float = 1.0
    ) -> None:
        self.connection = connection
        self.settings = settings
        self.poll_interval = poll_interval
        self.pool = open_pool(connection, max_size=2, name="nudgescribe-webhooks")
        self.follower = Follower(self.pool, settings.webhook_retry_seconds)
        self.outbox = Outbox(self.pool)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        if self._loop is not None and self._wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._wake.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.pool.close()

    def _run(self) -> None:
        asyncio.run(self._main())

    # ---------------------------------------------------------------- the loop
    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()
        clients = Clients(self.settings.webhook_endpoint_concurrency)
        finished: list[Result] = []
        tasks: set[asyncio.Task[None]] = set()

        def start(item: Claimed) -> None:
            task = asyncio.create_task(self._deliver(clients, item, slots, finished))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        slots = Slots(
            self.settings.webhook_concurrency, self.settings.webhook_endpoint_concurrency, start
        )
        logged = asyncio.Event()  # the log has news to follow
        logged.set()
        listener = asyncio.create_task(self._listen(wake, logged))
        followed_at = backlog_at = 0.0
        log.info("webhook dispatcher started")
        try:
            while not self._stopping.is_set():
                wake.clear()
                try:
                    if logged.is_set() or time.monotonic() - followed_at > self.poll_interval:
                        logged.clear()
                        followed_at = time.monotonic()
                        if (await asyncio.to_thread(self.follower.follow)).positions:
                            logged.set()  # one window a round: deliveries start meanwhile
                            wake.set()
                    done, finished[:] = finished[:], []
                    claimed = await asyncio.to_thread(
                        self._record_and_claim, done, slots.held(), *slots.claimable()
                    )
                    if time.monotonic() - backlog_at > BACKLOG_EVERY_SECONDS:
                        backlog_at = time.monotonic()
                        depth, oldest = await asyncio.to_thread(self.outbox.backlog)
                        WEBHOOK_BACKLOG.set(depth)
                        WEBHOOK_OLDEST_SECONDS.set(oldest)
                except Exception:
                    log.exception("webhook dispatcher: database error; retrying")
                    await self._sleep(wake, self.poll_interval)
                    continue
                slots.add(claimed)
                if not finished:
                    await self._sleep(wake, self.poll_interval)
        finally:
            listener.cancel()
            # Rows waiting or running here are due again once their lease passes.
            slots.waiting.clear()
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(listener, *tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._record, finished)
            await clients.close()
            log.info("webhook dispatcher stopped")

    async def _deliver(
        self, clients: Clients, item: Claimed, slots: Slots, finished: list[Result]
    ) -> None:
        try:
            result = await send(
                clients,
                item,
                allow_private=self.settings.webhook_allow_private,
                backoff_seconds=self.settings.webhook_backoff_seconds,
            )
            finished.append(result)
        finally:
            if not self._stopping.is_set():
                slots.done(item.webhook_id)
            assert self._wake is not None
            self._wake.set()

    def _record_and_claim(
        self, results: list[Result], held: dict[UUID, int], limit: int, per_endpoint: int
    ) -> list[Claimed]:
        """One hop to a worker thread: finished attempts recorded, then the next claimed."""
        self._record(results)
        return self.outbox.claim(held, per_endpoint, limit, LEASE_SECONDS)

    def _record(self, results: list[Result]) -> None:
        if not results:
            return
        disabled = self.outbox.record(results)
        for result in results:
            WEBHOOK_DELIVERIES.labels(result.state if result.state != "pending" else "retry").inc()
        for webhook_id in disabled:
            log.warning("webhook %s disabled: failing for the whole retry window", webhook_id)

    async def _sleep(self, wake: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), seconds)

    async def _listen(self, wake: asyncio.Event, logged: asyncio.Event) -> None:
        """Set ``wake`` on each NOTIFY of the log or the outbox (and ``logged`` on the
        log's); reconnect when lost."""
        while not self._stopping.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.connection.conninfo(), autocommit=True, connect_timeout=5
                ) as conn:
                    for channel in (EVENTS_TABLE, CHANNEL):
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    async for notice in conn.notifies():
                        if notice.channel == EVENTS_TABLE:
                            logged.set()
                        wake.set()
            except psycopg.Error:
                await asyncio.sleep(self.poll_interval)
