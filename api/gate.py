"""Bounds on the heavy requests one server process runs at once.

A command on a campaign loads its whole aggregate (a 20,000-segment campaign is tens of
MB and a few seconds) and holds pool connections while it does. Fifty at once on one
campaign would load fifty copies, wait on the pools until they time out (503 while the
database is healthy) and all but one would then be refused anyway. So, per process:

- commands on one campaign run one at a time (``campaign``), and each reads the campaign's
  status only once it holds its turn, so all but the first are refused from that status
  without loading anything;
- at most ``heavy`` commands run at once (``heavy``), fewer than the pools hold, so a
  command never waits for a connection: it waits here, on the event loop, without a
  thread, a connection or a timeout;
- at most ``uploads`` large bodies are read, parsed and written at once (``upload``).

The waits are asyncio waits: a waiting request holds no worker thread. Several processes
(replicas) each have their own gate; the event store's optimistic concurrency still
decides between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager


class Gate:
    def __init__(self, *, heavy: int, uploads: int) -> None:
        self._heavy = asyncio.Semaphore(heavy)
        self._uploads = asyncio.Semaphore(uploads)
        self._turns: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def campaign(self, campaign_id: Hashable) -> AsyncIterator[None]:
        """One command at a time on ``campaign_id``; its lock lives while anyone uses it."""
        lock, users = self._turns.get(campaign_id, (asyncio.Lock(), 0))
        self._turns[campaign_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turns[campaign_id]
            if users == 1:
                del self._turns[campaign_id]
            else:
                self._turns[campaign_id] = (lock, users - 1)

    @asynccontextmanager
    async def heavy(self) -> AsyncIterator[None]:
        async with self._heavy:
            yield

    @asynccontextmanager
    async def upload(self) -> AsyncIterator[None]:
        async with self._uploads:
            yield

    def campaigns_in_use(self) -> int:
        """How many campaigns have a command running or waiting (their locks kept)."""
        return len(self._turns)
