"""Frozen rows the queries return: the fields of the API's objects, nothing more.

Timestamps are timezone-aware UTC datetimes; the API renders them as ISO-8601.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from domain.model import PUBLISHED

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    page_size: int
    total: int

    @property
    def total_pages(self) -> int:
        return (self.total + self.page_size - 1) // self.page_size


@dataclass(frozen=True)
class RunHistoryRow:
    run_number: int
    customer_group_id: UUID
    customer_group_name: str
    segment_count: int
    status: str
    comparison_summary: dict[str, int]  # matched / new / orphaned
    initiated_by: str
    initiated_from_ip: str
    job_uid: UUID
    started_at: datetime
    completed_at: datetime | None
    is_current: bool


@dataclass(frozen=True)
class MessageRow:
    """A message of a run, as the API answers it."""

    message_id: UUID
    run_number: int
    segment_key: str
    segment: dict[str, Any]
    customer_count: int
    content: str
    origin: str
    copied_from_message_id: UUID | None
    status: str
    review_status: str
    approval_stage: str
    error: str | None  # why generation failed, while the status is Generation failed
    is_archived: bool
    archive_reason: str | None
    archived_at: datetime | None
    created_at: datetime
    published_at: datetime | None
    # The live text of a published message while a draft of it (``content``) is reviewed;
    # the same as ``content`` once published; null before the message is first published.
    published_content: str | None

    def as_published(self) -> MessageRow:
        """The message as its recipients see it: its published text, even while a draft
        of it is under review."""
        return replace(
            self,
            content=self.published_content or "",
            status=PUBLISHED.status,
            review_status=PUBLISHED.review_status,
            approval_stage=PUBLISHED.approval_stage,
            error=None,
        )


@dataclass(frozen=True)
class CampaignRow:
    campaign_id: UUID
    account_id: UUID
    name: str
    status: str
    current_run_number: int
    customer_group_id: UUID
    segment_variables: list[str]
    ai_config: dict[str, Any]
    message_counts: dict[str, int]  # by message status, active current-run messages
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class JobRow:
    job_uid: UUID
    campaign_id: UUID
    account_id: UUID
    run_number: int
    phase: str  # Queued, Copying, Generating, Archiving, Finalising, Completed, Failed
    copied: int
    generated: int
    archived: int
    failed: int
    total: int
    error: str | None
