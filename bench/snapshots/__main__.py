"""Writing one large snapshot: ours (binary arrays) beside the library's statement (one
composite value sent as text), on the same recorder, table and database.

The snapshot is a real campaign's, of ``--segments`` segments, taken from memory as the
processor takes one at the end of a job. The two writes alternate ``--runs`` times, each
as a new stream's. Prints the median seconds of each and their ratio. Never fails on time.

    python -m bench.snapshots [--segments 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from uuid import uuid4

from eventsourcing.domain import Snapshot
from eventsourcing.postgres import PostgresAggregateRecorder

from application.store import CampaignStore, store_env
from bench.append.run import generate, started_campaign
from bench.common import bench_database, where
from domain.campaign import Campaign


def campaign_of(segments: int) -> Campaign:
    """A first run whose every message is generated, as a job leaves it."""
    campaign, keys = started_campaign(segments)
    generate(campaign, keys)
    return campaign


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"snapshots on {where()}: a campaign of {args.segments} segments")
    with bench_database() as (db, _pool):
        store = CampaignStore(store_env(db, create_table=True))
        try:
            assert store.snapshots is not None
            recorder = store.snapshots.recorder
            stored = store.snapshots.mapper.to_stored_event(
                Snapshot.take(campaign_of(args.segments))
            )
            print(f"  snapshot of {len(stored.state) / 1e6:.1f} MB")
            ours, library = [], []
            for _ in range(args.runs):
                for write, times in (
                    (recorder.insert_events, ours),
                    (
                        lambda events: PostgresAggregateRecorder.insert_events(recorder, events),
                        library,
                    ),
                ):
                    event = dataclasses.replace(stored, originator_id=uuid4())
                    began = time.perf_counter()
                    write([event])
                    times.append(time.perf_counter() - began)
        finally:
            store.close()
    mine, theirs = statistics.median(ours), statistics.median(library)
    print(
        f"  ours {mine * 1000:.0f} ms, the library's {theirs * 1000:.0f} ms: "
        f"{theirs / mine:.1f}x faster (medians of {args.runs})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
