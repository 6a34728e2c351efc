"""Typed domain errors. Each carries the campaign id; the API maps families to statuses."""

from __future__ import annotations

from uuid import UUID


class DomainError(Exception):
    """A rule of the campaign was broken. ``message`` is safe to show to a client."""

    message = "Campaign rule violated"

    def __init__(self, campaign_id: UUID | None, message: str | None = None) -> None:
        self.campaign_id = campaign_id
        if message is not None:
            self.message = message
        super().__init__(f"{self.message} (campaign {campaign_id})")


class RuleViolation(DomainError):
    """A command is not allowed in the campaign's current state (400)."""


class CampaignNotPublished(RuleViolation):
    message = "Only Published campaigns can be rerun"


class UnpublishedMessagesExist(RuleViolation):
    message = "All campaign messages must be published before initiating a rerun"


class ArchiveTargetsCurrentRun(RuleViolation):
    message = "The current run cannot be archived"


class CampaignIsProcessing(RuleViolation):
    message = "Campaign is processing; wait for the run to finish"


class CampaignNotFailed(RuleViolation):
    message = "Only Failed runs can be retried"


class GenerationFailedMessagesExist(RuleViolation):
    message = "Messages whose generation failed must be regenerated or edited before publishing"


class InvalidMessageTransition(RuleViolation):
    message = "Message cannot change that way"


class InvalidCampaignDefinition(RuleViolation):
    message = "Invalid campaign definition"


class NotFound(DomainError):
    """Something named by the command does not exist in this campaign (404)."""


class CampaignNotFound(NotFound):
    message = "Campaign not found"


class RunNotFound(NotFound):
    message = "Run not found"


class MessageNotFound(NotFound):
    message = "Message not found"
