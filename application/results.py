"""What commands return: ids, the facts a response needs, and the log position."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from domain.segments import Comparison, Segment


@dataclass(frozen=True)
class RunStartedResult:
    campaign_id: UUID
    run_number: int
    previous_run_number: int | None
    job_uid: UUID
    customer_group_id: UUID
    segments: dict[str, Segment]
    comparison: Comparison
    previous_segments: dict[str, Segment]
    started_at: str
    position: int

    @property
    def expected_campaign_status(self) -> str:
        return "Ready for review" if self.comparison.new else "Ready to publish"


@dataclass(frozen=True)
class CommandResult:
    campaign_id: UUID
    count: int
    position: int | None
    job_uid: UUID | None = None
