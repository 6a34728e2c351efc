"""Projection catch-up vs a raw psycopg insert of the same rows, 500 rows per transaction.

Builds a log through the real store (campaigns with N segments each, driven through
generate -> approve -> publish -> rerun -> copy/generate/archive), then, several times:
  * baseline: executemany-inserts one message-shaped row per event into a scratch table,
    500 rows per transaction;
  * the library's per-event runner (``eventsourcing.projection.ProjectionRunner``, one
    row and its tracking record per event and transaction) over the log's first
    --library-events events;
  * catch-up: a fresh catch-up of every read model from position 0 into a scratch schema
    (one transaction per batch; batches start at --batch-size positions and double while
    more is waiting, up to --max-batch-size; the sizes used are printed);
  * rebuild: ``projections.rebuild.rebuild`` of every live read model (replay into fresh
    tables, top-up under the live lock, swap).
Prints events/s for each, both baselines and the ratios (median of the runs). Never fails
on time.

    python -m bench.projections.bench_catch_up [--campaigns 4] [--segments 2500] [--runs 5]
        [--batch-size 500] [--max-batch-size 20000] [--library-events 3000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from uuid import uuid4

import psycopg
from psycopg.types.string import TextLoader

from application.campaigns import CampaignCommands
from application.content.groups import GroupSegments
from application.database import open_pool
from application.idempotency_records import IdempotencyRecords
from application.migrate import migrate
from application.row_security import row_security_ddl
from application.store import CampaignStore, store_env
from bench.projections.library_runner import events_per_second as library_events_per_second
from projections.projector import MAX_BATCH_SIZE, ProjectionSet
from projections.rebuild import rebuild
from projections.registry import build_projectors
from projections.schema import READ_MODEL_DDL, read_model_ddl
from tests.dbserver import server_url, throwaway_database
from tests.drive import approve_and_publish, finish_run
from tests.projection_helpers import create_campaign, rerun

READ_MODEL_TABLES = ("rm_campaigns", "rm_runs", "rm_run_segments", "rm_messages", "rm_jobs")
# Shaped like rm_messages (a logged table with the same primary key), one row per event.
BASELINE_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_rows (campaign_id uuid, run_number int,"
    " segment_key text, message_id uuid, segment jsonb, customer_count int, content text,"
    " origin text, status text, created_at timestamptz,"
    " PRIMARY KEY (campaign_id, run_number, segment_key))"
)


def build_log(pool, store, commands, campaigns: int, segments: int) -> int:  # type: ignore[no-untyped-def]
    account_id = uuid4()
    for _ in range(campaigns):
        members = [{"plan": f"p{i}", "region": "EU"} for i in range(segments)]
        campaign_id = create_campaign(commands, pool, account_id, members)
        finish_run(store, campaign_id)
        approve_and_publish(store, campaign_id)
        half = segments // 2
        again = [{"plan": f"p{i}", "region": "EU"} for i in range(half, segments + half)]
        rerun(commands, pool, account_id, campaign_id, again)
        finish_run(store, campaign_id, content="Second")
    return store.max_position()


def settle(conninfo: str) -> None:
    """Write the log's build to disk before measuring (neither side should pay for it
    in a checkpoint landing in its run), and let the WAL files it filled be recycled
    instead of new ones zero-filled (a fresh server has none to reuse; a running one
    does)."""
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        print("(no CHECKPOINT privilege: the first runs may pay for the build's writes)")


def baseline(conninfo: str, rows: int, executemany: bool = True) -> float:
    campaign_id = uuid4()
    values = [
        (
            campaign_id,
            1,
            f"sg_{i:08d}",
            uuid4(),
            '{"plan": "gold", "region": "EU"}',
            3,
            f"Hello gold member in EU {i}",
            "generated",
            "Ready for review",
            "2026-01-01T00:00:00+00:00",
        )
        for i in range(rows)
    ]
    with psycopg.connect(conninfo) as conn:
        conn.execute(BASELINE_TABLE)
        conn.execute("TRUNCATE bench_rows")
        conn.commit()
        started = time.perf_counter()
        insert = "INSERT INTO bench_rows VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s)"
        with conn.cursor() as cur:
            for start in range(0, rows, 500):
                chunk = values[start : start + 500]
                if executemany:  # pipelined by psycopg
                    cur.executemany(insert, chunk)
                else:  # one statement per row
                    for row in chunk:
                        cur.execute(insert, row)
                conn.commit()
        return rows / (time.perf_counter() - started)


def own_rows_baseline(conninfo: str, schema: str) -> tuple[int, float]:
    """Executemany of the read models' own rows (what a catch-up left in ``schema``) into
    empty copies of their tables, 500 rows per transaction: (rows, seconds)."""
    target = f"bench_copy_{uuid4().hex[:8]}"
    with psycopg.connect(conninfo) as conn:
        conn.adapters.register_loader("jsonb", TextLoader)  # values sent back as read
        conn.execute(f'CREATE SCHEMA "{target}"')
        data = {}
        for name in READ_MODEL_TABLES:
            conn.execute(
                f'CREATE TABLE "{target}"."{name}" (LIKE "{schema}"."{name}" INCLUDING ALL)'
            )
            data[name] = conn.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall()
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur:
            for name, rows in data.items():
                if rows:
                    marks = ", ".join(["%s"] * len(rows[0]))
                    insert = f'INSERT INTO "{target}"."{name}" VALUES ({marks})'
                    for start in range(0, len(rows), 500):
                        cur.executemany(insert, rows[start : start + 500])
                        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute(f'DROP SCHEMA "{target}" CASCADE')
        conn.commit()
    return sum(map(len, data.values())), elapsed


def projection(  # type: ignore[no-untyped-def]
    pool, conninfo: str, events: int, batch_size: int, max_batch_size: int
) -> tuple[float, list[int], float, int]:
    """Catch-up events/s, the batch sizes, the ratio of the read models' own rows inserted
    raw (``own_rows_baseline``) to the catch-up, in time, and how many rows those are."""
    schema = f"bench_{uuid4().hex[:8]}"
    with pool.connection() as conn:
        for statement in read_model_ddl(schema):
            conn.execute(statement)
        conn.commit()
        fresh = ProjectionSet(
            build_projectors(schema),
            schema=schema,
            batch_size=batch_size,
            max_batch_size=max_batch_size,
        )
        started = time.perf_counter()
        read = fresh.catch_up_on(conn)
        elapsed = time.perf_counter() - started
        own_rows, own_seconds = own_rows_baseline(conninfo, schema)
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.commit()
    assert read == events, (read, events)
    return read / elapsed, fresh.batch_sizes, own_seconds / elapsed, own_rows


def rebuilding(pool, events: int) -> float:  # type: ignore[no-untyped-def]
    read: list[int] = []
    started = time.perf_counter()
    position = rebuild(pool, progress=read.append, secure=row_security_ddl())
    elapsed = time.perf_counter() - started
    assert sum(read) == events, (sum(read), events)
    assert position >= events, (position, events)
    return events / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--campaigns", type=int, default=4)
    parser.add_argument("--segments", type=int, default=2500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=500, help="first batch (positions)")
    parser.add_argument("--max-batch-size", type=int, default=MAX_BATCH_SIZE)
    parser.add_argument(
        "--library-events",
        type=int,
        default=3000,
        help="events the library's per-event runner projects (it takes about a second per"
        " thousand)",
    )
    args = parser.parse_args()
    with server_url() as url, throwaway_database(url, prefix="nudgescribe_bench") as db:
        pool = open_pool(db, max_size=4)
        migrate(db, pool, extra_ddl=READ_MODEL_DDL)
        store = CampaignStore(store_env(db, pool_size=2), snapshot_every=500)
        commands = CampaignCommands(store, GroupSegments(pool), IdempotencyRecords(pool))
        events = build_log(pool, store, commands, args.campaigns, args.segments)
        print(f"log: {events} events ({args.campaigns} campaigns x {args.segments} segments)")
        settle(db.conninfo())
        results: dict[str, list[float]] = {
            "library": [],
            "many": [],
            "rows": [],
            "proj": [],
            "rebuild": [],
            "own": [],
        }
        sizes: list[int] = []
        own_rows = 0
        for attempt in range(args.runs):
            many = baseline(db.conninfo(), events)
            rows = baseline(db.conninfo(), events, executemany=False)
            proj, sizes, own, own_rows = projection(
                pool, db.conninfo(), events, args.batch_size, args.max_batch_size
            )
            rebuilt = rebuilding(pool, events)
            library = library_events_per_second(
                db.conninfo(), store_env(db), min(events, args.library_events)
            )
            for name, value in (
                ("library", library),
                ("many", many),
                ("rows", rows),
                ("proj", proj),
                ("rebuild", rebuilt),
                ("own", own),
            ):
                results[name].append(value)
            print(
                f"run {attempt + 1}: raw executemany {many:,.0f} rows/s, raw execute per row"
                f" {rows:,.0f} rows/s, catch-up {proj:,.0f} events/s,"
                f" rebuild {rebuilt:,.0f} events/s, the library's per-event runner"
                f" {library:,.0f} events/s; the read models' own rows inserted raw"
                f" took {own:.2f}x the catch-up's time"
            )
        many, rows, proj, rebuilt, library = (
            statistics.median(results[k]) for k in ("many", "rows", "proj", "rebuild", "library")
        )
        print(f"catch-up batches (positions per transaction): {sizes}")
        print(f"median of {args.runs}:")
        print(f"  raw executemany, 500 rows/tx: {many:,.0f} rows/s")
        print(f"  raw execute per row, 500 rows/tx: {rows:,.0f} rows/s")
        print(f"  the library's per-event runner: {library:,.0f} events/s")
        for name, value in (("catch-up", proj), ("rebuild", rebuilt)):
            print(
                f"  {name}: {value:,.0f} events/s, ratio {value / many:.2f} vs executemany,"
                f" {value / rows:.2f} vs execute per row, {value / library:.1f} vs the"
                f" library's runner; {events / value:.2f} s for the log"
            )
        print(
            f"  the read models' own {own_rows:,} rows (what the catch-up wrote), executemany"
            " 500 rows/tx:"
            f" ratio {statistics.median(results['own']):.2f} (its time / the catch-up's)"
        )
        store.close()
        pool.close()


if __name__ == "__main__":
    main()
