"""The log into the outbox, exactly once: like the processor's queue follower.

One transaction locks the follower's position (``FOR UPDATE SKIP LOCKED``: one follower
at a time, the others skip), reads the next window of the log for the event types
webhooks send, writes one outbox row per event and subscribed endpoint, and moves the
position. A crash keeps both or neither, so no event is skipped; the outbox row's id is
derived from (endpoint, log position), so it is the same ``webhook-id`` on every retry.
The recorder's table lock makes log order commit order: nothing can later commit below
the highest position seen.
"""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Connection, sql
from psycopg_pool import ConnectionPool

from application.store import EVENTS_TABLE
from application.webhooks import events
from application.webhooks.outbox import ASYNC_COMMIT
from application.webhooks.schema import CHANNEL, TRACKING_NAME

log = logging.getLogger(__name__)
WINDOW = 500  # log positions per follower transaction: bounds what one holds in memory
ACCOUNTS_CACHED = 10_000  # campaign -> account; a campaign never changes account
_NAMESPACE = UUID("6f1d1c1e-5f0e-4d4a-9a57-6e7564676577")

_EVENTS = sql.Identifier(EVENTS_TABLE)
_HEAD = sql.SQL("SELECT max(notification_id) FROM {}").format(_EVENTS)
_WANTED = sql.SQL(
    "SELECT notification_id, originator_id, topic, state FROM {} "
    "WHERE notification_id > %s AND notification_id <= %s AND topic = ANY(%s) "
    "ORDER BY notification_id"
).format(_EVENTS)
_CREATED = sql.SQL(
    "SELECT originator_id, topic, state FROM {} WHERE originator_id = ANY(%s)"
    " AND originator_version = 1"
).format(_EVENTS)
_RUN_STARTS = sql.SQL(
    "SELECT topic, state FROM {} WHERE originator_id = %s AND topic = %s "
    "ORDER BY originator_version DESC"
).format(_EVENTS)
_ENDPOINTS = (
    "SELECT webhook_id, account_id, events FROM webhook_endpoints "
    "WHERE enabled AND account_id = ANY(%s)"
)
INSERT_DELIVERY = (
    "INSERT INTO webhook_deliveries (message_id, webhook_id, account_id, event_type, position,"
    " body, retry_until) VALUES (%s, %s, %s, %s, %s, %s,"
    " now() + make_interval(secs => %s)) ON CONFLICT (message_id) DO NOTHING"
)


def message_id(webhook_id: UUID, position: int) -> str:
    """The ``webhook-id`` of a log event at one endpoint: the same on every attempt."""
    return "msg_" + uuid.uuid5(_NAMESPACE, f"{webhook_id}:{position}").hex


@dataclass(frozen=True)
class Followed:
    positions: int  # log positions consumed (0: caught up, or another follower holds it)
    deliveries: int  # outbox rows written


class Follower:
    def __init__(self, pool: ConnectionPool[Any], retry_seconds: float) -> None:
        self.pool = pool
        self.retry_seconds = retry_seconds
        self._accounts: OrderedDict[UUID, UUID] = OrderedDict()

    def follow(self) -> Followed:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(ASYNC_COMMIT)
            row = conn.execute(
                "SELECT position FROM webhook_tracking WHERE name = %s FOR UPDATE SKIP LOCKED",
                (TRACKING_NAME,),
            ).fetchone()
            if row is None:
                return Followed(0, 0)
            position: int = row[0]
            head = conn.execute(_HEAD).fetchone()
            upper = min(head[0] if head and head[0] else 0, position + WINDOW)
            if upper <= position:
                return Followed(0, 0)
            stored = conn.execute(_WANTED, (position, upper, events.TOPICS)).fetchall()
            rows = self._deliveries(conn, stored) if stored else []
            if rows:
                with conn.cursor() as cur:
                    cur.executemany(INSERT_DELIVERY, rows)
                conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(CHANNEL)))
            conn.execute(
                "UPDATE webhook_tracking SET position = %s WHERE name = %s",
                (upper, TRACKING_NAME),
            )
        return Followed(upper - position, len(rows))

    def _deliveries(self, conn: Connection[Any], stored: Sequence[Any]) -> list[tuple[Any, ...]]:
        accounts = self._accounts_of(conn, {campaign_id for _, campaign_id, _, _ in stored})
        subscribed: dict[UUID, list[tuple[UUID, list[str]]]] = {}
        for webhook_id, account_id, kinds in conn.execute(
            _ENDPOINTS, (list(set(accounts.values())),)
        ):
            subscribed.setdefault(account_id, []).append((webhook_id, kinds))
        starts: dict[tuple[UUID, int], events.RunStart | None] = {}

        def run_start(campaign_id: UUID, run_number: int) -> events.RunStart | None:
            if (campaign_id, run_number) not in starts:
                starts.update(self._run_starts(conn, campaign_id))
            return starts.setdefault((campaign_id, run_number), None)

        rows = []
        for position, campaign_id, topic, state in stored:
            account_id = accounts.get(campaign_id)
            endpoints = subscribed.get(account_id) if account_id else None
            if not endpoints:
                continue
            try:
                kind, body = events.payload(position, campaign_id, topic, bytes(state), run_start)
            except Exception:  # one malformed event must not stop every endpoint's webhooks
                log.exception("webhooks: cannot read the event at position %s; skipped", position)
                continue
            for webhook_id, kinds in endpoints:
                if kind in kinds:
                    rows.append((
                        message_id(webhook_id, position), webhook_id, account_id, kind,
                        position, body.decode(), self.retry_seconds,
                    ))  # fmt: skip
        return rows

    def _accounts_of(self, conn: Connection[Any], campaign_ids: set[UUID]) -> dict[UUID, UUID]:
        missing = [c for c in campaign_ids if c not in self._accounts]
        if missing:
            for campaign_id, topic, state in conn.execute(_CREATED, (missing,)):
                account = events.decode(topic, bytes(state)).get("account_id")
                if account:
                    self._accounts[campaign_id] = UUID(account)
            while len(self._accounts) > ACCOUNTS_CACHED:
                self._accounts.popitem(last=False)
        return {c: self._accounts[c] for c in campaign_ids if c in self._accounts}

    @staticmethod
    def _run_starts(
        conn: Connection[Any], campaign_id: UUID
    ) -> dict[tuple[UUID, int], events.RunStart | None]:
        """Every run's start of the campaign (runs are few; each read once per window)."""
        found: dict[tuple[UUID, int], events.RunStart | None] = {}
        for topic, state in conn.execute(_RUN_STARTS, (campaign_id, events.RUN_STARTED_TOPIC)):
            run_number, start = events.run_start(topic, bytes(state))
            found.setdefault((campaign_id, run_number), start)
        return found
