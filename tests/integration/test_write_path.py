"""What a save is given besides its events, on real PostgreSQL: the metadata, the
idempotency record written in the events' own transaction, and whether to snapshot.

Each is an argument of ``CampaignStore.save_campaign`` (or of a command), never state
left behind by an earlier call: a save without them stores null metadata, writes no
record and snapshots on the interval.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from application.idempotency_records import IdempotencyRecords
from application.metadata import CommandContext
from application.store import CampaignStore, IntegrityError, store_env
from tests.integration.test_recorder_append import generate, started

pytestmark = pytest.mark.integration


@pytest.fixture
def small_store(db, pool) -> Iterator[CampaignStore]:  # type: ignore[no-untyped-def]
    """Snapshots every 5 events, so a handful of events crosses the interval."""
    store = CampaignStore(store_env(db, pool_size=1), snapshot_every=5)
    yield store
    store.close()


def metas(db, stream_id: UUID) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    with psycopg.connect(db.conninfo()) as conn:
        rows = conn.execute(
            "SELECT state FROM nudgescribe_events WHERE originator_id = %s"
            " ORDER BY originator_version",
            (stream_id,),
        ).fetchall()
    return [json.loads(bytes(state))["_meta"] for (state,) in rows]


def record(db, account_id: UUID, key: str) -> tuple[Any, ...] | None:  # type: ignore[no-untyped-def]
    with psycopg.connect(db.conninfo()) as conn:
        return conn.execute(
            "SELECT state, result FROM idempotency_keys WHERE account_id = %s AND key = %s",
            (account_id, key),
        ).fetchone()


def test_each_save_stores_the_context_it_is_given_and_only_that(db, small_store):
    campaign, keys = started(2)
    alice = CommandContext.for_request(user_id="alice", account_id=uuid4(), ip="10.0.0.1")
    small_store.save_campaign(campaign, context=alice)
    generate(campaign, keys)
    small_store.save_campaign(campaign)  # no context: nobody, not the previous save's

    first, second, *later = metas(db, campaign.id)
    assert (
        first
        == second
        == {
            "user_id": "alice",
            "account_id": alice.account_id,
            "ip": "10.0.0.1",
            "correlation_id": alice.correlation_id,
        }
    )
    assert later == [dict.fromkeys(first)] * len(keys)
    assert small_store.get_campaign(campaign.id).version == campaign.version  # read back clean


def test_the_idempotency_record_commits_with_the_events(db, pool, small_store):
    records = IdempotencyRecords(pool)
    campaign, _ = started(1)
    claim = records.claim(campaign.account_id, "k-commit", "fingerprint")

    position = small_store.save_campaign(
        campaign, also_write=records.completion(claim, lambda p: {"position": p})
    )

    assert record(db, campaign.account_id, "k-commit") == ("done", {"position": position})
    assert small_store.get_campaign(campaign.id).version == campaign.version


def test_the_idempotency_record_rolls_back_with_events_that_conflict(db, pool, small_store):
    records = IdempotencyRecords(pool)
    campaign, keys = started(1)
    small_store.save_campaign(campaign)
    racing = small_store.get_campaign(campaign.id)
    generate(campaign, keys)
    small_store.save_campaign(campaign)  # another writer got there first
    generate(racing, keys)
    claim = records.claim(campaign.account_id, "k-conflict", "fingerprint")

    with pytest.raises(IntegrityError):
        small_store.save_campaign(
            racing, also_write=records.completion(claim, lambda p: {"position": p})
        )

    assert record(db, campaign.account_id, "k-conflict") == ("in_flight", None)


def test_snapshot_false_leaves_the_interval_snapshot_to_the_caller(small_store):
    deferred, keys = started(10)
    small_store.save_campaign(deferred, snapshot=False)
    generate(deferred, keys)
    small_store.save_campaign(deferred, snapshot=False)
    on_interval, keys = started(10)
    small_store.save_campaign(on_interval)
    generate(on_interval, keys)
    small_store.save_campaign(on_interval)

    assert small_store.snapshots is not None
    assert list(small_store.snapshots.get(deferred.id)) == []
    (snapshot,) = small_store.snapshots.get(on_interval.id, desc=True, limit=1)
    assert snapshot.originator_version == on_interval.version
