"""An account's webhook endpoints: the API's use cases (create, list, update, delete,
rotate-secret, test, deliveries, redeliver). Every query runs as the account
(``account_connection``): another account's webhook is not found."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg_pool import ConnectionPool

from application.row_security import account_connection
from application.webhooks import events
from application.webhooks.errors import DeliveryNotFound, InvalidWebhook, WebhookNotFound
from application.webhooks.outbox import notify
from application.webhooks.signing import new_secret
from application.webhooks.urls import check_url

ROTATION_OVERLAP_SECONDS = 24 * 3600  # the old secret signs beside the new one this long
MAX_DESCRIPTION = 500
# Each event is one outbox row per endpoint subscribed: this bounds the rows one window of
# the log can make (application.webhooks.follower.WINDOW).
MAX_ENDPOINTS = 20
_COLUMNS = (
    "webhook_id, url, events, description, enabled, disabled_reason, failing_since,"
    " created_at, updated_at"
)
_ATTEMPT_COLUMNS = (
    "attempt_id, message_id, event_type, attempted_at, status_code, duration_ms, error,"
    " next_retry_at"
)


@dataclass(frozen=True)
class Endpoint:
    webhook_id: UUID
    url: str
    events: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Attempt:
    attempt_id: int
    message_id: str
    event_type: str
    attempted_at: datetime
    status_code: int | None
    duration_ms: float
    error: str | None
    next_retry_at: datetime | None


class Webhooks:
    def __init__(
        self, pool: ConnectionPool[Any], *, allow_private: bool, retry_seconds: float
    ) -> None:
        self.pool = pool
        self.allow_private = allow_private
        self.retry_seconds = retry_seconds

    # ---------------------------------------------------------------- endpoints
    def create(
        self, account_id: UUID, url: str, kinds: Sequence[str], description: str | None
    ) -> tuple[Endpoint, str]:
        """The new endpoint and its secret (shown this once)."""
        checked = self._checked(url, kinds, description)
        secret = new_secret()
        with account_connection(self.pool, account_id) as conn:
            # Creates of one account take turns, so the count below stays true.
            conn.execute("SELECT 1 FROM accounts WHERE account_id = %s FOR UPDATE", (account_id,))
            count = conn.execute(
                "SELECT count(*) FROM webhook_endpoints WHERE account_id = %s", (account_id,)
            ).fetchone()
            if count and count[0] >= MAX_ENDPOINTS:
                raise InvalidWebhook(None, f"an account has at most {MAX_ENDPOINTS} webhooks")
            row = conn.execute(
                "INSERT INTO webhook_endpoints (webhook_id, account_id, url, events, description,"
                f" secret) VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
                (uuid.uuid4(), account_id, checked[0], checked[1], description, secret),
            ).fetchone()
        assert row is not None
        return Endpoint(*row), secret

    def page(self, account_id: UUID, page: int, page_size: int) -> tuple[list[Endpoint], int]:
        with account_connection(self.pool, account_id) as conn:
            total = conn.execute(
                "SELECT count(*) FROM webhook_endpoints WHERE account_id = %s", (account_id,)
            ).fetchone()
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE account_id = %s"
                " ORDER BY created_at, webhook_id LIMIT %s OFFSET %s",
                (account_id, page_size, (page - 1) * page_size),
            ).fetchall()
        return [Endpoint(*r) for r in rows], int(total[0]) if total else 0

    def update(
        self,
        account_id: UUID,
        webhook_id: UUID,
        *,
        url: str | None = None,
        kinds: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> Endpoint:
        """Change what is given. Enabling a disabled endpoint also gives its pending
        deliveries a new retry window, due now."""
        with account_connection(self.pool, account_id) as conn:
            current = self._locked(conn, account_id, webhook_id)
            new_url, new_kinds = self._checked(
                url if url is not None else current.url,
                kinds if kinds is not None else current.events,
                description,
            )
            enabling = enabled is True and not current.enabled
            row = conn.execute(
                "UPDATE webhook_endpoints SET url = %s, events = %s,"
                " description = COALESCE(%s, description), enabled = COALESCE(%s, enabled),"
                " disabled_reason = CASE WHEN COALESCE(%s, enabled) THEN NULL"
                "  ELSE COALESCE(disabled_reason, 'disabled by update') END,"
                " failing_since = CASE WHEN %s THEN NULL ELSE failing_since END,"
                f" updated_at = now() WHERE webhook_id = %s RETURNING {_COLUMNS}",
                (new_url, new_kinds, description, enabled, enabled, enabling, webhook_id),
            ).fetchone()
            if enabling:
                conn.execute(
                    "UPDATE webhook_deliveries SET next_attempt_at = now(),"
                    " retry_until = now() + make_interval(secs => %s)"
                    " WHERE webhook_id = %s AND state = 'pending'",
                    (self.retry_seconds, webhook_id),
                )
                notify(conn)
        assert row is not None
        return Endpoint(*row)

    def delete(self, account_id: UUID, webhook_id: UUID) -> None:
        """The endpoint, its outbox rows and its attempts."""
        with account_connection(self.pool, account_id) as conn:
            self._locked(conn, account_id, webhook_id)
            conn.execute("DELETE FROM webhook_attempts WHERE webhook_id = %s", (webhook_id,))
            conn.execute("DELETE FROM webhook_endpoints WHERE webhook_id = %s", (webhook_id,))

    def rotate_secret(self, account_id: UUID, webhook_id: UUID) -> str:
        """A new secret (shown this once); the current one signs beside it for a day."""
        secret = new_secret()
        with account_connection(self.pool, account_id) as conn:
            self._locked(conn, account_id, webhook_id)
            conn.execute(
                "UPDATE webhook_endpoints SET previous_secret = secret, secret = %s,"
                " previous_secret_until = now() + make_interval(secs => %s), updated_at = now()"
                " WHERE webhook_id = %s",
                (secret, ROTATION_OVERLAP_SECONDS, webhook_id),
            )
        return secret

    # ---------------------------------------------------------------- deliveries
    def test(self, account_id: UUID, webhook_id: UUID) -> str:
        """Queue a ``ping`` to the endpoint; return its ``webhook-id``."""
        message_id = "msg_" + uuid.uuid4().hex
        with account_connection(self.pool, account_id) as conn:
            if not self._locked(conn, account_id, webhook_id).enabled:
                raise InvalidWebhook(None, "webhook is disabled: enable it with update first")
            body = events.ping(webhook_id, datetime.now(UTC)).decode()
            conn.execute(
                "INSERT INTO webhook_deliveries (message_id, webhook_id, account_id, event_type,"
                " body, retry_until) VALUES (%s, %s, %s, %s, %s,"
                " now() + make_interval(secs => %s))",
                (message_id, webhook_id, account_id, events.PING, body, self.retry_seconds),
            )
            notify(conn)
        return message_id

    def attempts(
        self,
        account_id: UUID,
        webhook_id: UUID,
        page: int,
        page_size: int,
        message_id: str | None = None,
    ) -> tuple[list[Attempt], int]:
        """The endpoint's attempts, newest first (of one message when given)."""
        where = "account_id = %s AND webhook_id = %s" + (
            " AND message_id = %s" if message_id else ""
        )
        params: tuple[Any, ...] = (account_id, webhook_id) + ((message_id,) if message_id else ())
        with account_connection(self.pool, account_id) as conn:
            self._locked(conn, account_id, webhook_id, lock=False)
            total = conn.execute(
                f"SELECT count(*) FROM webhook_attempts WHERE {where}", params
            ).fetchone()
            rows = conn.execute(
                f"SELECT {_ATTEMPT_COLUMNS} FROM webhook_attempts WHERE {where}"
                " ORDER BY attempt_id DESC LIMIT %s OFFSET %s",
                (*params, page_size, (page - 1) * page_size),
            ).fetchall()
        return [Attempt(*r) for r in rows], int(total[0]) if total else 0

    def redeliver(self, account_id: UUID, webhook_id: UUID, message_id: str) -> None:
        """Send a message again, under its own ``webhook-id``, with a new retry window."""
        with account_connection(self.pool, account_id) as conn:
            self._locked(conn, account_id, webhook_id, lock=False)
            changed = conn.execute(
                "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = now(),"
                " retry_until = now() + make_interval(secs => %s), delivered_at = NULL"
                " WHERE message_id = %s AND webhook_id = %s AND account_id = %s",
                (self.retry_seconds, message_id, webhook_id, account_id),
            )
            if changed.rowcount != 1:
                raise DeliveryNotFound(None)
            notify(conn)

    # ---------------------------------------------------------------- rules
    def _checked(
        self, url: str, kinds: Sequence[str], description: str | None
    ) -> tuple[str, list[str]]:
        unknown = sorted(set(kinds) - set(events.EVENT_TYPES))
        if unknown:
            raise InvalidWebhook(
                None,
                f"events: unknown {', '.join(unknown)} (one of {', '.join(events.EVENT_TYPES)})",
            )
        if not kinds:
            raise InvalidWebhook(None, "events: name at least one")
        if description is not None and len(description) > MAX_DESCRIPTION:
            raise InvalidWebhook(None, f"description: longer than {MAX_DESCRIPTION} characters")
        check_url(url, allow_private=self.allow_private)
        return url, sorted(set(kinds))

    @staticmethod
    def _locked(
        conn: Connection[Any], account_id: UUID, webhook_id: UUID, *, lock: bool = True
    ) -> Endpoint:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE webhook_id = %s AND account_id = %s"
            + (" FOR UPDATE" if lock else ""),
            (webhook_id, account_id),
        ).fetchone()
        if row is None:
            raise WebhookNotFound(None)
        return Endpoint(*row)
