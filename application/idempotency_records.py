"""The ``idempotency_keys`` table: claims, results and releases of Idempotency-Keys.

A key is claimed (``in_flight``) in its own short transaction before the command runs;
its result is written by ``completion``, a write that runs in the SAME transaction as the
events the command stores (``CampaignStore.save_campaign(also_write=...)``), so a crash can
never leave a started run without its key, or a key without its run. Keys are kept
``KEEP_FOR``; a claim abandoned by a crashed request is taken over after
``IN_FLIGHT_TIMEOUT``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from psycopg import Cursor, sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from application.idempotency import Claim, IdempotencyKeyInFlight, IdempotencyKeyReused
from application.recorder import SameTransactionWrite
from application.row_security import account_connection

KEEP_FOR = "24 hours"
IN_FLIGHT_TIMEOUT = "60 seconds"

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


class IdempotencyRecords:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def claim(self, account_id: UUID, key: str, fingerprint: str) -> Claim:
        with account_connection(self.pool, account_id) as conn:
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
    def completion(claim: Claim, result: Callable[[int], dict[str, Any]]) -> SameTransactionWrite:
        """A write for the event save's own transaction: the key is done with this result
        (``result`` is given the log position of the last event saved)."""

        def complete(curs: Cursor[DictRow], positions: Sequence[int]) -> None:
            curs.execute(
                "UPDATE idempotency_keys SET state = 'done', result = %s "
                "WHERE account_id = %s AND key = %s",
                (Jsonb(result(max(positions, default=0))), claim.account_id, claim.key),
            )

        return complete

    def release(self, claim: Claim) -> None:
        """The command failed: free the key so the client may retry with it."""
        with account_connection(self.pool, claim.account_id) as conn:
            conn.execute(
                "DELETE FROM idempotency_keys WHERE account_id = %s AND key = %s "
                "AND state = 'in_flight'",
                (claim.account_id, claim.key),
            )
