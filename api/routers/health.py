"""Unauthenticated probes: liveness, readiness (database + projection lag), metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.deps import ContainerDep
from api.responses import JSONResponse, data

router = APIRouter(tags=["Operations"])


@router.get("/health")
def health() -> JSONResponse:
    return data({"status": "ok"})


@router.get("/ready")
def ready(container: ContainerDep) -> JSONResponse:
    """Projection status reads the database, so an unreachable one answers 503."""
    projections = [
        {"name": name, "position": position, "lag_events": lag_events, "lag_seconds": lag_seconds}
        for name, position, lag_events, lag_seconds in container.runner.status()
    ]
    return data(
        {
            "status": "ready",
            "database": "ok",
            "projections": projections,
        }
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    body = request.app.state.metrics.render()
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
