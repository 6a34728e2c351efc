"""The read models by name: what ``rebuild`` and the runner know about."""

from __future__ import annotations

from collections.abc import Callable

from projections.campaign_runs import CampaignRunsProjector
from projections.jobs import JobsProjector
from projections.projector import Projector

PROJECTORS: dict[str, Callable[[str | None], Projector]] = {
    CampaignRunsProjector.name: CampaignRunsProjector,
    JobsProjector.name: JobsProjector,
}


def build_projectors(schema: str | None = None, names: list[str] | None = None) -> list[Projector]:
    unknown = set(names or []) - set(PROJECTORS)
    if unknown:
        raise ValueError(f"unknown read models: {', '.join(sorted(unknown))}")
    return [PROJECTORS[name](schema) for name in names or list(PROJECTORS)]
