"""An AIMD concurrency limiter: how many generator calls may be in flight right now.

It grows by about one slot per limit's worth of successful calls (additive increase) and
shrinks by a factor when the provider signals overload: a 429, a 503 or a timeout
(multiplicative decrease). A call that began before the last decrease cannot shrink the
limit again: its overload was already answered, as TCP reacts once per round trip. The
limit never leaves [1, ``maximum``].

One limiter serves every run its generator works on, so what one run learned about the
provider holds for the next. Its numbers are plain attributes (read and changed only by
the event loop running the calls); waiting for a slot uses a condition of that loop.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import Gauge


class AdaptiveLimiter:
    def __init__(self, maximum: int, gauge: Gauge, *, decrease_factor: float = 0.9) -> None:
        self.maximum = maximum
        self.decrease_factor = decrease_factor
        self.limit = float(maximum)
        self.in_flight = 0
        self._decreased_at = 0.0
        self._gauge = gauge
        self._gauge.set(self.limit)
        self._conditions: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Condition
        ] = weakref.WeakKeyDictionary()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold one slot for a call; yields when the call began (``time.monotonic()``)."""
        condition = self._condition()
        async with condition:
            await condition.wait_for(lambda: self.in_flight < int(self.limit))
            self.in_flight += 1
        try:
            yield time.monotonic()
        finally:
            async with condition:
                self.in_flight -= 1
                condition.notify_all()

    def succeeded(self) -> None:
        self.limit = min(float(self.maximum), self.limit + 1 / self.limit)
        self._gauge.set(self.limit)

    def overloaded(self, call_began: float) -> None:
        if call_began < self._decreased_at:
            return
        self.limit = max(1.0, self.limit * self.decrease_factor)
        self._decreased_at = time.monotonic()
        self._gauge.set(self.limit)

    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        condition = self._conditions.get(loop)
        if condition is None:
            condition = self._conditions[loop] = asyncio.Condition()
        return condition
