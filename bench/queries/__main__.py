"""Read queries under concurrent load: a real ``nudgescribe serve`` beside a bare endpoint.

A campaign with ``--segments`` segments and ``--reruns`` reruns is built through the API.
Then, for run history and for one page of ``--page-size`` messages, a load generator in
its own process (bench/queries/load.py: raw asyncio, ``--connections`` keep-alive
connections) drives for ``--seconds``:

* ours: the real endpoint (middleware, auth, body model, the read-model query, the
  response model);
* same SQL: a bare FastAPI endpoint calling the same query on the same kind of pool and
  answering its rows with orjson (bench/queries/bare_sql.py);
* memory: a bare FastAPI endpoint returning the real answer's bytes from memory
  (bench/queries/bare.py).

The baselines are served by uvicorn with the same settings (uvloop, httptools, one worker)
and measured in the same run. Interleaved, ``--runs`` times; medians of throughput and
p99 latency, and of the CPU each request took in the server process, the PostgreSQL
backends of the database and the load generator (read from /proc: server, database and
load share this machine). Targets: ours >= 0.8x same-SQL throughput, p99 < 50 ms.

    python -m bench queries [-- --connections 32 --seconds 5 --runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    ROOT,
    approve_and_publish,
    bench_database,
    free_port,
    median,
    new_account,
    ok,
    serve,
    wait_job,
    where,
)
from tests.fakes.processes import database_url


def build_campaign(client: httpx.Client, headers: dict[str, str], args: Any) -> str:
    for name in ("plan", "region"):
        ok(client, "/v1/customer-fields/create", {"name": name, "type": "string"}, headers)
    rows = [
        {"external_id": f"c{i}", "fields": {"plan": f"p{i % 40}", "region": f"r{i // 40}"}}
        for i in range(args.segments)
    ]
    ok(client, "/v1/customers/upload", {"customers": rows}, headers)
    group = ok(
        client,
        "/v1/customer-groups/create",
        {"name": "all", "external_ids": [r["external_id"] for r in rows]},
        headers,
    )["data"]
    created = ok(
        client,
        "/v1/campaign/create",
        {
            "name": "Queries",
            "customer_group_id": group["customer_group_id"],
            "segment_variables": ["plan", "region"],
            "ai_config": {"provider": "template", "template": "Hi {{plan}} in {{region}}!"},
        },
        headers,
    )["data"]
    campaign_id = str(created["campaign_id"])
    wait_job(client, headers, str(created["job_uid"]))
    approve_and_publish(client, headers, campaign_id)
    for _ in range(args.reruns):
        body = {"campaign_id": campaign_id, "new_customer_group_id": group["customer_group_id"]}
        started = ok(client, "/v1/campaign/rerun/initiate", body, headers)["data"]
        wait_job(client, headers, str(started["job_uid"]))
        approve_and_publish(client, headers, campaign_id)
    return campaign_id


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of live processes (Linux /proc; 0 where it cannot be read)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def backend_pids(pool: Any, dbname: str) -> list[int]:
    """The PostgreSQL backends serving ``dbname`` (the server runs on this machine)."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchall()
    return [int(row[0]) for row in rows]


def load(
    url: str,
    path: str,
    body: Path,
    headers: dict[str, str],
    args: Any,
    server_pid: int,
    backends: Callable[[], list[int]] = list,
) -> dict[str, Any]:
    """One measurement, and the CPU it took per request: the server process, the
    database backends, the load generator (warm-up requests included)."""
    before_backends = backends()
    server, database = cpu_seconds([server_pid]), cpu_seconds(before_backends)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.queries.load",
            url,
            path,
            str(body),
            json.dumps(headers),
            str(args.connections),
            str(args.seconds),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # A backend that appeared during the run counts from zero; one that ended is lost.
    pids = sorted({*before_backends, *backends()})
    database = cpu_seconds(pids) - database if before_backends else 0.0
    requests = max(1, int(result.get("all_requests", result["requests"])))
    result["cpu_us"] = {
        "server": (cpu_seconds([server_pid]) - server) / requests * 1e6,
        "database": max(0.0, database) / requests * 1e6,
        "load": result["cpu_seconds"] / requests * 1e6,
    }
    return result


def serve_bare(app: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    port = free_port()
    env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    process.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    wait_healthy_bare(process)
    return process


def wait_healthy_bare(process: subprocess.Popen[bytes]) -> None:
    url = process.url  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.post(url + "/up", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("bare server did not start")


def compare(
    served: Any,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
    args: Any,
    backends: Callable[[], list[int]],
    sql_env: dict[str, str],
) -> None:
    with tempfile.TemporaryDirectory(prefix="nudgescribe-bench-q-") as tmp:
        body_file, answer_file = Path(tmp) / "body.json", Path(tmp) / "answer.json"
        body_file.write_text(json.dumps(body))
        answer = httpx.post(served.url + path, json=body, headers=headers, timeout=30)
        answer.raise_for_status()
        answer_file.write_bytes(answer.content)
        bare_sql = serve_bare("bench.queries.bare_sql:app", sql_env)
        memory = serve_bare("bench.queries.bare:app", {"BENCH_BARE_JSON": str(answer_file)})
        sides: dict[str, tuple[str, int, Callable[[], list[int]]]] = {
            "ours": (served.url, served.process.pid, backends),
            "same SQL": (bare_sql.url, bare_sql.pid, backends),  # type: ignore[attr-defined]
            "memory": (memory.url, memory.pid, list),  # type: ignore[attr-defined]
        }
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        try:
            for _ in range(args.runs):
                for side, (url, pid, pids) in sides.items():
                    runs[side].append(load(url, path, body_file, headers, args, pid, pids))
        finally:
            for process in (bare_sql, memory):
                process.terminate()
                process.wait(timeout=30)
    rps = {side: median([r["rps"] for r in found]) for side, found in runs.items()}
    p99 = {side: median([r["p99_ms"] for r in found]) for side, found in runs.items()}
    errors = sum(r["errors"] for found in runs.values() for r in found)
    print(
        f"{path} ({len(answer.content):,} bytes): "
        + "   ".join(f"{side} {rps[side]:,.0f} req/s p99 {p99[side]:.1f} ms" for side in sides)
        + f"\n    ratio {rps['ours'] / rps['same SQL']:.2f} of same SQL (target >= 0.8),"
        f" {rps['ours'] / rps['memory']:.2f} of memory; p99 target < 50 ms"
        + (f"   ERRORS {errors}" if errors else ""),
        flush=True,
    )
    parts = ("server", "database", "load")
    cpu = {
        side: {part: median([r["cpu_us"][part] for r in found]) for part in parts}
        for side, found in runs.items()
    }
    print(
        "    CPU per request (medians, µs): "
        + ";  ".join(
            f"{side} server {cpu[side]['server']:,.0f} + postgres {cpu[side]['database']:,.0f}"
            f" + load generator {cpu[side]['load']:,.0f}"
            for side in sides
        ),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=1_000)
    parser.add_argument("--reruns", type=int, default=4)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(
        f"queries benchmark on {where()}; {args.connections} connections, "
        f"{args.seconds:g} s per measurement, median of {args.runs} runs",
        flush=True,
    )
    with bench_database() as (db, pool), serve(db) as served:
        account_id, headers = new_account(pool, served)
        with httpx.Client(base_url=served.url, timeout=600) as client:
            campaign_id = build_campaign(client, headers, args)

        def backends() -> list[int]:
            return backend_pids(pool, db.dbname)

        sql_env = {"DATABASE_URL": database_url(db), "BENCH_ACCOUNT_ID": str(account_id)}
        history = {"campaign_id": campaign_id}
        compare(served, "/v1/campaign/rerun/history", history, headers, args, backends, sql_env)
        page = {"campaign_id": campaign_id, "page": 3, "page_size": args.page_size}
        compare(served, "/v1/campaign/rerun/messages", page, headers, args, backends, sql_env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
