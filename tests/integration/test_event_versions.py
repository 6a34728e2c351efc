"""Events written years ago stay readable: every capture under ``tests/fixtures/events/``
(a campaign's whole stream as the code of its day stored it; ``capture.py`` there says
how) is loaded, byte for byte, into a fresh log and read with the current code by every
reader of the log.

* the aggregate rebuilds from the events, and the stored snapshot loads to the same state;
* the projectors fold the rows that code's projectors folded;
* the export prints every event in its type's current version (older ones upcast);
* ``verify`` finds the chains intact (over the bytes as stored) and the read models agreeing.

Changing an event's fields without an upcaster (``domain/versions.py``) fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from application.audit import export_events, verify_chains
from application.database import ConnectionInfo
from application.export import export_lines
from application.store import CampaignStore, store_env
from domain.campaign import Campaign
from domain.versions import data_fields, event_classes, stored_version, version_of
from projections.rebuild import verify
from projections.runner import ProjectionRunner
from tests.fixtures.events.rows import EVENTS_FILE, load, migrated, read, read_model_rows

pytestmark = pytest.mark.integration

CAPTURES = sorted(p for p in (Path(__file__).parents[1] / "fixtures" / "events").iterdir()
                  if (p / EVENTS_FILE).exists())  # fmt: skip


@dataclass
class Capture:
    events: list[dict[str, Any]]
    snapshot: dict[str, Any]
    read_models: dict[str, list[dict[str, Any]]]

    @property
    def campaign_id(self) -> UUID:
        return UUID(self.events[0]["originator_id"])


@dataclass
class Loaded:
    capture: Capture
    info: ConnectionInfo
    pool: ConnectionPool  # type: ignore[type-arg]
    store: CampaignStore


@pytest.fixture(params=CAPTURES, ids=[p.name for p in CAPTURES])
def loaded(request: pytest.FixtureRequest, pg_server_url: str) -> Iterator[Loaded]:
    capture = Capture(*read(request.param))
    with migrated(pg_server_url) as (info, pool):
        load(info, capture.events, capture.snapshot)
        store = CampaignStore(store_env(info, pool_size=1))
        try:
            yield Loaded(capture, info, pool, store)
        finally:
            store.close()


def test_the_aggregate_rebuilds_and_the_snapshot_loads_to_the_same_state(loaded: Loaded) -> None:
    campaign_id = loaded.capture.campaign_id
    replayed: Any = None
    for domain_event in loaded.store.events.get(campaign_id):
        replayed = domain_event.mutate(replayed)
    assert isinstance(replayed, Campaign)
    assert replayed.version == len(loaded.capture.events)

    assert loaded.store.snapshots is not None
    (snapshot,) = loaded.store.snapshots.get(campaign_id)
    from_snapshot = snapshot.mutate(None)
    assert vars(from_snapshot) == vars(replayed)
    # What the application loads (the snapshot, then any later events).
    assert vars(loaded.store.get_campaign(campaign_id)) == vars(replayed)


def test_the_projectors_fold_the_rows_the_capturing_code_folded(loaded: Loaded) -> None:
    runner = ProjectionRunner(loaded.pool, loaded.info.conninfo())
    assert runner.catch_up() == len(loaded.capture.events)
    with psycopg.connect(loaded.info.conninfo()) as conn:
        now = read_model_rows(conn)
    expected = loaded.capture.read_models
    # Columns added to a read model since the capture are not compared.
    assert {
        name: [{k: row[k] for k in rows[0]} for row in now[name]] if rows else now[name]
        for name, rows in expected.items()
    } == expected


def test_the_export_prints_every_event_in_its_current_version(loaded: Loaded) -> None:
    with psycopg.connect(loaded.info.conninfo()) as conn:
        spliced = b"".join(export_lines(conn))
        decoded = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in
                   export_events(conn)]  # fmt: skip
    assert spliced.decode().splitlines() == decoded
    classes = event_classes()
    lines = [orjson.loads(line) for line in decoded]
    assert [line["version"] for line in lines] == [e["originator_version"] for e in
                                                   loaded.capture.events]  # fmt: skip
    for line in lines:
        assert list(line["data"]) == data_fields(classes[line["type"]]), line


def test_verify_finds_the_log_intact_and_the_read_models_agreeing(loaded: Loaded) -> None:
    with psycopg.connect(loaded.info.conninfo()) as conn:
        assert verify_chains(conn) == (len(loaded.capture.events), [])
    ProjectionRunner(loaded.pool, loaded.info.conninfo()).catch_up()
    assert set(verify(loaded.pool).values()) == {0}


def test_the_captures_hold_every_version_of_every_event_type() -> None:
    """A new event type, or a new version of one, needs a capture (run ``capture.py``)."""
    captured = {
        (event["topic"].rpartition(".")[2], stored_version(orjson.loads(event["state"])))
        for path in CAPTURES
        for event in read(path)[0]
    }
    current = {(name, version_of(cls)) for name, cls in event_classes().items()}
    assert current - captured == set()
