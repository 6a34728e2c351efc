"""Status vocabularies, spelled exactly as the published API spells them."""

from enum import StrEnum


class CampaignStatus(StrEnum):
    PROCESSING = "Processing"
    READY_FOR_REVIEW = "Ready for review"
    READY_TO_PUBLISH = "Ready to publish"
    PUBLISHED = "Published"
    FAILED = "Failed"


class RunStatus(StrEnum):
    PROCESSING = "Processing"
    READY_FOR_REVIEW = "Ready for review"
    READY_TO_PUBLISH = "Ready to publish"
    PUBLISHED = "Published"
    FAILED = "Failed"
    SUPERSEDED = "Superseded"


class MessageStatus(StrEnum):
    READY_FOR_REVIEW = "Ready for review"
    APPROVED = "Approved"
    REJECTED = "Rejected"
    PUBLISHED = "Published"
    # The provider refused this segment or its output stayed unusable: no content to
    # publish until the message is regenerated or edited.
    GENERATION_FAILED = "Generation failed"


class ReviewStatus(StrEnum):
    PENDING = "Pending"
    APPROVED = "Approved"
    REJECTED = "Rejected"


class ApprovalStage(StrEnum):
    GENERATED = "Generated"
    REVIEWED = "Reviewed"
    APPROVED = "Approved"
    PUBLISHED = "Published"


class ArchiveReason(StrEnum):
    SUPERSEDED = "superseded"  # its run was replaced by a newer run
    ORPHANED = "orphaned"  # its segment left the audience


class Origin(StrEnum):
    GENERATED = "generated"
    COPIED = "copied"


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class JobPhase(StrEnum):
    """Where a run's background job stands, as the read models follow its events."""

    QUEUED = "Queued"
    COPYING = "Copying"
    GENERATING = "Generating"
    ARCHIVING = "Archiving"
    FINALISING = "Finalising"
    COMPLETED = "Completed"
    FAILED = "Failed"
