"""Idempotency-Key: the same key with the same request answers the first result again.

A key is claimed (``in_flight``) before the command runs; the command's result is written
in the SAME transaction as the events it stored, so a crash can never leave a started run
without its key, or a key without its run. Keys are scoped by account and kept 24 hours.
A claim abandoned by a crashed request is taken over after ``IN_FLIGHT_TIMEOUT``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from domain.errors import DomainError

KEEP_FOR = "24 hours"
IN_FLIGHT_TIMEOUT = "60 seconds"
MAX_KEY_LENGTH = 255

IDEMPOTENCY_DDL = [
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS idempotency_keys (
            account_id uuid NOT NULL,
            key text NOT NULL,
            request_hash text NOT NULL,
            state text NOT NULL CHECK (state IN ('in_flight', 'done')),
            result jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (account_id, key))"""
    ),
]


class IdempotencyKeyReused(DomainError):
    """The key was used before with a different request (422)."""

    message = "Idempotency-Key was already used with a different request"


class IdempotencyKeyInFlight(DomainError):
    """A request with this key is still being processed (409)."""

    message = "A request with this Idempotency-Key is still in progress"


def request_hash(operation: str, **fields: object) -> str:
    canonical = json.dumps({"operation": operation, **fields}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Claim:
    account_id: UUID
    key: str
    replay: dict[str, Any] | None  # the first result, when the key is already done


class IdempotencyKeys:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def claim(self, account_id: UUID, key: str, fingerprint: str) -> Claim:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                "DELETE FROM idempotency_keys WHERE account_id = %s AND key = %s "
                f"AND created_at < now() - interval '{KEEP_FOR}'",
                (account_id, key),
            )
            inserted = conn.execute(
                "INSERT INTO idempotency_keys (account_id, key, request_hash, state) "
                "VALUES (%s, %s, %s, 'in_flight') ON CONFLICT DO NOTHING RETURNING 1",
                (account_id, key, fingerprint),
            ).fetchone()
            if inserted:
                return Claim(account_id, key, None)
            row = conn.execute(
                "SELECT request_hash, state, result, "
                f"created_at < now() - interval '{IN_FLIGHT_TIMEOUT}' AS abandoned "
                "FROM idempotency_keys WHERE account_id = %s AND key = %s FOR UPDATE",
                (account_id, key),
            ).fetchone()
            assert row is not None  # it conflicted inside this transaction's snapshot
            stored_hash, state, result, abandoned = row
            if stored_hash != fingerprint:
                raise IdempotencyKeyReused(None)
            if state == "done":
                return Claim(account_id, key, result)
            if not abandoned:
                raise IdempotencyKeyInFlight(None)
            conn.execute(
                "UPDATE idempotency_keys SET created_at = now() WHERE account_id = %s AND key = %s",
                (account_id, key),
            )
            return Claim(account_id, key, None)

    @staticmethod
    def completion(
        claim: Claim, result: Callable[[int], dict[str, Any]]
    ) -> Callable[[Cursor[DictRow], Sequence[int]], None]:
        """A write for the event save's own transaction: the key is done with this result."""

        def complete(curs: Cursor[DictRow], positions: Sequence[int]) -> None:
            curs.execute(
                "UPDATE idempotency_keys SET state = 'done', result = %s "
                "WHERE account_id = %s AND key = %s",
                (Jsonb(result(max(positions, default=0))), claim.account_id, claim.key),
            )

        return complete

    def release(self, claim: Claim) -> None:
        """The command failed: free the key so the client may retry with it."""
        with self.pool.connection() as conn:
            conn.execute(
                "DELETE FROM idempotency_keys WHERE account_id = %s AND key = %s "
                "AND state = 'in_flight'",
                (claim.account_id, claim.key),
            )
