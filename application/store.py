"""The event store: an ``eventsourcing`` application holding one stream per campaign."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording
from psycopg import Cursor
from psycopg.rows import DictRow

from application.database import ConnectionInfo
from application.metrics import count_appended
from application.recorder import same_transaction_writes
from application.transcodings import register_domain_transcodings
from domain.campaign import Campaign
from domain.errors import CampaignNotFound

APP_NAME = "Nudgescribe"
EVENTS_TABLE = "nudgescribe_events"

__all__ = ["CampaignStore", "IntegrityError", "store_env"]


def store_env(
    connection: ConnectionInfo,
    *,
    create_table: bool = False,
    pool_size: int = 5,
    lock_timeout_seconds: int = 10,
) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "application.recorder:CampaignFactory",
        "APPLICATION_RECORDER_TOPIC": "application.recorder:CampaignEventRecorder",
        "MAPPER_TOPIC": "application.metadata:MetadataMapper",
        "TRANSCODER_TOPIC": "application.transcodings:OrjsonTranscoder",
        "POSTGRES_DBNAME": connection.dbname,
        "POSTGRES_HOST": connection.host,
        "POSTGRES_PORT": str(connection.port),
        "POSTGRES_USER": connection.user,
        "POSTGRES_PASSWORD": connection.password,
        "POSTGRES_CONNECT_TIMEOUT": "3",  # also the pool's wait: a down database is a 503 in 3 s
        "POSTGRES_PRE_PING": "y",
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        "POSTGRES_LOCK_TIMEOUT": str(lock_timeout_seconds),
        "CREATE_TABLE": "y" if create_table else "n",
    }


# Set by a writer that saves one large aggregate in many batches (the processor): each
# interval snapshot would re-encode the whole aggregate, so it snapshots once at the end.
_snapshots_deferred: ContextVar[bool] = ContextVar("snapshots_deferred", default=False)


@contextmanager
def deferred_snapshots() -> Iterator[None]:
    token = _snapshots_deferred.set(True)
    try:
        yield
    finally:
        _snapshots_deferred.reset(token)


class CampaignStore(Application[UUID]):
    """Stores campaigns; snapshots the in-memory aggregate every ``snapshot_every`` events.

    The library's interval snapshotting reloads the aggregate from the database to take
    each snapshot; the processor saves in batches and already holds the aggregate, so the
    snapshot is taken from memory instead.
    """

    name = APP_NAME
    is_snapshotting_enabled = True
    snapshot_every: int = 500

    def __init__(self, env: dict[str, str], snapshot_every: int = 500) -> None:
        super().__init__(env)
        self.snapshot_every = snapshot_every

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_domain_transcodings(transcoder)

    def get_campaign(self, campaign_id: UUID, version: int | None = None) -> Campaign:
        try:
            campaign: object = self.repository.get(campaign_id, version=version)
        except AggregateNotFoundError:
            raise CampaignNotFound(campaign_id) from None
        if not isinstance(campaign, Campaign):
            raise CampaignNotFound(campaign_id)
        return campaign

    def save_campaign(
        self,
        *campaigns: Campaign,
        also_write: Callable[[Cursor[DictRow], Sequence[int]], None] | None = None,
    ) -> int | None:
        """Save atomically; return the log position of the last event stored (or None).

        ``also_write`` runs inside the same transaction, after the events are inserted.
        """
        token = same_transaction_writes.set(also_write)
        try:
            recordings = self.save(*campaigns)
        finally:
            same_transaction_writes.reset(token)
        if not recordings:
            return None
        return max(r.notification.id for r in recordings)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        if _snapshots_deferred.get():
            return
        assert self.snapshots is not None
        first_version: dict[UUID, int] = {}
        for event in processing_event.events:
            first_version.setdefault(event.originator_id, event.originator_version)
        for aggregate_id, aggregate in processing_event.aggregates.items():
            if aggregate_id not in first_version:
                continue
            crossed = (aggregate.version // self.snapshot_every) > (
                (first_version[aggregate_id] - 1) // self.snapshot_every
            )
            if crossed:
                self.snapshots.put([Snapshot.take(aggregate)])

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        count_appended(r.notification.topic for r in recordings)

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0


def snapshot_now(store: CampaignStore, campaign: Campaign) -> None:
    assert store.snapshots is not None
    store.snapshots.put([Snapshot.take(campaign)])
