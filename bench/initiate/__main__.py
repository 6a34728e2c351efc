"""Initiate at scale, and customer uploads, through a real ``nudgescribe serve``.

1. Upload: ``--upload`` customers through ``POST /v1/customers/upload`` in chunks of
   ``--chunk`` rows (bodies encoded before timing), beside a raw psycopg COPY of the same
   rows into the same table. Target >= 20,000 rows/s.
2. Initiate (API from ``serve --no-processor``, the processor in its own process, as a
   deployment runs them): a group of ``--customers`` customers with ``--segments`` segments; the
   campaign's previous run has a message per segment, all published. Each timed initiate
   is one ``POST /v1/campaign/rerun/initiate`` as a client sees it (segments in SQL,
   aggregate load, one atomic save archiving the previous run, read-your-writes), beside
   the raw GROUP BY of the group's segments with psycopg. Target < 1.5 s median.
   Between runs the job is processed, approved and published (not timed).

    python -m bench initiate [-- --customers 1000000 --segments 10000 --runs 3]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any
from uuid import UUID, uuid4

import httpx
import orjson

from bench.common import (
    approve_and_publish,
    bench_database,
    median,
    new_account,
    ok,
    processor_process,
    rss_mib,
    serve,
    timed,
    wait_job,
    where,
)


def field_values(i: int, plan_count: int, region_count: int) -> dict[str, str]:
    return {"plan": f"p{i % plan_count}", "region": f"r{(i // plan_count) % region_count}"}


def shape(segments: int) -> tuple[int, int]:
    plans = max(1, int(math.sqrt(segments)))
    return plans, max(1, segments // plans)


def bench_upload(
    client: httpx.Client, pool: Any, headers: dict[str, str], args: Any, pid: int
) -> None:
    plans, regions = shape(args.segments)
    rows = [
        {"external_id": f"c{i}", "fields": field_values(i, plans, regions)}
        for i in range(args.upload)
    ]
    bodies = [
        orjson.dumps({"customers": rows[s : s + args.chunk]})
        for s in range(0, len(rows), args.chunk)
    ]
    post_headers = {**headers, "content-type": "application/json"}

    def upload_all() -> None:
        for body in bodies:
            response = client.post("/v1/customers/upload", content=body, headers=post_headers)
            if response.status_code != 200:
                raise RuntimeError(response.text[:500])

    def raw_copy() -> None:
        other = uuid4()
        statement = "COPY customers (account_id, external_id, fields) FROM STDIN"
        with pool.connection() as conn, conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row((other, row["external_id"], orjson.dumps(row["fields"]).decode()))

    before = rss_mib(pid)[1]
    ours, raw = [], []
    for _ in range(args.runs):  # interleaved; a repeat upload updates every row
        ours.append(len(rows) / timed(upload_all))
        raw.append(len(rows) / timed(raw_copy))
    print(
        f"upload {len(rows):,} rows in chunks of {args.chunk:,}: HTTP {median(ours):,.0f} rows/s"
        f"   raw COPY {median(raw):,.0f} rows/s   ratio {median(ours) / median(raw):.2f}"
        f"   (target >= 20,000 rows/s)",
        flush=True,
    )
    peak = rss_mib(pid)[1]
    print(
        f"  server peak RSS {before:.0f} -> {peak:.0f} MiB over the uploads:"
        f" +{peak - before:.0f} MiB for {len(rows):,} rows (one {args.chunk:,}-row chunk's body is"
        f" {len(bodies[0]) / 2**20:.1f} MiB)",
        flush=True,
    )


def fill_group(pool: Any, account_id: UUID, args: Any) -> UUID:
    """The rest of the customers and the group, in SQL (setup, not timed)."""
    plans, regions = shape(args.segments)
    group_id = uuid4()
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO customers (account_id, external_id, fields) "
            "SELECT %s, 'c' || i, jsonb_build_object('plan', 'p' || (i %% %s), "
            "'region', 'r' || ((i / %s) %% %s)) FROM generate_series(0, %s - 1) i "
            "ON CONFLICT DO NOTHING",
            (account_id, plans, plans, regions, args.customers),
        )
        conn.execute(
            "INSERT INTO customer_groups (customer_group_id, account_id, name) "
            "VALUES (%s, %s, 'everyone')",
            (group_id, account_id),
        )
        conn.commit()
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO customer_group_members "
            "(customer_group_id, account_id, external_id, fields) "
            "SELECT %s, account_id, external_id, fields FROM customers WHERE account_id = %s",
            (group_id, account_id),
        )
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE customers")
        conn.execute("VACUUM ANALYZE customer_group_members")
        conn.autocommit = False
    return group_id


def raw_group_by(pool: Any, group_id: UUID) -> int:
    """The same GROUP BY the command runs, bare: no settings, no decoding, no segment keys."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT fields ->> 'plan', fields ->> 'region', count(*) FROM customer_group_members "
            "WHERE customer_group_id = %s GROUP BY 1, 2",
            (group_id,),
        ).fetchall()
    return len(rows)


def bench_initiate(
    client: httpx.Client, pool: Any, account_id: UUID, headers: dict[str, str], args: Any
) -> None:
    began = time.perf_counter()
    group_id = fill_group(pool, account_id, args)
    elapsed = time.perf_counter() - began
    print(f"  setup: {args.customers:,} customers in one group: {elapsed:.1f} s")
    began = time.perf_counter()
    created = ok(
        client,
        "/v1/campaign/create",
        {
            "name": "Scale",
            "customer_group_id": str(group_id),
            "segment_variables": ["plan", "region"],
            "ai_config": {"provider": "template", "template": "Hi {{plan}} in {{region}}!"},
        },
        headers,
    )["data"]
    campaign_id = str(created["campaign_id"])
    wait_job(client, headers, str(created["job_uid"]))
    approve_and_publish(client, headers, campaign_id)
    print(
        f"  setup: campaign with {args.segments:,} segments generated, approved and"
        f" published: {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    initiates, raws = [], []
    body = {"campaign_id": campaign_id, "new_customer_group_id": str(group_id)}
    for run in range(args.runs):
        raws.append(timed(lambda: raw_group_by(pool, group_id)))
        began = time.perf_counter()
        started = ok(client, "/v1/campaign/rerun/initiate", body, headers)
        initiates.append(time.perf_counter() - began)
        history = ok(client, "/v1/campaign/rerun/history", {"campaign_id": campaign_id}, headers)
        assert history["data"][0]["run_number"] == run + 2, "read-your-writes"
        print(
            f"  initiate run {run + 2}: {initiates[-1]:.2f} s   raw GROUP BY {raws[-1]:.2f} s",
            flush=True,
        )
        wait_job(client, headers, str(started["data"]["job_uid"]))
        approve_and_publish(client, headers, campaign_id)
    print(
        f"initiate, {args.customers:,} customers / {args.segments:,} segments: "
        f"{median(initiates):.2f} s median (target < 1.5 s)   raw GROUP BY alone "
        f"{median(raws):.2f} s   ratio initiate/raw {median(initiates) / median(raws):.2f}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--segments", type=int, default=10_000)
    parser.add_argument("--upload", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"initiate benchmark on {where()}; median of {args.runs} runs", flush=True)
    with (
        bench_database() as (db, pool),
        serve(db, processor=False) as served,
        processor_process(db) as processor,
    ):
        account_id, headers = new_account(pool, served)
        with httpx.Client(base_url=served.url, timeout=600) as client:
            for name in ("plan", "region"):
                ok(client, "/v1/customer-fields/create", {"name": name, "type": "string"}, headers)
            bench_upload(client, pool, headers, args, served.process.pid)
            bench_initiate(client, pool, account_id, headers, args)
            for role, pid in (("processor", processor.pid), ("API", served.process.pid)):
                current, peak = rss_mib(pid)
                print(
                    f"{role} process after {args.runs + 1} runs of {args.segments:,} segments:"
                    f" RSS {current:.0f} MiB, peak {peak:.0f} MiB (processor target < 300 MB)",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
