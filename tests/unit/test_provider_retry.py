"""The provider's wait hints and the adaptive limiter's arithmetic."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge

from application.generators.limiter import MINIMUM, AdaptiveLimiter
from application.generators.retry import parse_duration, parse_retry_after, provider_wait

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("soon", None)],
)
def test_rate_limit_reset_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("later") is None


def test_retry_after_wins_over_the_reset_headers_which_are_used_without_it() -> None:
    both = httpx.Response(429, headers={"retry-after": "2", "x-ratelimit-reset-requests": "6m0s"})
    resets = httpx.Response(
        429, headers={"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "20ms"}
    )
    assert provider_wait(both) == 2.0
    assert provider_wait(resets) == 1.0
    assert provider_wait(httpx.Response(503)) is None


def limiter(maximum: int = 10, *, adaptive: bool = True) -> tuple[AdaptiveLimiter, Gauge]:
    gauge = Gauge("limit", "limit", registry=CollectorRegistry())
    return AdaptiveLimiter(maximum, gauge, adaptive=adaptive), gauge


def succeed(limiter: AdaptiveLimiter, round_trip: float, times: int = 1) -> None:
    for _ in range(times):
        limiter.succeeded(call_began=time.monotonic() - round_trip)


def test_limiter_halves_once_per_round_trip_and_grows_back_to_its_bound() -> None:
    adaptive, gauge = limiter(10)
    adaptive.overloaded(call_began=float("inf"))
    assert adaptive.limit == 5
    adaptive.overloaded(call_began=0.0)  # began before that decrease: already answered
    assert adaptive.limit == 5
    succeed(adaptive, round_trip=0.05, times=200)
    assert adaptive.limit == 10
    assert gauge.collect()[0].samples[0].value == 10


def test_limiter_never_leaves_its_bounds() -> None:
    adaptive, _ = limiter(4)
    for _ in range(20):
        adaptive.overloaded(call_began=float("inf"))
    assert adaptive.limit == MINIMUM
    succeed(adaptive, round_trip=1.0, times=1000)
    assert adaptive.limit == 4


def test_limiter_grows_a_call_per_round_trip_and_no_faster_than_e_fold_a_second() -> None:
    slow, _ = limiter(10)
    slow.overloaded(call_began=float("inf"))  # 5
    succeed(slow, round_trip=2.0)  # a long round trip: one call per round trip, 1/5 each
    assert slow.limit == pytest.approx(5.2, abs=0.01)
    fast, _ = limiter(10)
    fast.overloaded(call_began=float("inf"))  # 5
    succeed(fast, round_trip=0.05)  # 100 successes a second at 5: grows 5 % of 5 per 5
    assert fast.limit == pytest.approx(5.05, abs=0.01)


def test_a_fixed_limiter_neither_moves_nor_pauses() -> None:
    fixed, _ = limiter(10, adaptive=False)
    fixed.overloaded(call_began=float("inf"))
    fixed.pause(60)
    succeed(fixed, round_trip=0.05)
    assert fixed.limit == 10

    async def start() -> float:
        async with fixed.slot() as began:
            return began

    before = time.monotonic()
    assert asyncio.run(start()) - before < 1, "no pause, no pacing"
