"""Batched campaign saves through CampaignStore beside raw psycopg writing the same rows.

For each batch size (events per save), in the same run and on the same database:

* store: a campaign records ``batch`` MessageGenerated events (the processor's batched
  generation), then ``CampaignStore.save_campaign`` saves them: encoding, metadata,
  table lock, notify, insert, commit. Only the save is timed.
* raw: the very same stored rows (same topic, same JSON bytes, so the same payload
  sizes) go into a table of the same shape with psycopg ``executemany``, one
  transaction per batch. Encoding is not timed there: the rows are ready-made.

The two sides alternate batch by batch, so load from other work on the machine hits both
alike. Prints events/s for both (medians of ``--runs`` runs) and the median of the runs'
store/raw ratios.
Uses ``DATABASE_URL`` when set, else an embedded server in a temporary folder; either
way a throwaway database that is dropped afterwards. Never fails on time.

    python -m bench.append [--runs 5] [--batches 1,100,1000] [--events 500,5000,10000]
    python bench/append/run.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import psycopg
from eventsourcing.persistence import StoredEvent

from application.database import ConnectionInfo
from application.metadata import NO_CONTEXT, encoded_metadata, with_metadata
from application.store import CampaignStore, store_env
from domain.campaign import Campaign
from domain.segments import Segment
from tests.dbserver import server_url, throwaway_database

RAW_TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_raw_events ("
    "originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea,"
    " notification_id bigserial, PRIMARY KEY (originator_id, originator_version));"
    " CREATE UNIQUE INDEX IF NOT EXISTS bench_raw_events_notification_id"
    " ON bench_raw_events (notification_id ASC)"
)
RAW_INSERT = (
    "INSERT INTO bench_raw_events (originator_id, originator_version, topic, state)"
    " VALUES (%s, %s, %s, %s)"
)
CONTENT = "Hi gold member in EU! Your spring offer is waiting: 20% off until Friday. "
TEMPLATE = {"provider": "template", "template": "Hi {{plan}} member in {{region}}!"}


@dataclass(frozen=True)
class Result:
    batch: int
    store: float  # events/s
    raw: float
    ratio: float  # median of the runs' store/raw, each run's two sides timed in alternation


def started_campaign(segments: int) -> tuple[Campaign, list[str]]:
    campaign = Campaign.create(
        account_id=uuid4(),
        name="bench",
        segment_variables=["plan", "region"],
        ai_config=TEMPLATE,
        customer_group_id=uuid4(),
        created_by="bench",
        campaign_id=uuid4(),
    )
    campaign.start_first_run(
        customer_group_id=uuid4(),
        customer_group_name="bench",
        segments=[Segment.of({"plan": f"p{i}", "region": "EU"}, 1) for i in range(segments)],
        job_uid=uuid4(),
        initiated_by="bench",
        ip="127.0.0.1",
    )
    return campaign, campaign.pending_generations()


def generate(campaign: Campaign, keys: Sequence[str]) -> None:
    for key in keys:
        campaign.record_generated_message(
            1, key, CONTENT + key, generator="template", model=None, prompt_digest="bench"
        )


def time_pair(
    store: CampaignStore, conn: psycopg.Connection, batch: int, events: int
) -> tuple[float, float]:
    """events/s of the store and of raw executemany, timed save by save in alternation.

    Alternating each batch (rather than one side's whole run, then the other's) lets a
    load spike from other work on the machine hit both sides alike.
    """
    campaign, keys = started_campaign(events)
    store.save_campaign(campaign)
    twin, _ = started_campaign(events)  # the raw table gets only the batched events
    twin.collect_events()
    store_elapsed = raw_elapsed = 0.0
    for start in range(0, events, batch):
        generate(campaign, keys[start : start + batch])
        began = time.perf_counter()
        store.save_campaign(campaign)
        store_elapsed += time.perf_counter() - began

        generate(twin, keys[start : start + batch])
        rows = [_row(as_stored(store, e)) for e in twin.collect_events()]
        began = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(RAW_INSERT, rows)
        raw_elapsed += time.perf_counter() - began
    return events / store_elapsed, events / raw_elapsed


def as_stored(store: CampaignStore, event: Any) -> StoredEvent:
    """The event as the store writes it, metadata included."""
    metadata = encoded_metadata(store.mapper, NO_CONTEXT)
    assert metadata is not None
    return with_metadata(store.mapper.to_stored_event(event), metadata)


def _row(stored: StoredEvent) -> tuple[UUID, int, str, bytes]:
    return (stored.originator_id, stored.originator_version, stored.topic, stored.state)


def measure(db: ConnectionInfo, batches: list[int], events: list[int], runs: int) -> list[Result]:
    store = CampaignStore(store_env(db, create_table=True, pool_size=2), snapshot_every=10**9)
    results = []
    try:
        with psycopg.connect(db.conninfo()) as conn:
            conn.execute(RAW_TABLE_DDL)
            conn.commit()
            sample = as_stored(store, _one_event())
            print(f"payload: {len(sample.state)} bytes of JSON per event (with metadata)")
            for batch, total in zip(batches, events, strict=True):
                stores, raws = [], []
                for _ in range(runs):
                    store_rate, raw_rate = time_pair(store, conn, batch, total)
                    stores.append(store_rate)
                    raws.append(raw_rate)
                ratios = [s / r for s, r in zip(stores, raws, strict=True)]
                result = Result(
                    batch,
                    statistics.median(stores),
                    statistics.median(raws),
                    statistics.median(ratios),
                )
                print(
                    f"{batch:>5} events/save: store {result.store:>9,.0f} events/s"
                    f"   raw executemany {result.raw:>9,.0f} events/s"
                    f"   ratio {result.ratio:.2f}   ({total:,} events x {runs} runs)",
                    flush=True,
                )
                results.append(result)
    finally:
        store.close()
    return results


def _one_event() -> object:
    campaign, keys = started_campaign(1)
    campaign.collect_events()
    generate(campaign, keys)
    return campaign.collect_events()[0]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batches", type=_ints, default=[1, 100, 1000])
    parser.add_argument("--events", type=_ints, default=[500, 5000, 10000])
    args = parser.parse_args(argv)
    if len(args.events) != len(args.batches):
        parser.error("--events needs one total per batch size")
    where = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded server"
    print(f"append benchmark on {where}; median of {args.runs} runs")
    with server_url() as url, throwaway_database(url, prefix="nudgescribe_bench") as db:
        measure(db, args.batches, args.events, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
