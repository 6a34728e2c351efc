"""Generation against a rate-limited, flaky provider: the adaptive limiter against a
fixed-concurrency client, in the same run.

The loopback provider (in a process of its own) admits R calls/s (a token bucket; 429
with ``Retry-After`` above it), answers after 50 ms and fails 10 % of admitted calls
with 503. 0.9 R successful
calls/s is the physical limit. Both clients are the ``openai`` generator with 32 calls
in flight at most; the baseline's limiter never adapts (fixed concurrency: every call
only honours its own ``Retry-After``). Targets (issue 15): successful calls/s at least
0.85 x 0.9 R, under 10 % of calls answered 429, no failed message.

Run: ``python -m bench processor`` or ``python -m bench.processor.bench_provider
[--repeat N] [--segments N] [--rates 50,200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

from prometheus_client import CollectorRegistry, Gauge

from application.generators import GenerationFailed, OpenAIChatGenerator
from application.generators.limiter import AdaptiveLimiter
from tests.fakes.chat_server import API_KEY, chat_server

CONCURRENCY = 32
LATENCY = 0.05
RANDOM_503 = 0.1
CONFIG = {"provider": "openai", "model": "m", "prompt": "Offer for {{plan}}"}


@dataclass(frozen=True)
class Result:
    done: int
    failed: int
    calls: int
    ok_per_s: float
    share_429: float


async def generate_all(generator: OpenAIChatGenerator, segments: int) -> tuple[int, int]:
    """(generated, failed) for ``segments`` segments, 32 at a time as the processor does."""
    keys = iter(range(segments))
    done = failed = 0

    async def worker() -> None:
        nonlocal done, failed
        for key in keys:
            try:
                await generator.generate(CONFIG, {"plan": f"p{key}"})
                done += 1
            except GenerationFailed:
                failed += 1

    try:
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    finally:
        await generator.aclose()
    return done, failed


def serve(config: dict[str, float], pipe: Connection) -> None:
    """The provider, in a process of its own (as a real one is): sends its URL, then, when
    told the run is over, the status of every call it answered."""
    with chat_server(**config) as server:
        pipe.send(server.url)
        pipe.recv()
        pipe.send([r.status for r in server.log])


def measure(rate: float, adaptive: bool, segments: int) -> Result:
    config = {"latency": LATENCY, "rate": rate, "random_503": RANDOM_503}
    pipe, child_pipe = multiprocessing.Pipe()
    provider = multiprocessing.get_context("spawn").Process(target=serve, args=(config, child_pipe))
    provider.start()
    try:
        generator = OpenAIChatGenerator(
            pipe.recv(), API_KEY, concurrency=CONCURRENCY, initial_backoff=0.05, max_backoff=2.0
        )
        if not adaptive:
            gauge = Gauge("fixed_limit", "fixed", registry=CollectorRegistry())
            generator.limiter = AdaptiveLimiter(CONCURRENCY, gauge, adaptive=False)
        began = time.perf_counter()
        done, failed = asyncio.run(generate_all(generator, segments))
        seconds = time.perf_counter() - began
        pipe.send("done")
        statuses: list[str] = pipe.recv()
    finally:
        provider.join(timeout=30)
        provider.kill()
    return Result(
        done,
        failed,
        len(statuses),
        statuses.count("ok") / seconds,
        statuses.count("429") / len(statuses),
    )


def line(rate: float, client: str, result: Result) -> str:
    return (
        f"  R={rate:g} {client:<8} failed={result.failed} done={result.done} "
        f"ok/s={result.ok_per_s:.1f} = {result.ok_per_s / (0.9 * rate):.2f} x 0.9R "
        "(target >= 0.85) "
        f"429s={result.share_429:.1%} (target < 10%) calls={result.calls}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--segments", type=int, default=2000)
    parser.add_argument("--rates", default="50,200")
    args, _ = parser.parse_known_args()
    print(
        f"{args.segments} segments, {LATENCY * 1000:.0f} ms latency, {RANDOM_503:.0%} random 503s, "
        f"at most {CONCURRENCY} in flight"
    )
    for rate in (float(r) for r in args.rates.split(",")):
        for _ in range(args.repeat):
            fixed = measure(rate, False, args.segments)
            adaptive = measure(rate, True, args.segments)
            print(line(rate, "fixed", fixed), flush=True)
            print(line(rate, "adaptive", adaptive), flush=True)
            ratio = adaptive.ok_per_s / fixed.ok_per_s
            print(
                f"  R={rate:g} adaptive / fixed: ok/s ratio {ratio:.2f}; "
                f"429s {adaptive.share_429:.1%} vs {fixed.share_429:.1%}",
                flush=True,
            )


if __name__ == "__main__":
    main()
