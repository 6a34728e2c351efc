"""Mutable state objects the Campaign aggregate keeps for its current and previous run.

Older runs are dropped from the aggregate once a run is finalised: their history lives in
the event log and the read models, and keeping them would make every snapshot grow with
every rerun.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.segments import Segment
from domain.statuses import (
    ApprovalStage,
    ArchiveReason,
    MessageStatus,
    Origin,
    ReviewStatus,
    RunStatus,
)

_MESSAGE_NAMESPACE = uuid5(NAMESPACE_URL, "https://nudgescribe.example/messages")


def message_id_for(campaign_id: UUID, run_number: int, segment_key: str) -> UUID:
    """Deterministic, so a redelivered copy or generation names the same message."""
    return uuid5(_MESSAGE_NAMESPACE, f"{campaign_id}/{run_number}/{segment_key}")


@dataclass
class Message:
    message_id: UUID
    segment_key: str
    content: str
    origin: str = Origin.GENERATED
    copied_from_message_id: UUID | None = None
    status: str = MessageStatus.READY_FOR_REVIEW
    review_status: str = ReviewStatus.PENDING
    approval_stage: str = ApprovalStage.GENERATED
    archive_reason: str | None = None

    @property
    def is_archived(self) -> bool:
        return self.archive_reason is not None

    @property
    def is_approved_or_published(self) -> bool:
        return self.status in (MessageStatus.APPROVED, MessageStatus.PUBLISHED)

    @property
    def awaits_approval(self) -> bool:
        return not self.is_archived and not self.is_approved_or_published

    def archive(self, reason: str) -> None:
        # superseded -> orphaned refines why it left; nothing ever un-archives it.
        if self.archive_reason is None or reason == ArchiveReason.ORPHANED:
            self.archive_reason = reason


@dataclass
class Run:
    number: int
    customer_group_id: UUID
    customer_group_name: str
    job_uid: UUID
    segments: dict[str, Segment]
    matched: list[str]
    new: list[str]
    orphaned: list[str]
    previous_run_number: int | None
    initiated_by: str
    ip: str
    status: str = RunStatus.PROCESSING
    messages: dict[str, Message] = field(default_factory=dict)  # by segment key
    regenerating: list[str] = field(default_factory=list)  # segment keys
    error: str | None = None
    # Active messages not yet approved or published, kept as a count so that each
    # review event stays O(1) on a run of tens of thousands of messages.
    awaiting_approval: int = 0

    def put_message(self, message: Message) -> None:
        old = self.messages.get(message.segment_key)
        if old is not None and old.awaits_approval:
            self.awaiting_approval -= 1
        self.messages[message.segment_key] = message
        if message.awaits_approval:
            self.awaiting_approval += 1

    def change_message(
        self,
        message: Message,
        *,
        status: str | None = None,
        review_status: str | None = None,
        approval_stage: str | None = None,
        archive_reason: str | None = None,
    ) -> None:
        before = message.awaits_approval
        if status is not None:
            message.status = status
        if review_status is not None:
            message.review_status = review_status
        if approval_stage is not None:
            message.approval_stage = approval_stage
        if archive_reason is not None:
            message.archive(archive_reason)
        self.awaiting_approval += int(message.awaits_approval) - int(before)

    def active_messages(self) -> list[Message]:
        return [m for m in self.messages.values() if not m.is_archived]

    def messages_by_id(self) -> dict[UUID, Message]:
        return {m.message_id: m for m in self.messages.values()}
