"""Mutable state objects the Campaign aggregate keeps for its current and previous run,
and the one definition of how a message changes on each event.

The aggregate's ``@event`` bodies and the read models (``projections``) both apply the
``Message`` methods below, so a message's state after an event is written once. Older runs
are dropped from the aggregate once a run is finalised: their history lives in the event
log and the read models, and keeping them would make every snapshot grow with every rerun.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.segments import Comparison, Segment
from domain.statuses import (
    ApprovalStage,
    ArchiveReason,
    CampaignStatus,
    Decision,
    MessageStatus,
    Origin,
    ReviewStatus,
    RunStatus,
)

_MESSAGE_NAMESPACE = uuid5(NAMESPACE_URL, "https://nudgescribe.example/messages")


def message_id_for(campaign_id: UUID, run_number: int, segment_key: str) -> UUID:
    """Deterministic, so a redelivered copy or generation names the same message."""
    return uuid5(_MESSAGE_NAMESPACE, f"{campaign_id}/{run_number}/{segment_key}")


@dataclass(frozen=True)
class MessageState:
    """Where an event leaves a message: its status, review status and approval stage."""

    status: MessageStatus
    review_status: ReviewStatus
    approval_stage: ApprovalStage


AWAITING_REVIEW = MessageState(
    MessageStatus.READY_FOR_REVIEW, ReviewStatus.PENDING, ApprovalStage.GENERATED
)
APPROVED = MessageState(MessageStatus.APPROVED, ReviewStatus.APPROVED, ApprovalStage.APPROVED)
REJECTED = MessageState(MessageStatus.REJECTED, ReviewStatus.REJECTED, ApprovalStage.REVIEWED)
EDITED = MessageState(MessageStatus.READY_FOR_REVIEW, ReviewStatus.PENDING, ApprovalStage.REVIEWED)
PUBLISHED = MessageState(MessageStatus.PUBLISHED, ReviewStatus.APPROVED, ApprovalStage.PUBLISHED)
GENERATION_FAILED = MessageState(
    MessageStatus.GENERATION_FAILED, ReviewStatus.PENDING, ApprovalStage.GENERATED
)


def awaits_approval(status: str) -> bool:
    """A message in this status still needs a reviewer before the campaign can publish."""
    return status not in (MessageStatus.APPROVED, MessageStatus.PUBLISHED)


def status_after_review(awaiting_approval: int) -> CampaignStatus:
    """The status a reviewed run (and its campaign) has: ready to publish once no active
    message awaits approval."""
    if awaiting_approval == 0:
        return CampaignStatus.READY_TO_PUBLISH
    return CampaignStatus.READY_FOR_REVIEW


def status_after_run(comparison: Comparison) -> CampaignStatus:
    """The status a run started with this comparison reaches once generated: its new
    segments' messages await review; with none, every message is a published copy."""
    if comparison.new:
        return CampaignStatus.READY_FOR_REVIEW
    return CampaignStatus.READY_TO_PUBLISH


def follows_its_messages(status: str) -> bool:
    """Whether a campaign in this status takes its status from its messages after a
    review-side change. A processing or failed run keeps its own, and so does a published
    one: a live campaign stays live while drafts of its messages are reviewed."""
    return status not in (
        CampaignStatus.PROCESSING,
        CampaignStatus.FAILED,
        CampaignStatus.PUBLISHED,
    )


@dataclass
class Message:
    message_id: UUID
    segment_key: str
    content: str
    origin: str = Origin.GENERATED
    copied_from_message_id: UUID | None = None
    status: str = AWAITING_REVIEW.status
    review_status: str = AWAITING_REVIEW.review_status
    approval_stage: str = AWAITING_REVIEW.approval_stage
    archive_reason: str | None = None
    error: str | None = None  # why generation failed, while the status is Generation failed
    # The text recipients see, once the message has been published. An edit or a
    # regeneration of a published message is a draft in ``content``: the published text
    # stays live until the draft is approved and published in its turn.
    published_content: str | None = None

    @property
    def is_archived(self) -> bool:
        return self.archive_reason is not None

    @property
    def awaits_approval(self) -> bool:
        return not self.is_archived and awaits_approval(self.status)

    # ---------------------------------------------------------------- one per event
    @classmethod
    def copied(cls, message_id: UUID, segment_key: str, content: str, source_id: UUID) -> Message:
        """SegmentMatched: a copy keeps its source's approval, ready to publish as it is."""
        message = cls(message_id, segment_key, content, Origin.COPIED, source_id)
        message.enter(APPROVED)
        return message

    @classmethod
    def generated(cls, message_id: UUID, segment_key: str, content: str) -> Message:
        """MessageGenerated for a segment without a message."""
        return cls(message_id, segment_key, content)

    @classmethod
    def failed(cls, message_id: UUID, segment_key: str, error: str) -> Message:
        """MessageGenerationFailed for a segment without a message: it has no content."""
        message = cls(message_id, segment_key, "")
        message.generation_failed(error)
        return message

    def generation_failed(self, error: str) -> None:
        """MessageGenerationFailed for a message that exists: it keeps its content, which
        cannot be approved until the message is regenerated or edited."""
        self.enter(GENERATION_FAILED)
        self.error = error

    def regenerated(self, content: str) -> None:
        """MessageGenerated for a message that exists: new content, to be reviewed again."""
        self.content = content
        self.origin = Origin.GENERATED
        self.copied_from_message_id = None
        self.enter(AWAITING_REVIEW)

    def reviewed(self, decision: str) -> None:
        self.enter(APPROVED if decision == Decision.APPROVE else REJECTED)

    def edited(self, content: str) -> None:
        self.content = content
        self.enter(EDITED)

    def regeneration_requested(self) -> None:
        # A failed message stays failed until new content arrives: back to Ready for review,
        # a regeneration that then fails for the whole run would leave it approvable.
        if self.status != MessageStatus.GENERATION_FAILED:
            self.enter(AWAITING_REVIEW)

    def published(self) -> None:
        self.enter(PUBLISHED)
        self.published_content = self.content

    def archive(self, reason: str) -> None:
        # superseded -> orphaned refines why it left; nothing ever un-archives it.
        if self.archive_reason is None or reason == ArchiveReason.ORPHANED:
            self.archive_reason = reason

    def enter(self, state: MessageState) -> None:
        self.status = state.status
        self.review_status = state.review_status
        self.approval_stage = state.approval_stage
        self.error = None


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

    def change_message(self, message: Message, change: Callable[[Message], None]) -> None:
        """Apply ``change`` (a ``Message`` method) and keep ``awaiting_approval`` true."""
        before = message.awaits_approval
        change(message)
        self.awaiting_approval += int(message.awaits_approval) - int(before)

    def active_messages(self) -> list[Message]:
        return [m for m in self.messages.values() if not m.is_archived]

    def messages_by_id(self) -> dict[UUID, Message]:
        return {m.message_id: m for m in self.messages.values()}
