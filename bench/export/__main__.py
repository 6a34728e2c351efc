"""Replay: ``events export`` (application.export.write_lines) beside a raw keyset select.

A log of ``--events`` events is written (a 1,000-segment run's generated messages,
campaign after campaign, saved 500 at a time). Then, interleaved ``--runs`` times:

* export: ``write_lines``, exactly what ``nudgescribe events export`` runs, writing the
  JSON lines to /dev/null (each line spliced from the stored JSON: server-side cuts,
  page-wide unwrapping of transcoded values, the decoding path for the rare event that
  needs it; see application/export.py);
* raw: the same rows fetched with a psycopg keyset select in pages of 2,000
  (``WHERE notification_id > last ORDER BY notification_id LIMIT 2000``), not decoded.

Prints events/s for both and the ratio (target >= 0.8). ``--version-1`` first rewrites
the stored ``MessageGenerated`` states to version 1 (as a log written before version 2
holds them), so the export upcasts every one of them.

    python -m bench export [-- --events 50000 --runs 5 --version-1]
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import psycopg

from application.export import write_lines
from application.store import CampaignStore, store_env
from bench.append.run import generate, started_campaign
from bench.common import bench_database, median, timed, where

RAW = (
    "SELECT notification_id, originator_id, originator_version, topic, state "
    "FROM nudgescribe_events WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
)
PAGE = 2000


def write_log(store: CampaignStore, events: int) -> None:
    while events > 0:
        segments = min(1000, events)
        campaign, keys = started_campaign(segments)
        store.save_campaign(campaign)
        for start in range(0, segments, 500):
            generate(campaign, keys[start : start + 500])
            store.save_campaign(campaign)
        events -= segments + 2


# The members version 2 adds (null: the bench's template generator reports neither).
_VERSION_2 = ',"usage":null,"latency_ms":null,"class_version":2'
_TO_VERSION_1 = (
    "UPDATE nudgescribe_events SET state = convert_to(replace(convert_from(state, 'UTF8'),"
    " %s, ''), 'UTF8') WHERE topic = 'domain.campaign:Campaign.MessageGenerated'"
)


def export_all(conn: psycopg.Connection[Any]) -> int:
    with open(os.devnull, "wb") as sink:
        return write_lines(conn, sink)


def raw_all(conn: psycopg.Connection[Any]) -> int:
    count, last = 0, 0
    while True:
        rows = conn.execute(RAW, (last, PAGE)).fetchall()
        if not rows:
            return count
        count += len(rows)
        last = rows[-1][0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--version-1", action="store_true", help="MessageGenerated stored at v1")
    args = parser.parse_args(argv)
    print(f"export benchmark on {where()}; median of {args.runs} runs", flush=True)
    with bench_database() as (db, _pool):
        store = CampaignStore(store_env(db, pool_size=2), snapshot_every=10**9)
        try:
            write_log(store, args.events)
        finally:
            store.close()
        with psycopg.connect(db.conninfo()) as conn:
            if args.version_1:
                conn.execute(_TO_VERSION_1, (_VERSION_2,))
                conn.commit()
            total = raw_all(conn)
            exported = export_all(conn)  # and a warm-up
            assert exported == total, f"exported {exported} of {total} events"
            exports, raws = [], []
            for _ in range(args.runs):
                exports.append(total / timed(lambda: export_all(conn)))
                raws.append(total / timed(lambda: raw_all(conn)))
    ours, raw = median(exports), median(raws)
    print(
        f"export {total:,} events: {ours:,.0f} events/s   raw keyset select {raw:,.0f} events/s"
        f"   ratio {ours / raw:.2f}   (target >= 0.8)"
        + ("   MessageGenerated stored at version 1" if args.version_1 else ""),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
