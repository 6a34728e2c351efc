"""The event store: an ``eventsourcing`` application holding one stream per campaign."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate, Snapshot
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Recording

from application.database import ConnectionInfo
from application.metadata import NO_CONTEXT, CommandContext, encoded_metadata
from application.metrics import count_appended
from application.recorder import SameTransactionWrite
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


class CampaignStore(Application[UUID]):
    """Stores campaigns; snapshots the in-memory aggregate every ``snapshot_every`` events.

    The library's interval snapshotting (``snapshotting_intervals``) reloads the aggregate
    from the database to take each snapshot; a save here already holds the aggregate, so
    ``save`` takes the snapshot from memory instead.
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

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        context: CommandContext = NO_CONTEXT,
        snapshot: bool = True,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """The library's save, with ``context`` stored as every event's metadata.

        ``snapshot=False`` is for a writer that saves one large aggregate in many batches
        (the processor): each interval snapshot would re-encode the whole aggregate, so it
        snapshots once at the end (``snapshot_now``). Other keyword arguments reach the
        recorder's ``insert_events``.
        """
        crossing = [c for c in objs if snapshot and isinstance(c, Campaign) and self._crosses(c)]
        recordings = super().save(*objs, metadata=encoded_metadata(self.mapper, context), **kwargs)
        for campaign in crossing:
            snapshot_now(self, campaign)
        count_appended(r.notification.topic for r in recordings)
        return recordings

    def _crosses(self, campaign: Campaign) -> bool:
        """Whether saving the campaign's pending events passes a ``snapshot_every`` mark."""
        before = campaign.version - len(campaign.pending_events)
        return campaign.version // self.snapshot_every > before // self.snapshot_every

    def save_campaign(
        self,
        *campaigns: Campaign,
        context: CommandContext = NO_CONTEXT,
        also_write: SameTransactionWrite | None = None,
        snapshot: bool = True,
    ) -> int | None:
        """Save atomically; return the log position of the last event stored (or None).

        ``also_write`` runs inside the same transaction, after the events are inserted.
        """
        recordings = self.save(
            *campaigns, context=context, snapshot=snapshot, also_write=also_write
        )
        if not recordings:
            return None
        return max(r.notification.id for r in recordings)

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0


def snapshot_now(store: CampaignStore, campaign: Campaign) -> None:
    assert store.snapshots is not None
    store.snapshots.put([Snapshot.take(campaign)])
