"""An AIMD limiter: how many generator calls may be in flight, and how fast they start.

``limit`` is the number of calls in flight the provider takes without complaint. Below
its maximum, calls start paced, one every ``round trip / limit`` (Little's law), so a
limit of 2.5 means 2.5 calls in flight on average, not bursts of 3 and pauses; and at
most ``ceil(limit)`` are in flight. The rules, each defined here once:

* A success grows the limit by about one call per round trip (``1 / limit`` each), but
  by no more than ``round trip / GROWTH_SECONDS``: with short round trips, growing a
  call per round trip would find the provider's rate limit again a few round trips after
  every halving, and earn a 429 each time.
* An overload signal (a 429, a 503 with a ``Retry-After``, or a timeout) halves it, once
  per round trip: a call that began before the last decrease cannot shrink the limit
  again, as TCP reacts once per round trip. Other failures (e.g. a bare 503 now and then)
  do not change it: an overloaded provider says so (429, or 503 with when to come back),
  and shrinking on random errors would cap the limit at about one call per error.
* A provider's wait (``Retry-After`` on a 429 or a 503) pauses every call's start, not only the
  one that was told: the provider's bucket is empty for all of them. Paced starts then
  resume one at a time instead of all at once.

The limit never leaves [``MINIMUM``, ``maximum``]; below 1 it means one call every few
round trips. One limiter serves every run its generator works on, so what one run learned
about the provider holds for the next. Its numbers are plain attributes (read and changed
only by the event loop running the calls); waiting for a slot uses a condition of that loop.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import Gauge

MINIMUM = 0.1  # one call every ten round trips at the slowest
GROWTH_SECONDS = 1.0  # the limit grows at most e-fold in this time
RTT_WEIGHT = 0.1  # the round trip estimate moves a tenth of the way to each new sample


class AdaptiveLimiter:
    def __init__(self, maximum: int, gauge: Gauge, *, adaptive: bool = True) -> None:
        self.maximum = maximum
        self.adaptive = adaptive  # False: a fixed concurrency of ``maximum`` (a baseline)
        self.limit = float(maximum)
        self.in_flight = 0
        self.round_trip: float | None = None  # seconds, of successful calls; None: none yet
        self._decreased_at = 0.0
        self._next_start = 0.0
        self._paused_until = 0.0
        self._gauge = gauge
        self._gauge.set(self.limit)
        self._conditions: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Condition
        ] = weakref.WeakKeyDictionary()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[float]:
        """Hold one slot for a call, from its paced start; yields when the call began
        (``time.monotonic()``)."""
        condition = self._condition()
        async with condition:
            await condition.wait_for(lambda: self.in_flight < math.ceil(self.limit))
            self.in_flight += 1
        try:
            yield await self._turn()
        finally:
            async with condition:
                self.in_flight -= 1
                condition.notify_all()

    def succeeded(self, call_began: float) -> None:
        took = time.monotonic() - call_began
        rtt = self.round_trip
        self.round_trip = took if rtt is None else rtt + RTT_WEIGHT * (took - rtt)
        if self.adaptive:
            self._set_limit(self.limit + min(1 / self.limit, self.round_trip / GROWTH_SECONDS))

    def overloaded(self, call_began: float) -> None:
        if not self.adaptive or call_began < self._decreased_at:
            return
        self._set_limit(self.limit / 2)
        self._decreased_at = time.monotonic()

    def pause(self, seconds: float) -> None:
        """The provider asked to wait: no call starts for ``seconds``."""
        if self.adaptive:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def _turn(self) -> float:
        """Wait until this call may start: after any pause, and one paced interval after
        the previous start. Returns the start time."""
        while True:
            now = time.monotonic()
            start = max(self._next_start, self._paused_until)
            if start <= now:
                self._next_start = now + self._interval()
                return now
            await asyncio.sleep(start - now)

    def _interval(self) -> float:
        """No pacing at the maximum: the configured bound limits then, not the provider,
        and pacing at exactly the rate the slots allow would only add waits to jitter."""
        if not self.adaptive or self.round_trip is None or self.limit >= self.maximum:
            return 0.0
        return self.round_trip / self.limit

    def _set_limit(self, limit: float) -> None:
        self.limit = min(float(self.maximum), max(MINIMUM, limit))
        self._gauge.set(self.limit)

    def _condition(self) -> asyncio.Condition:
        loop = asyncio.get_running_loop()
        condition = self._conditions.get(loop)
        if condition is None:
            condition = self._conditions[loop] = asyncio.Condition()
        return condition
