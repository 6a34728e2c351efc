"""Generation against a rate-limited, flaky provider: the adaptive limiter against a
fixed-concurrency client, in the same run.

The loopback provider admits R calls/s (a token bucket; 429 with ``Retry-After`` above
it), answers after 50 ms and fails 10 % of admitted calls with 503. 0.9 R successful
calls/s is the physical limit. Run: ``python -m bench.processor.bench_provider``.
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry, Gauge

from application.generators import OpenAIChatGenerator
from application.generators.limiter import AdaptiveLimiter
from tests.fakes.chat_server import API_KEY, chat_server

SEGMENTS = 2000
CONCURRENCY = 32
CONFIG = {"provider": "openai", "model": "m", "prompt": "Offer for {{plan}}"}


async def generate_all(generator: OpenAIChatGenerator) -> int:
    keys = iter(range(SEGMENTS))
    done = 0

    async def worker() -> None:
        nonlocal done
        for key in keys:
            await generator.generate(CONFIG, {"plan": f"p{key}"})
            done += 1

    try:
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    finally:
        await generator.aclose()
    return done


def measure(rate: float, adaptive: bool) -> dict[str, float]:
    with chat_server(latency=0.05, rate=rate, random_503=0.1) as server:
        generator = OpenAIChatGenerator(
            server.url, API_KEY, concurrency=CONCURRENCY, initial_backoff=0.05, max_backoff=2.0
        )
        if not adaptive:  # a limiter that never shrinks: fixed concurrency
            gauge = Gauge("fixed_limit", "fixed", registry=CollectorRegistry())
            generator.limiter = AdaptiveLimiter(CONCURRENCY, gauge, decrease_factor=1.0)
        began = time.perf_counter()
        done = asyncio.run(generate_all(generator))
        seconds = time.perf_counter() - began
        statuses = [r.status for r in server.log]
    return {
        "done": done,
        "ok_per_s": statuses.count("ok") / seconds,
        "share_429": statuses.count("429") / len(statuses),
        "calls": len(statuses),
    }


def main() -> None:
    for rate in (50, 200):
        for adaptive in (False, True):
            result = measure(rate, adaptive)
            print(
                f"R={rate} {'adaptive' if adaptive else 'fixed   '} "
                f"done={result['done']} ok/s={result['ok_per_s']:.1f} "
                f"({result['ok_per_s'] / (0.9 * rate):.2f} x 0.9R, target >= 0.85) "
                f"429s={result['share_429']:.1%} (target < 10%) calls={result['calls']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
