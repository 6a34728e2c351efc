"""Which claimed deliveries run now, and which wait their turn in this dispatcher.

At most ``per_endpoint`` run to one endpoint and ``total`` in all; the others wait in
claim order and start the moment a slot frees, with no trip to the database between
them. Claims fill up to twice the slots, so the next delivery is at hand when one ends.
A waiting delivery waits at most one attempt's time (its endpoint's slots are each freed
within the timeout), which the claim's lease covers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from uuid import UUID

from application.webhooks.outbox import Claimed

AHEAD = 2  # claims fill this many times the slots


class Slots:
    def __init__(self, total: int, per_endpoint: int, start: Callable[[Claimed], None]) -> None:
        self.total = total
        self.per_endpoint = per_endpoint
        self._start = start
        self.running: dict[UUID, int] = {}
        self.waiting: dict[UUID, deque[Claimed]] = {}
        self.running_total = 0

    def held(self) -> dict[UUID, int]:
        """Per endpoint, its deliveries running or waiting here."""
        held = dict(self.running)
        for webhook_id, queue in self.waiting.items():
            held[webhook_id] = held.get(webhook_id, 0) + len(queue)
        return held

    def claimable(self) -> tuple[int, int]:
        """How many rows to claim in all, and per endpoint (less what it holds)."""
        waiting = sum(len(queue) for queue in self.waiting.values())
        return AHEAD * self.total - self.running_total - waiting, AHEAD * self.per_endpoint

    def add(self, claimed: Iterable[Claimed]) -> None:
        for item in claimed:
            self.waiting.setdefault(item.webhook_id, deque()).append(item)
        self._fill()

    def done(self, webhook_id: UUID) -> None:
        self.running[webhook_id] -= 1
        self.running_total -= 1
        if not self.running[webhook_id]:
            del self.running[webhook_id]
        self._fill(first=webhook_id)

    def _fill(self, first: UUID | None = None) -> None:
        order = list(self.waiting)
        if first in self.waiting:  # the endpoint whose slot just freed goes first
            order.remove(first)  # type: ignore[arg-type]
            order.insert(0, first)  # type: ignore[arg-type]
        for webhook_id in order:
            queue = self.waiting[webhook_id]
            while (
                queue
                and self.running_total < self.total
                and self.running.get(webhook_id, 0) < self.per_endpoint
            ):
                self.running[webhook_id] = self.running.get(webhook_id, 0) + 1
                self.running_total += 1
                self._start(queue.popleft())
            if not queue:
                del self.waiting[webhook_id]
