"""The processor's queue: filled from the event log exactly once, worked under leases.

The follower selects the log past its tracked position for the events that need work
(a run started or retried, a regeneration requested) and upserts one row per campaign
into ``processor_queue`` in the same transaction that moves its position: a crash
either keeps both or neither. The recorder's EXCLUSIVE lock makes notification-id order
equal commit order, so nothing committed below the highest id seen can appear later.

Any number of processors work the queue. A processor claims the oldest due row whose
lease is free or expired (``FOR UPDATE SKIP LOCKED``, so claimers never wait on each
other) and stamps it with its name and a lease; a heartbeat extends the lease while the
job is worked. One row per campaign, so a campaign is worked by one processor at a
time. A processor that dies stops renewing, and its job is taken over once the lease
expires; one whose heartbeat finds the row taken by another has lost it and stops.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from application.store import EVENTS_TABLE

log = logging.getLogger(__name__)
QUEUE_CHANNEL = "nudgescribe_processor"
TRACKING_NAME = "processor"
FOLLOW_WINDOW = 100_000  # log entries looked at per follower transaction
HEARTBEATS_PER_LEASE = 3  # a lease survives two lost renewals
JOB_TOPICS = [
    f"domain.campaign:Campaign.{name}"
    for name in ("RunStarted", "RunRetried", "MessageRegenerationRequested")
]

PROCESSOR_DDL: list[sql.Composable] = [
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS processor_queue (
            campaign_id uuid PRIMARY KEY,
            position bigint NOT NULL,
            queued_at timestamptz NOT NULL DEFAULT now(),
            attempts integer NOT NULL DEFAULT 0,
            not_before timestamptz NOT NULL DEFAULT now(),
            last_error text,
            leased_by text,
            lease_expires_at timestamptz)"""
    ),
    # A queue written before leases: processors then split campaigns by a hash bucket.
    sql.SQL("ALTER TABLE processor_queue ADD COLUMN IF NOT EXISTS leased_by text"),
    sql.SQL("ALTER TABLE processor_queue ADD COLUMN IF NOT EXISTS lease_expires_at timestamptz"),
    sql.SQL("ALTER TABLE processor_queue DROP COLUMN IF EXISTS bucket"),
    sql.SQL(
        "CREATE INDEX IF NOT EXISTS processor_queue_position_idx ON processor_queue (position)"
    ),
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS processor_tracking (
            name text PRIMARY KEY,
            position bigint NOT NULL)"""
    ),
    sql.SQL(
        "INSERT INTO processor_tracking (name, position) VALUES ({}, 0) ON CONFLICT DO NOTHING"
    ).format(sql.Literal(TRACKING_NAME)),
]

_SELECT_JOBS = sql.SQL(
    "SELECT originator_id, max(notification_id) FROM {events} "
    "WHERE notification_id > %s AND notification_id <= %s AND topic = ANY(%s) "
    "GROUP BY originator_id"
).format(events=sql.Identifier(EVENTS_TABLE))
_MAX_POSITION = sql.SQL("SELECT max(notification_id) FROM {events}").format(
    events=sql.Identifier(EVENTS_TABLE)
)
# Queued again while leased: the lease stays, and ``done`` then keeps the row for another
# pass instead of deleting it.
_ENQUEUE = (
    "INSERT INTO processor_queue AS q (campaign_id, position) VALUES (%s, %s) "
    "ON CONFLICT (campaign_id) DO UPDATE SET position = GREATEST(q.position, EXCLUDED.position), "
    "attempts = 0, not_before = now(), last_error = NULL"
)
_CLAIM = (
    "WITH free AS (SELECT campaign_id, leased_by FROM processor_queue "
    "  WHERE not_before <= now() AND (lease_expires_at IS NULL OR lease_expires_at <= now()) "
    "  ORDER BY position LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "UPDATE processor_queue AS q SET leased_by = %(holder)s, "
    "  lease_expires_at = now() + make_interval(secs => %(lease)s) "
    "FROM free WHERE q.campaign_id = free.campaign_id "
    "RETURNING q.campaign_id, q.position, free.leased_by"
)
_RENEW = (
    "UPDATE processor_queue SET lease_expires_at = now() + make_interval(secs => %s) "
    "WHERE campaign_id = %s AND leased_by = %s"
)
_RELEASE = (
    "UPDATE processor_queue SET leased_by = NULL, lease_expires_at = NULL "
    "WHERE campaign_id = %s AND leased_by = %s"
)


def processor_name() -> str:
    """Unique per processor, and says where it runs: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class QueuedJob:
    campaign_id: UUID
    position: int  # log position of the latest event that queued it


class JobQueue:
    def __init__(self, pool: ConnectionPool, holder: str, lease_seconds: float) -> None:
        self.pool = pool
        self.holder = holder  # the name this processor's leases carry
        self.lease_seconds = lease_seconds

    def follow(self) -> int:
        """Queue the work the log holds past the tracked position; return how many entries
        of the log were consumed (0 when caught up or another processor is following)."""
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT position FROM processor_tracking WHERE name = %s FOR UPDATE SKIP LOCKED",
                (TRACKING_NAME,),
            ).fetchone()
            if row is None:
                return 0
            position: int = row[0]
            latest = conn.execute(_MAX_POSITION).fetchone()
            upper = min(latest[0] if latest and latest[0] else 0, position + FOLLOW_WINDOW)
            if upper <= position:
                return 0
            jobs = conn.execute(_SELECT_JOBS, (position, upper, JOB_TOPICS)).fetchall()
            if jobs:
                with conn.cursor() as cur:
                    cur.executemany(_ENQUEUE, jobs)
                conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(QUEUE_CHANNEL)))
            conn.execute(
                "UPDATE processor_tracking SET position = %s WHERE name = %s",
                (upper, TRACKING_NAME),
            )
        return upper - position

    def claim(self) -> QueuedJob | None:
        """Lease the oldest due job no live lease holds, or None."""
        with self.pool.connection() as conn:
            row = conn.execute(
                _CLAIM, {"holder": self.holder, "lease": self.lease_seconds}
            ).fetchone()
        if row is None:
            return None
        if row[2] is not None and row[2] != self.holder:
            log.warning("taking over campaign %s: the lease of %s expired", row[0], row[2])
        return QueuedJob(row[0], row[1])

    def renew(self, job: QueuedJob) -> bool:
        """Extend the lease; False when another processor holds the job (or it is done)."""
        with self.pool.connection() as conn:
            renewed = conn.execute(_RENEW, (self.lease_seconds, job.campaign_id, self.holder))
            return renewed.rowcount == 1

    def release(self, job: QueuedJob) -> None:
        """Let any processor take the job now (this one is stopping)."""
        with self.pool.connection() as conn:
            conn.execute(_RELEASE, (job.campaign_id, self.holder))

    def done(self, job: QueuedJob) -> None:
        """Remove the job unless the log queued it again while it was being worked; then
        it stays, released, for another pass. A lost lease changes nothing."""
        with self.pool.connection() as conn:
            conn.execute(
                "DELETE FROM processor_queue "
                "WHERE campaign_id = %s AND position <= %s AND leased_by = %s",
                (job.campaign_id, job.position, self.holder),
            )
            conn.execute(_RELEASE, (job.campaign_id, self.holder))

    def defer(self, job: QueuedJob, error: str) -> None:
        """Release the job to be tried again later, backing off exponentially up to five
        minutes."""
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE processor_queue SET attempts = attempts + 1, last_error = %s, "
                "not_before = now() + make_interval(secs => least(300, 2 ^ least(attempts, 9))), "
                "leased_by = NULL, lease_expires_at = NULL "
                "WHERE campaign_id = %s AND leased_by = %s",
                (error[:2000], job.campaign_id, self.holder),
            )

    @contextmanager
    def heartbeat(self, job: QueuedJob) -> Iterator[threading.Event]:
        """Renew the job's lease in the background while the block works it. The event is
        set once the lease is lost: taken by another processor, or not renewed for a whole
        lease (the database unreachable), after which another may hold it."""
        lost, finished = threading.Event(), threading.Event()

        def beat() -> None:
            renewed_at = time.monotonic()
            while not finished.wait(self.lease_seconds / HEARTBEATS_PER_LEASE):
                started = time.monotonic()
                try:
                    if not self.renew(job):
                        log.warning("lost the lease of campaign %s; stopping", job.campaign_id)
                        lost.set()
                        return
                    renewed_at = started
                except Exception:  # the database is away: keep trying while the lease lasts
                    log.exception("could not renew the lease of campaign %s", job.campaign_id)
                    if time.monotonic() - renewed_at >= self.lease_seconds:
                        lost.set()
                        return

        thread = threading.Thread(target=beat, name=f"lease-{job.campaign_id}", daemon=True)
        thread.start()
        try:
            yield lost
        finally:
            finished.set()
            thread.join()

    def position(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT position FROM processor_tracking WHERE name = %s", (TRACKING_NAME,)
            ).fetchone()
        return int(row[0]) if row else 0
