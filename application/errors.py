"""Errors of the application layer (the domain's own errors pass through unchanged)."""

from __future__ import annotations

from domain.errors import DomainError, NotFound, RuleViolation


class CustomerGroupNotFound(NotFound):
    message = "Customer group not found"


class JobNotFound(NotFound):
    message = "Job not found"


class ConcurrentModification(DomainError):
    message = "Campaign was modified concurrently, retry"


class InvalidCampaignInput(RuleViolation):
    """The request names something that does not fit the account's content (400)."""


class DatabaseUnavailable(Exception):
    """The database could not be reached; the command changed nothing."""
