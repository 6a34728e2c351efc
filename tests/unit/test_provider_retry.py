"""The provider's wait hints and the adaptive limiter's arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge

from application.generators.limiter import AdaptiveLimiter
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


def test_limiter_shrinks_once_per_overload_and_grows_back_to_its_bound() -> None:
    gauge = Gauge("limit", "limit", registry=CollectorRegistry())
    limiter = AdaptiveLimiter(10, gauge, decrease_factor=0.5)
    limiter.overloaded(call_began=float("inf"))
    assert limiter.limit == 5
    limiter.overloaded(call_began=0.0)  # began before that decrease: already answered
    assert limiter.limit == 5
    for _ in range(100):
        limiter.succeeded()
    assert limiter.limit == 10
    assert gauge.collect()[0].samples[0].value == 10
