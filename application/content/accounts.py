"""Accounts: the tenant every request is scoped to.

Only a SHA-256 digest of the api key is stored: the keys are 256-bit random tokens, so a
fast digest is enough (there is nothing to brute-force) and lookup stays one index probe.
An account may carry its own JWT secret; tokens for it are then signed with that secret.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from uuid import UUID, uuid4

from psycopg_pool import ConnectionPool

from application.content.errors import InvalidContent


@dataclass(frozen=True)
class Account:
    account_id: UUID
    name: str
    jwt_secret: str | None


@dataclass(frozen=True)
class NewAccount:
    account_id: UUID
    name: str
    api_key: str


def api_key_digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


class Accounts:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def create(self, name: str, *, own_secret: bool = False) -> NewAccount:
        if not name.strip():
            raise InvalidContent(None, "name must not be empty")
        account = NewAccount(uuid4(), name.strip(), "nsk_" + secrets.token_urlsafe(32))
        secret = secrets.token_urlsafe(48) if own_secret else None
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO accounts (account_id, name, api_key_hash, jwt_secret) "
                "VALUES (%s, %s, %s, %s)",
                (account.account_id, account.name, api_key_digest(account.api_key), secret),
            )
        return account

    def get(self, account_id: UUID) -> Account | None:
        return self._one("account_id = %s", account_id)

    def by_api_key(self, api_key: str) -> Account | None:
        return self._one("api_key_hash = %s", api_key_digest(api_key))

    def _one(self, condition: str, value: object) -> Account | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT account_id, name, jwt_secret FROM accounts WHERE " + condition, (value,)
            ).fetchone()
        return Account(*row) if row else None
