"""The Generating phase: concurrent generator calls, results saved in batches.

Generator calls run concurrently (bounded); a single recorder coroutine owns the
aggregate and saves the results every ``batch_size`` results or ``flush_seconds``,
whichever comes first, in a worker thread so generation goes on while it saves. The
results queue is bounded, so a run of any size holds at most a few batches in memory.
Only segments the loaded aggregate still lacks are generated: a segment recorded before
a crash is never sent to the generator again. A segment the generator refuses
(``SegmentRefused``) is recorded like a result, as that message's failure; any other
``GenerationFailed`` stops the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from application.generators import Generated, GenerationFailed, Generator, SegmentRefused
from domain.campaign import Campaign

_END = object()

Outcome = Generated | SegmentRefused
Recorder = Callable[[Campaign, list[tuple[str, Outcome]]], Campaign]


@dataclass(frozen=True)
class GenerationOptions:
    concurrency: int = 16
    batch_size: int = 100
    flush_seconds: float = 0.5


async def generate_pending(
    campaign: Campaign,
    generator: Generator,
    record: Recorder,
    options: GenerationOptions,
    stopping: Callable[[], bool] = lambda: False,
) -> tuple[Campaign, str | None]:
    """Generate every pending segment; return the campaign and the first failure, if any.
    ``stopping()`` true: take no more segments, record those already generated, return."""
    run = campaign.current_run
    keys = campaign.pending_generations()
    if run is None or not keys:
        return campaign, None
    ai_config = dict(campaign.ai_config)
    segments = run.segments
    results: asyncio.Queue[Any] = asyncio.Queue(maxsize=2 * options.batch_size)
    failures: list[str] = []
    pending = iter(keys)

    async def call_generator() -> None:
        for key in pending:  # one shared iterator: each key is taken by one coroutine
            if failures or stopping():
                return
            try:
                generated: Outcome = await generator.generate(ai_config, segments[key].values)
            except SegmentRefused as refusal:
                generated = refusal
            except GenerationFailed as error:
                failures.append(f"segment {key}: {error}")
                return
            await results.put((key, generated))

    async def produce() -> None:
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(options.concurrency, len(keys))):
                    group.create_task(call_generator())
        finally:
            await results.put(_END)

    producer = asyncio.create_task(produce())
    try:
        campaign = await _record_in_batches(campaign, results, record, options)
        await producer
    finally:
        producer.cancel()
        await generator.aclose()
    return campaign, (failures[0] if failures else None)


async def _record_in_batches(
    campaign: Campaign,
    results: asyncio.Queue[Any],
    record: Recorder,
    options: GenerationOptions,
) -> Campaign:
    loop = asyncio.get_running_loop()
    batch: list[tuple[str, Outcome]] = []
    deadline = 0.0
    while True:
        timeout = max(0.0, deadline - loop.time()) if batch else None
        try:
            item = await asyncio.wait_for(results.get(), timeout)
        except TimeoutError:
            item = None
        if item is _END:
            break
        if item is not None:
            if not batch:
                deadline = loop.time() + options.flush_seconds
            batch.append(item)
        if batch and (item is None or len(batch) >= options.batch_size):
            campaign = await asyncio.to_thread(record, campaign, batch)
            batch = []
    if batch:
        campaign = await asyncio.to_thread(record, campaign, batch)
    return campaign
