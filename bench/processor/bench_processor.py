"""Processor benchmarks (not tests: they print numbers and never fail on time).

1. A 10,000-segment rerun where every segment matched: time from the initiate command's
   return until the run is finalised (background processor, woken by LISTEN), against a
   raw psycopg baseline that inserts the same event rows (500 per executemany).
2. A new 1,000-segment campaign against an OpenAI-compatible loopback server with 50 ms
   latency: time from create until finalised, against a raw baseline of the same 1,000
   HTTP calls with the same concurrency and no database.

Run from the repository root: ``python bench/processor/bench_processor.py``
(DATABASE_URL set: that server; unset: an embedded one).
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path
from uuid import UUID, uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import httpx
from psycopg_pool import ConnectionPool

from application.campaigns import CampaignCommands
from application.content.groups import GroupSegments
from application.database import ConnectionInfo, open_pool
from application.generators import OpenAIChatGenerator, TemplateGenerator
from application.idempotency_records import IdempotencyRecords
from application.migrate import migrate
from application.processor import Processor
from application.settings import Settings
from application.store import CampaignStore, store_env
from tests.dbserver import server_url, throwaway_database
from tests.drive import approve_and_publish
from tests.fakes.chat_server import API_KEY, chat_server
from tests.processing import OPENAI, create_campaign, customers, rerun

SEGMENTS_MATCHED = 10_000
SEGMENTS_NEW = 1_000
LATENCY = 0.05


def wait_finalised(pool: ConnectionPool, campaign_id: UUID, run_number: int) -> None:
    """Poll (every 20 ms) until the run's RunFinalised is in the log."""
    while True:
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT count(*) FROM nudgescribe_events WHERE originator_id = %s AND topic = %s",
                (campaign_id, "domain.campaign:Campaign.RunFinalised"),
            ).fetchone()
        if row and row[0] >= run_number:
            return
        time.sleep(0.02)


def raw_insert_baseline(pool: ConnectionPool, campaign_id: UUID) -> float:
    """Insert the run's SegmentMatched rows again with plain psycopg, 500 per batch."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT originator_id, originator_version, topic, state FROM nudgescribe_events "
            "WHERE originator_id = %s AND topic LIKE %s",
            (campaign_id, "%.SegmentMatched"),
        ).fetchall()
        conn.execute(
            "CREATE TEMP TABLE raw_events (LIKE nudgescribe_events INCLUDING DEFAULTS "
            "EXCLUDING CONSTRAINTS)"
        )
        conn.commit()
        started = time.perf_counter()
        for start in range(0, len(rows), 500):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO raw_events (originator_id, originator_version, topic, state) "
                    "VALUES (%s, %s, %s, %s)",
                    rows[start : start + 500],
                )
        return time.perf_counter() - started


def bench_all_matched(commands, store, pool, db, settings) -> None:  # type: ignore[no-untyped-def]
    account_id = uuid4()
    members = customers(range(SEGMENTS_MATCHED))
    processor = Processor(store, pool, db, {"template": TemplateGenerator()}, settings)
    processor.start()
    try:
        started = time.perf_counter()
        campaign_id = create_campaign(commands, pool, account_id, members)
        wait_finalised(pool, campaign_id, 1)
        print(
            f"  setup: run 1 with {SEGMENTS_MATCHED} generated (template) "
            f"in {time.perf_counter() - started:.2f} s"
        )
        started = time.perf_counter()
        approve_and_publish(store, campaign_id)
        print(
            f"  setup: approve + publish {SEGMENTS_MATCHED}: {time.perf_counter() - started:.2f} s"
        )

        started = time.perf_counter()
        run_number = rerun(commands, pool, account_id, campaign_id, members)
        initiated = time.perf_counter()
        wait_finalised(pool, campaign_id, run_number)
        finalised = time.perf_counter()
    finally:
        processor.stop()
    baseline = raw_insert_baseline(pool, campaign_id)
    processing = finalised - initiated
    print(f"  initiate (group segments, compare, one save): {initiated - started:.2f} s")
    print(f"  finalised after initiate: {processing:.2f} s  (target < 2 s)")
    print(
        f"  raw psycopg insert of the same {SEGMENTS_MATCHED} rows: {baseline:.2f} s "
        f"-> processor / raw = {processing / baseline:.1f}x"
    )


async def raw_http_baseline(url: str, concurrency: int) -> float:
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers={"authorization": f"Bearer {API_KEY}"}, timeout=30
    ) as client:

        async def call(i: int) -> None:
            async with semaphore:
                body = {"model": "m", "messages": [{"role": "user", "content": f"raw {i}"}]}
                (await client.post("/chat/completions", json=body)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(call(i) for i in range(SEGMENTS_NEW)))
        return time.perf_counter() - started


def bench_new_segments(commands, store, pool, db, settings) -> None:  # type: ignore[no-untyped-def]
    with chat_server(latency=LATENCY) as server:
        generator = OpenAIChatGenerator(
            server.url, API_KEY, concurrency=settings.generator_concurrency
        )
        processor = Processor(
            store, pool, db, {"template": TemplateGenerator(), "openai": generator}, settings
        )
        processor.start()
        try:
            started = time.perf_counter()
            campaign_id = create_campaign(
                commands, pool, uuid4(), customers(range(SEGMENTS_NEW)), OPENAI
            )
            created = time.perf_counter()
            wait_finalised(pool, campaign_id, 1)
            finalised = time.perf_counter()
        finally:
            processor.stop()
        baseline = asyncio.run(raw_http_baseline(server.url, settings.generator_concurrency))
    total = finalised - started
    ideal = SEGMENTS_NEW / settings.generator_concurrency * LATENCY
    print(
        f"  create: {created - started:.2f} s; finalised after create: {finalised - created:.2f} s"
    )
    print(
        f"  create -> finalised: {total:.2f} s  (target < 5 s; "
        f"concurrency {settings.generator_concurrency}, ideal {ideal:.2f} s)"
    )
    print(
        f"  raw httpx, same {SEGMENTS_NEW} calls, no database: {baseline:.2f} s "
        f"-> processor / raw = {total / baseline:.2f}x"
    )


def main() -> None:
    settings = Settings()
    with server_url() as url, throwaway_database(url, prefix="nudgescribe_bench") as db:
        pool = open_pool(db, max_size=8, name="bench")
        migrate(db, pool)
        store = CampaignStore(store_env(db, pool_size=4), snapshot_every=settings.snapshot_every)
        commands = CampaignCommands(store, GroupSegments(pool), IdempotencyRecords(pool))
        try:
            where = "DATABASE_URL" if settings.database_url else "embedded server"
            print(f"database: {where} ({ConnectionInfo.__name__} {db.host}:{db.port})")
            print(f"1. {SEGMENTS_MATCHED}-segment all-matched rerun")
            bench_all_matched(commands, store, pool, db, settings)
            print(f"2. {SEGMENTS_NEW} new segments, openai at {LATENCY * 1000:.0f} ms latency")
            bench_new_segments(commands, store, pool, db, settings)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"peak RSS of this process (API-side setup + processor): {peak:.0f} MiB")
        finally:
            store.close()
            pool.close()


if __name__ == "__main__":
    main()
