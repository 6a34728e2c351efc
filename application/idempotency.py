"""Idempotency-Key: the same key with the same request answers the first result again.

A command given a key claims it first, runs, and stores its result with its events; a
repeat of the same request answers that result, a different request under the same key
is refused, and a key whose first request is still running answers "in progress". Keys
are scoped by account; the ``idempotency_keys`` table is ``application.idempotency_records``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from domain.errors import DomainError

MAX_KEY_LENGTH = 255


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
