"""When to retry a provider call: the provider's own wait hints, and the outage clock.

A provider states how long to wait in ``Retry-After`` (seconds, or an HTTP date) or in
OpenAI's ``x-ratelimit-reset-requests`` / ``x-ratelimit-reset-tokens`` (durations such as
``1s``, ``6m0s``, ``20ms``). Transient failures are retried for as long as the provider
makes progress: the ``ProgressClock`` knows when a call last succeeded, and a call gives
up only when none has for the whole outage window.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

RESET_HEADERS = ("x-ratelimit-reset-requests", "x-ratelimit-reset-tokens")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float | None:
    """Seconds in a duration such as ``1s``, ``6m0s``, ``20ms`` or ``1h2m3.5s``."""
    text = text.strip()
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def parse_retry_after(text: str, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP date."""
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def provider_wait(response: httpx.Response) -> float | None:
    """How long the provider asked us to wait: ``Retry-After`` when it sent one, else the
    longest of its rate-limit reset durations; None when it said nothing usable."""
    retry_after = response.headers.get("retry-after")
    if retry_after is not None:
        seconds = parse_retry_after(retry_after)
        if seconds is not None:
            return seconds
    resets = [parse_duration(response.headers.get(name, "")) for name in RESET_HEADERS]
    known = [seconds for seconds in resets if seconds is not None]
    return max(known) if known else None


class ProgressClock:
    """When a provider call last succeeded (``time.monotonic()``)."""

    def __init__(self) -> None:
        self.last_success = float("-inf")

    def succeeded(self) -> None:
        self.last_success = time.monotonic()

    def stalled_for(self, since: float) -> float:
        """Seconds without a success, counting from ``since`` at the earliest (a call that
        starts after a long idle spell gets the whole window)."""
        return time.monotonic() - max(self.last_success, since)
