"""Every metric the application layer records, defined in one place.

They live in one process-wide registry (``REGISTRY``): the store and the generators are
shared by whatever runs in the process (API workers, the in-process processor, a
``nudgescribe processor``), and whoever serves ``/metrics`` exports it beside its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

EVENTS_APPENDED = Counter(
    "nudgescribe_events_appended_total",
    "Events appended to the log by this process, by event type",
    ["type"],
    registry=REGISTRY,
)
GENERATOR_CALLS = Counter(
    "nudgescribe_generator_calls_total",
    "Message generation calls (each one after its own retries)",
    ["generator"],
    registry=REGISTRY,
)
GENERATOR_ERRORS = Counter(
    "nudgescribe_generator_errors_total",
    "Message generation calls that failed for good",
    ["generator"],
    registry=REGISTRY,
)
GENERATOR_LATENCY = Histogram(
    "nudgescribe_generator_duration_seconds",
    "Latency of one message generation call, retries included",
    ["generator"],
    buckets=(0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
GENERATOR_CONCURRENCY_LIMIT = Gauge(
    "nudgescribe_generator_concurrency_limit",
    "Generator calls allowed in flight now (adapts to the provider's answers)",
    ["generator"],
    registry=REGISTRY,
)
GENERATOR_RATE_LIMITED = Counter(
    "nudgescribe_generator_rate_limited_total",
    "Provider answers 429 (too many requests), each retried",
    ["generator"],
    registry=REGISTRY,
)
GENERATOR_RETRIES = Counter(
    "nudgescribe_generator_retries_total",
    "Provider calls retried after a transient failure (429, 5xx, timeout, connection)",
    ["generator"],
    registry=REGISTRY,
)

WEBHOOK_DELIVERIES = Counter(
    "nudgescribe_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered, retry (failed, tried again later),"
    " failed (given up at the end of the retry window)",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_BACKLOG = Gauge(
    "nudgescribe_webhook_queue_depth",
    "Webhook deliveries not yet delivered nor given up",
    registry=REGISTRY,
)
WEBHOOK_OLDEST_SECONDS = Gauge(
    "nudgescribe_webhook_oldest_undelivered_seconds",
    "Age of the oldest webhook delivery not yet delivered nor given up",
    registry=REGISTRY,
)


def count_appended(topics: Iterable[str]) -> None:
    """``topics``: the stored events' topics, e.g. ``domain.campaign:Campaign.RunStarted``."""
    counts: dict[str, int] = {}
    for topic in topics:
        kind = topic.rsplit(".", 1)[-1]
        counts[kind] = counts.get(kind, 0) + 1
    for kind, n in counts.items():
        EVENTS_APPENDED.labels(kind).inc(n)
