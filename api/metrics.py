"""Prometheus metrics of one app instance (its own registry, so tests can build many apps).

``/metrics`` exports this registry (HTTP, errors, projections, jobs, database) and the
process-wide one of the application layer (events appended, generator calls).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from application.errors import is_database_unavailable
from application.metrics import REGISTRY as APPLICATION_REGISTRY

log = logging.getLogger("nudgescribe.api")

JOB_PHASES = (
    "Queued",
    "Copying",
    "Generating",
    "Archiving",
    "Finalising",
    "Completed",
    "Failed",
)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["method", "route", "status"]
        self.requests = Counter(
            "nudgescribe_http_requests_total", "HTTP requests answered", labels,
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "nudgescribe_http_request_duration_seconds",
            "HTTP request latency, by route template and status",
            labels,
            registry=self.registry,
        )
        self.errors = Counter(
            "nudgescribe_http_errors_total",
            "Error answers, by the error code of their body",
            ["code", "status"],
            registry=self.registry,
        )
        self.database_up = Gauge(
            "nudgescribe_database_up",
            "1 when the last scrape reached the database",
            registry=self.registry,
        )
        self.projection_position = Gauge(
            "nudgescribe_projection_position",
            "Last log position a read model has applied",
            ["projection"],
            registry=self.registry,
        )
        self.projection_lag_events = Gauge(
            "nudgescribe_projection_lag_events",
            "Events in the log a read model has not applied yet",
            ["projection"],
            registry=self.registry,
        )
        self.projection_lag_seconds = Gauge(
            "nudgescribe_projection_lag_seconds",
            "Age of the oldest event a read model has not applied yet",
            ["projection"],
            registry=self.registry,
        )
        self.jobs = Gauge(
            "nudgescribe_jobs",
            "Rerun jobs by phase (from the jobs read model)",
            ["phase"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def count_error(self, code: str, status: int) -> None:
        self.errors.labels(code, str(status)).inc()

    def refresh(
        self,
        projection_status: Callable[[], Sequence[Any]],
        job_phases: Callable[[], dict[str, int]],
    ) -> None:
        """Read the gauges that live in the database; an unreachable one sets database_up 0."""
        try:
            for name, position, lag_events, lag_seconds in projection_status():
                self.projection_position.labels(name).set(position)
                self.projection_lag_events.labels(name).set(lag_events)
                self.projection_lag_seconds.labels(name).set(lag_seconds)
            counts = job_phases()
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            log.warning("metrics: database unavailable: %s", exc)
            self.database_up.set(0)
            return
        self.database_up.set(1)
        for phase in {*JOB_PHASES, *counts}:
            self.jobs.labels(phase).set(counts.get(phase, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry) + generate_latest(APPLICATION_REGISTRY)
