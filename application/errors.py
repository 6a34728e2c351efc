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


class ProviderNotConfigured(InvalidCampaignInput):
    """The campaign asks for a generator this server has no endpoint for (400)."""


class TemplateCannotRender(InvalidCampaignInput):
    """The template is certain to render an empty or over-long message (400)."""


class DatabaseUnavailable(Exception):
    """The database could not be reached; the command changed nothing."""


def is_database_unavailable(exc: BaseException) -> bool:
    """True for failures to reach or keep a database connection (the API answers 503)."""
    import psycopg
    import psycopg_pool
    from eventsourcing.persistence import InterfaceError, OperationalError

    if isinstance(exc, DatabaseUnavailable | psycopg_pool.PoolTimeout | InterfaceError):
        return True
    if isinstance(exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable):
        return False  # the server answered; the statement was slow, not the database gone
    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | OperationalError)


def is_broken_connection(exc: BaseException) -> bool:
    """A connection that broke in use (the server restarted, or dropped it), not a
    database out of reach: a read failing so may succeed on another connection."""
    import psycopg_pool

    return is_database_unavailable(exc) and not isinstance(
        exc, DatabaseUnavailable | psycopg_pool.PoolTimeout
    )
