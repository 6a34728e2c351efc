"""Unauthenticated probes: liveness, readiness (database + projection lag), metrics."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.deps import ContainerDep
from api.errors import UNAVAILABLE, answer_error
from api.metrics import Metrics
from api.models.responses import Envelope, Health, Ready
from api.responses import data
from projections.stats import job_phase_counts

router = APIRouter(tags=["Operations"])
log = logging.getLogger("nudgescribe.api")


@router.get("/health", response_model=Envelope[Health])
def health() -> dict[str, Any]:
    return data({"status": "ok"})


@router.get("/ready", response_model=Envelope[Ready])
def ready(request: Request, container: ContainerDep) -> Any:
    """503 while the database is unreachable through either pool (projection status reads
    through the read models' pool, the log's head through the event store's; the
    middleware answers 503 for that) or a read model lags more than the configured age."""
    statuses = container.runner.status()
    container.store.recorder.max_notification_id()
    limit = container.settings.ready_max_lag_seconds
    lagging = [s for s in statuses if s.lag_events > 0 and s.lag_seconds > limit]
    if lagging:
        log.warning(
            "not ready: read models lag more than %ss: %s",
            limit,
            ", ".join(f"{s.name} {s.lag_seconds:.1f}s/{s.lag_events} events" for s in lagging),
        )
        return answer_error(request, 503, UNAVAILABLE, "projections_lagging")
    projections = [
        {"name": name, "position": position, "lag_events": lag_events, "lag_seconds": lag_seconds}
        for name, position, lag_events, lag_seconds in statuses
    ]
    return data({"status": "ready", "database": "ok", "projections": projections})


@router.get("/metrics")
def metrics(request: Request, container: ContainerDep) -> Response:
    collected: Metrics = request.app.state.metrics
    collected.refresh(container.runner.status, lambda: job_phase_counts(container.pool))
    return Response(collected.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
