"""A campaign as it was: at the end of a given run, or at a moment in time.

Built from the aggregate at that version of its stream (snapshot at or before it, plus
the events up to it), never from the read models, so it answers what the log says.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from psycopg import sql
from psycopg_pool import ConnectionPool

from application.store import EVENTS_TABLE, CampaignStore
from domain.campaign import Campaign
from domain.errors import CampaignNotFound, RunNotFound
from domain.versions import upcast

RUN_STARTED_TOPIC = "domain.campaign:Campaign.RunStarted"


@dataclass(frozen=True)
class CampaignState:
    campaign_id: UUID
    name: str
    status: str
    current_run_number: int
    customer_group_id: UUID
    segment_variables: list[str]
    ai_config: dict[str, Any]
    message_counts: dict[str, int]
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignState:
        run = campaign.current_run
        counts = Counter(m.status for m in run.active_messages()) if run else Counter()
        return cls(
            campaign_id=campaign.id,
            name=campaign.name,
            status=str(campaign.status),
            current_run_number=campaign.current_run_number,
            customer_group_id=campaign.customer_group_id,
            segment_variables=list(campaign.segment_variables),
            ai_config=dict(campaign.ai_config),
            message_counts={str(k): v for k, v in counts.items()},
            created_at=campaign.created_on,
            updated_at=campaign.modified_on,
            version=campaign.version,
        )


class TimeTravel:
    def __init__(self, store: CampaignStore, pool: ConnectionPool) -> None:
        self.store = store
        self.pool = pool

    def as_of_run(self, account_id: UUID, campaign_id: UUID, run_number: int) -> CampaignState:
        """The campaign at the end of run ``run_number`` (just before the next run began)."""
        current = self._owned(account_id, campaign_id)
        if run_number < 1 or run_number > current.current_run_number:
            raise RunNotFound(campaign_id)
        if run_number == current.current_run_number:
            return CampaignState.of(current)
        version = self._version_before_run(campaign_id, run_number + 1)
        return CampaignState.of(self.store.get_campaign(campaign_id, version=version))

    def as_of(self, account_id: UUID, campaign_id: UUID, moment: datetime) -> CampaignState:
        """The campaign as it stood at ``moment``; before it existed it is not found."""
        self._owned(account_id, campaign_id)
        version = self._version_at(campaign_id, moment)
        if version is None:
            raise CampaignNotFound(campaign_id)
        return CampaignState.of(self.store.get_campaign(campaign_id, version=version))

    def _owned(self, account_id: UUID, campaign_id: UUID) -> Campaign:
        campaign = self.store.get_campaign(campaign_id)
        if campaign.account_id != account_id:
            raise CampaignNotFound(campaign_id)
        return campaign

    def _version_before_run(self, campaign_id: UUID, run_number: int) -> int:
        # The campaign's few RunStarted events, their data read as every reader reads it:
        # upcast to the current version.
        query = sql.SQL(
            "SELECT originator_version, state FROM {} WHERE originator_id = %s AND topic = %s"
        ).format(sql.Identifier(EVENTS_TABLE))
        with self.pool.connection() as conn:
            rows = conn.execute(query, (campaign_id, RUN_STARTED_TOPIC)).fetchall()
        for version, state in rows:
            if upcast(RUN_STARTED_TOPIC, orjson.loads(state))["run_number"] == run_number:
                return int(version) - 1
        raise RunNotFound(campaign_id)

    def _version_at(self, campaign_id: UUID, moment: datetime) -> int | None:
        query = sql.SQL(
            "SELECT max(originator_version) FROM {} WHERE originator_id = %s "
            "AND (convert_from(state, 'UTF8')::jsonb #>> '{{timestamp,_data_}}')::timestamptz <= %s"
        ).format(sql.Identifier(EVENTS_TABLE))
        with self.pool.connection() as conn:
            row = conn.execute(query, (campaign_id, moment)).fetchone()
        return int(row[0]) if row and row[0] is not None else None
