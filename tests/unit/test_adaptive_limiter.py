"""The adaptive limiter at work in the openai generator, against a real rate-limited chat
server on loopback: a 429 pauses every call, only 429s and timeouts shrink the limit, and
paced calls keep 429s rare where a fixed concurrency hammers the provider."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Gauge

from application.generators import OpenAIChatGenerator, ProviderOutage
from application.generators.limiter import AdaptiveLimiter
from tests.fakes.chat_server import API_KEY, ChatServer, chat_server

pytestmark = pytest.mark.unit

CONFIG = {"provider": "openai", "model": "m", "prompt": "Offer for {{plan}}"}
CONCURRENCY = 8


def openai_generator(
    server: ChatServer, *, adaptive: bool = True, **options: float
) -> OpenAIChatGenerator:
    options = {"initial_backoff": 0.01, "max_backoff": 0.05, "timeout": 2.0, **options}
    generator = OpenAIChatGenerator(server.url, API_KEY, concurrency=CONCURRENCY, **options)
    if not adaptive:
        gauge = Gauge("fixed", "fixed", registry=CollectorRegistry())
        generator.limiter = AdaptiveLimiter(CONCURRENCY, gauge, adaptive=False)
    return generator


def generate_all(generator: OpenAIChatGenerator, segments: int, workers: int = CONCURRENCY) -> None:
    keys = iter(range(segments))

    async def worker() -> None:
        for key in keys:
            await generator.generate(CONFIG, {"plan": f"p{key}"})

    async def everything() -> None:
        try:
            await asyncio.gather(*(worker() for _ in range(workers)))
        finally:
            await generator.aclose()

    asyncio.run(everything())


def test_a_429_pauses_every_call_not_only_the_one_it_answered() -> None:
    with chat_server(rate=2) as server:  # an empty bucket: the first call waits ~0.5 s
        generator = openai_generator(server)

        async def told_then_fresh() -> None:
            try:
                told = asyncio.create_task(generator.generate(CONFIG, {"plan": "told"}))
                while generator.limiter.limit == CONCURRENCY:  # until its 429 is answered
                    await asyncio.sleep(0.001)
                await generator.generate(CONFIG, {"plan": "fresh"})
                await told
            finally:
                await generator.aclose()

        asyncio.run(told_then_fresh())
    told_429 = server.log[0]
    fresh = next(r for r in server.log if "fresh" in r.prompt)
    assert told_429.status == "429"
    assert fresh.at - told_429.at >= 0.25, "the fresh call waited out the provider's wait"


@pytest.mark.parametrize(
    ("failure", "retry_after", "shrinks"),
    [
        ("503", None, False),
        ("500", None, False),
        ("429", "0", True),
        ("503", "0", True),  # overloaded, and says when to come back
        ("500", "0", False),
    ],
)
def test_overload_signals_shrink_the_limit_not_random_server_errors(
    failure: str, retry_after: str | None, shrinks: bool
) -> None:
    with chat_server(fail_every=2, failure=failure, failure_retry_after=retry_after) as server:
        generator = openai_generator(server)
        generate_all(generator, segments=4, workers=1)
    assert [r.status for r in server.log].count(failure) == 3  # ok, fail, ok, ... ok
    assert (generator.limiter.limit <= CONCURRENCY / 2) is shrinks


def test_a_timeout_shrinks_the_limit() -> None:
    with chat_server(latency=0.5) as server:
        generator = openai_generator(server, timeout=0.1, outage_seconds=0.3)
        with pytest.raises(ProviderOutage, match="timed out"):
            generate_all(generator, segments=1, workers=1)
    assert generator.limiter.limit <= CONCURRENCY / 2


def test_paced_calls_keep_429s_rare_where_a_fixed_concurrency_hammers_the_provider() -> None:
    shares = {}
    for adaptive in (False, True):
        with chat_server(rate=40, latency=0.02) as server:
            generate_all(openai_generator(server, adaptive=adaptive), segments=100)
        statuses = [r.status for r in server.log]
        assert statuses.count("ok") == 100
        shares[adaptive] = statuses.count("429") / len(statuses)
    assert shares[True] < 0.2, "paced: a few 429s while the limit finds the rate"
    assert shares[False] > 0.5, "fixed: most calls run into the empty bucket"
