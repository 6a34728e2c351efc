"""What commands return: ids, the facts a response needs, and the log position."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from domain.model import status_after_run
from domain.segments import Comparison, Segment


def _segment_json(segment: Segment) -> dict[str, Any]:
    # Values as [name, value] pairs: jsonb reorders object keys, and a replayed answer
    # must be byte-for-byte the first one.
    return {**asdict(segment), "values": [list(pair) for pair in segment.values.items()]}


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
        return str(status_after_run(self.comparison))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, for the idempotency record that replays this result."""
        return {
            "campaign_id": str(self.campaign_id),
            "run_number": self.run_number,
            "previous_run_number": self.previous_run_number,
            "job_uid": str(self.job_uid),
            "customer_group_id": str(self.customer_group_id),
            "segments": [_segment_json(s) for s in self.segments.values()],
            "previous_segments": [_segment_json(s) for s in self.previous_segments.values()],
            "comparison": asdict(self.comparison),
            "started_at": self.started_at,
            "position": self.position,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunStartedResult:
        def segments(rows: list[dict[str, Any]]) -> dict[str, Segment]:
            # dict(): pairs as stored now, or an object as stored before
            return {
                r["key"]: Segment(r["key"], dict(r["values"]), r["customer_count"]) for r in rows
            }

        return cls(
            campaign_id=UUID(data["campaign_id"]),
            run_number=data["run_number"],
            previous_run_number=data["previous_run_number"],
            job_uid=UUID(data["job_uid"]),
            customer_group_id=UUID(data["customer_group_id"]),
            segments=segments(data["segments"]),
            comparison=Comparison(**data["comparison"]),
            previous_segments=segments(data["previous_segments"]),
            started_at=data["started_at"],
            position=data["position"],
        )


@dataclass(frozen=True)
class RerunPreview:
    """What initiate would start now: the next run's number, segments and comparison."""

    campaign_id: UUID
    run_number: int
    previous_run_number: int | None
    customer_group_id: UUID
    segments: dict[str, Segment]
    comparison: Comparison
    previous_segments: dict[str, Segment]

    @property
    def expected_campaign_status(self) -> str:
        return str(status_after_run(self.comparison))


@dataclass(frozen=True)
class CommandResult:
    campaign_id: UUID
    count: int
    position: int | None
    job_uid: UUID | None = None
