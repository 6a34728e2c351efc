"""The processor's queue, filled from the event log exactly once.

The follower selects the log past its tracked position for the events that need work
(a run started or retried, a regeneration requested) and upserts one row per campaign
into ``processor_queue`` in the same transaction that moves its position: a crash
either keeps both or neither. The recorder's EXCLUSIVE lock makes notification-id order
equal commit order, so nothing committed below the highest id seen can appear later.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from psycopg import sql
from psycopg_pool import ConnectionPool

from application.processor.partition import Partition, bucket_of
from application.store import EVENTS_TABLE

QUEUE_CHANNEL = "nudgescribe_processor"
TRACKING_NAME = "processor"
FOLLOW_WINDOW = 100_000  # log entries looked at per follower transaction
JOB_TOPICS = [
    f"domain.campaign:Campaign.{name}"
    for name in ("RunStarted", "RunRetried", "MessageRegenerationRequested")
]

PROCESSOR_DDL: list[sql.Composable] = [
    sql.SQL(
        """CREATE TABLE IF NOT EXISTS processor_queue (
            campaign_id uuid PRIMARY KEY,
            bucket bigint NOT NULL,
            position bigint NOT NULL,
            queued_at timestamptz NOT NULL DEFAULT now(),
            attempts integer NOT NULL DEFAULT 0,
            not_before timestamptz NOT NULL DEFAULT now(),
            last_error text)"""
    ),
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
_ENQUEUE = sql.SQL(
    "INSERT INTO processor_queue AS q (campaign_id, bucket, position) VALUES (%s, %s, %s) "
    "ON CONFLICT (campaign_id) DO UPDATE SET position = GREATEST(q.position, EXCLUDED.position), "
    "attempts = 0, not_before = now(), last_error = NULL"
)


@dataclass(frozen=True)
class QueuedJob:
    campaign_id: UUID
    position: int  # log position of the latest event that queued it


class JobQueue:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

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
                    cur.executemany(_ENQUEUE, [(cid, bucket_of(cid), pos) for cid, pos in jobs])
                conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(QUEUE_CHANNEL)))
            conn.execute(
                "UPDATE processor_tracking SET position = %s WHERE name = %s",
                (upper, TRACKING_NAME),
            )
        return upper - position

    def take(self, partition: Partition) -> QueuedJob | None:
        """The oldest job of the partition that is due (callers hold the slot's lock)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT campaign_id, position FROM processor_queue "
                "WHERE bucket %% %s = %s AND not_before <= now() ORDER BY position LIMIT 1",
                (partition.count, partition.index),
            ).fetchone()
        return QueuedJob(row[0], row[1]) if row else None

    def done(self, job: QueuedJob) -> None:
        """Remove the job unless the log queued it again while it was being worked."""
        with self.pool.connection() as conn:
            conn.execute(
                "DELETE FROM processor_queue WHERE campaign_id = %s AND position <= %s",
                (job.campaign_id, job.position),
            )

    def defer(self, job: QueuedJob, error: str) -> None:
        """Try again later, backing off exponentially up to five minutes."""
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE processor_queue SET attempts = attempts + 1, last_error = %s, "
                "not_before = now() + make_interval(secs => least(300, 2 ^ least(attempts, 9))) "
                "WHERE campaign_id = %s",
                (error[:2000], job.campaign_id),
            )

    def position(self) -> int:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT position FROM processor_tracking WHERE name = %s", (TRACKING_NAME,)
            ).fetchone()
        return int(row[0]) if row else 0
