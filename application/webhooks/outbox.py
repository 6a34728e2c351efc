"""The outbox's claims and results.

A claim takes each enabled endpoint's due rows up to that endpoint's free slots
(``FOR UPDATE SKIP LOCKED``: claimers never wait on each other), so one endpoint with a
backlog never crowds out another's deliveries. Claiming moves a row's
``next_attempt_at`` past the longest an attempt can take: that is its lease. A
dispatcher that dies with rows claimed leaves them due again once it passes, and they are
sent again under the same ``webhook-id`` (at least once).

A result records the attempt, then either marks the row delivered, schedules the next
attempt, or gives it up once its retry window has passed. A delivery given up while its
endpoint has not succeeded once since that delivery's first attempt disables the
endpoint: it failed for the whole window (``update`` enables it again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from application.webhooks.schema import CHANNEL

# The dispatcher's commits do not wait for the disk. A server crash can then lose its last
# transactions, but only whole, and each loss only repeats work: a claim lost is due
# again, an attempt's record lost is sent again (same webhook-id), a follower's window
# lost is followed again with its outbox rows (written in the same transaction).
ASYNC_COMMIT = sql.SQL("SET LOCAL synchronous_commit TO off")

_CLAIM = """
WITH due AS (
    SELECT d.message_id FROM webhook_endpoints e
    LEFT JOIN unnest(%(busy)s::uuid[], %(free)s::int[]) AS b(webhook_id, free)
        ON b.webhook_id = e.webhook_id
    CROSS JOIN LATERAL (
        SELECT message_id FROM webhook_deliveries d
        WHERE d.webhook_id = e.webhook_id AND d.state = 'pending' AND d.next_attempt_at <= now()
        ORDER BY d.next_attempt_at LIMIT COALESCE(b.free, %(slots)s)
        FOR UPDATE SKIP LOCKED) d
    WHERE e.enabled AND COALESCE(b.free, %(slots)s) > 0
    LIMIT %(limit)s)
UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => %(lease)s)
FROM due, webhook_endpoints e
WHERE d.message_id = due.message_id AND e.webhook_id = d.webhook_id
RETURNING d.message_id, d.webhook_id, d.event_type, d.body, d.attempts, e.url, e.secret,
    CASE WHEN e.previous_secret_until > now() THEN e.previous_secret END, d.retry_until
"""
# One statement per batch of results (arrays, not a statement per result): the attempts'
# history and the rows' new state.
_RESULTS = """
WITH r AS (
    SELECT * FROM unnest(%(ids)s::text[], %(status)s::int[], %(ms)s::float8[], %(error)s::text[],
        %(next)s::timestamptz[], %(state)s::text[])
        AS r(message_id, status, ms, error, next, state)),
attempts AS (
    INSERT INTO webhook_attempts (message_id, webhook_id, account_id, event_type, status_code,
        duration_ms, error, next_retry_at)
    SELECT d.message_id, d.webhook_id, d.account_id, d.event_type, r.status, r.ms, r.error, r.next
    FROM r JOIN webhook_deliveries d USING (message_id))
UPDATE webhook_deliveries d SET attempts = d.attempts + 1, last_status_code = r.status,
    last_error = r.error, state = r.state, next_attempt_at = COALESCE(r.next, now()),
    delivered_at = CASE WHEN r.state = 'delivered' THEN now() END
FROM r WHERE d.message_id = r.message_id AND d.state = 'pending'
"""
_SUCCEEDED = (
    "UPDATE webhook_endpoints SET failing_since = NULL"
    " WHERE webhook_id = ANY(%s) AND failing_since IS NOT NULL"
)
_FAILED = (
    "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, now())"
    " WHERE webhook_id = ANY(%s)"
)
# A delivery given up failed through its whole retry window; its endpoint is disabled when
# it has not succeeded once since that delivery's first attempt either.
_GAVE_UP = (
    "UPDATE webhook_endpoints SET enabled = false, updated_at = now(),"
    " disabled_reason = 'failing for the whole retry window'"
    " WHERE webhook_id = %s AND enabled AND failing_since <="
    " (SELECT min(attempted_at) FROM webhook_attempts WHERE message_id = %s)"
    " RETURNING webhook_id"
)
_BACKLOG = (
    "SELECT count(*), COALESCE(extract(epoch FROM now() - min(created_at)), 0)"
    " FROM webhook_deliveries WHERE state = 'pending'"
)


@dataclass(frozen=True)
class Claimed:
    message_id: str
    webhook_id: UUID
    event_type: str
    body: str
    attempts: int  # before this one
    url: str
    secrets: tuple[str, ...]  # the current secret, and the previous one while it signs too
    retry_until: datetime


@dataclass(frozen=True)
class Result:
    message_id: str
    webhook_id: UUID
    status_code: int | None
    duration_ms: float
    error: str | None
    next_attempt_at: datetime | None  # None: delivered, or given up (see ``delivered``)
    delivered: bool

    @property
    def state(self) -> str:
        if self.delivered:
            return "delivered"
        return "pending" if self.next_attempt_at is not None else "failed"


class Outbox:
    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self.pool = pool

    def claim(
        self, busy: Mapping[UUID, int], slots: int, limit: int, lease_seconds: float
    ) -> list[Claimed]:
        """Up to ``limit`` due rows, at most ``slots`` per endpoint less its ``busy`` ones."""
        if limit <= 0:
            return []
        params = {
            "busy": list(busy),
            "free": [max(0, slots - n) for n in busy.values()],
            "slots": slots,
            "limit": limit,
            "lease": lease_seconds,
        }
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(ASYNC_COMMIT)
            rows = conn.execute(_CLAIM, params).fetchall()
        return [
            Claimed(m, w, kind, body, attempts, url, tuple(s for s in (new, old) if s), until)
            for m, w, kind, body, attempts, url, new, old, until in rows
        ]

    def record(self, results: Sequence[Result]) -> list[UUID]:
        """Store the attempts in one transaction; return the endpoints it disabled."""
        if not results:
            return []
        params = {
            "ids": [r.message_id for r in results],
            "status": [r.status_code for r in results],
            "ms": [r.duration_ms for r in results],
            "error": [None if r.error is None else r.error[:2000] for r in results],
            "next": [r.next_attempt_at for r in results],
            "state": [r.state for r in results],
        }
        succeeded = sorted({r.webhook_id for r in results if r.delivered})
        failed = sorted({r.webhook_id for r in results if not r.delivered} - set(succeeded))
        with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute(ASYNC_COMMIT)
            cur.execute(_RESULTS, params)
            if succeeded:
                cur.execute(_SUCCEEDED, (succeeded,))
            if failed:
                cur.execute(_FAILED, (failed,))
            disabled: list[UUID] = []
            for r in results:
                if r.state == "failed":
                    disabled += [
                        row[0] for row in cur.execute(_GAVE_UP, (r.webhook_id, r.message_id))
                    ]
        return disabled

    def backlog(self) -> tuple[int, float]:
        """Deliveries pending, and the age in seconds of the oldest of them."""
        with self.pool.connection() as conn:
            row = conn.execute(_BACKLOG).fetchone()
        assert row is not None
        return int(row[0]), float(row[1])


def notify(conn: Any) -> None:
    """Wake the dispatchers: the outbox has a due row."""
    conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(CHANNEL)))
