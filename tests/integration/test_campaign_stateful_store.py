"""Random command sequences saved to the real store after every step reload unchanged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from application.database import ConnectionInfo
from application.store import CampaignStore, store_env
from tests.dbserver import throwaway_database
from tests.unit.campaign_machine import CampaignMachine

pytestmark = pytest.mark.integration


class StoredCampaignMachine(CampaignMachine):
    """Saves after every step (through a store that snapshots every few events) and checks
    that loading the campaign back from PostgreSQL gives the aggregate held in memory."""

    store: CampaignStore

    def take_events(self) -> list[Any]:
        recordings = self.store.save(self.campaign)
        return [r.domain_event for r in recordings]

    def after_collect(self) -> None:
        loaded = self.store.get_campaign(self.campaign.id)
        assert vars(loaded) == vars(self.campaign)


@pytest.fixture
def own_db(pg_server_url: str) -> Iterator[ConnectionInfo]:
    """A database of its own: no processor of another test may touch these campaigns."""
    with throwaway_database(pg_server_url, prefix="nudgescribe_stateful") as info:
        yield info


@pytest.fixture
def snapshotting_store(own_db: ConnectionInfo) -> Iterator[CampaignStore]:
    store = CampaignStore(store_env(own_db, create_table=True, pool_size=2), snapshot_every=7)
    yield store
    store.close()


def test_saved_and_reloaded_campaign_equals_the_one_in_memory(snapshotting_store):
    StoredCampaignMachine.store = snapshotting_store

    run_state_machine_as_test(
        StoredCampaignMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )

    with snapshotting_store.recorder.datastore.transaction(commit=False) as curs:
        curs.execute("SELECT count(*) AS n FROM nudgescribe_snapshots")
        row = curs.fetchone()
    assert row is not None
    assert row["n"] > 0, "reloads went through snapshots too"
