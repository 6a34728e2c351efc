"""Mixed HTTP traffic against a real ``nudgescribe serve`` on loopback.

``python -m bench.load [--seconds 120] [--clients 16] [--campaigns 8]``

Starts ``nudgescribe serve`` (API + processor) on a throwaway database (``DATABASE_URL``'s
server, or an embedded one), publishes ``--campaigns`` campaigns over HTTP, then
``--clients`` threads send history, messages, initiate and publish requests until the
time is up. Initiate and publish cycle each campaign through reruns (the same group, so
every segment matches and the rerun is ready to publish as soon as it is processed); a
400 "Only Published campaigns can be rerun" or a 409 is the expected answer to a client
that raced another. Reports requests/s, p50/p99 per route and answers by status; exits 1
on any 5xx.

``--hostile`` runs the hostile mix of ``bench.load.hostile`` instead.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from application.content.accounts import Accounts  # noqa: E402
from application.database import ConnectionInfo, open_pool  # noqa: E402
from bench.load import hostile  # noqa: E402
from tests.api_client import Api, customers  # noqa: E402
from tests.dbserver import server_url, throwaway_database  # noqa: E402
from tests.fakes.processes import database_url  # noqa: E402

ROUTES = {
    "history": ("/v1/campaign/rerun/history", 40),
    "messages": ("/v1/campaign/rerun/messages", 40),
    "initiate": ("/v1/campaign/rerun/initiate", 10),
    "publish": ("/v1/campaign/messages/publish", 10),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    db: ConnectionInfo, data_dir: Path, processor_apart: bool = False
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``processor_apart``: ``serve --no-processor`` plus a ``nudgescribe processor`` process,
    as docker-compose deploys them, so the processor's work leaves the API's interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUDGESCRIBE_")}
    env.update(DATABASE_URL=database_url(db), NUDGESCRIBE_DATA_DIR=str(data_dir))
    env.setdefault("MALLOC_ARENA_MAX", "2")  # as the Dockerfile runs the server
    env["PYTHONPATH"] = str(ROOT)
    port = free_port()
    log = open(data_dir / "serve.log", "wb")  # noqa: SIM115
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    process = subprocess.Popen(
        command + (["--no-processor"] if processor_apart else []),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    others: list[subprocess.Popen[bytes]] = []
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        if process.poll() is not None:
            raise SystemExit((data_dir / "serve.log").read_text())
        if processor_apart:  # once serve has migrated the database
            others.append(
                subprocess.Popen(
                    [sys.executable, "-m", "api.cli", "processor"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        yield url, process
    finally:
        for each in (process, *others):
            each.terminate()
            each.wait(timeout=60)
        log.close()


def prepare(api: Api, campaigns: int) -> list[tuple[str, str]]:
    api.define_fields("plan", "region")
    made = []
    for i in range(campaigns):
        segments = [(f"p{j}", r) for j in range(5) for r in ("EU", "US")]
        group = api.group(f"load-{i}", customers(f"load{i}", segments, each=3))
        campaign_id = str(api.create_campaign(group, name=f"Load {i}")["campaign_id"])
        api.approve_and_publish(campaign_id)
        made.append((campaign_id, group))
    return made


def drive(
    api: Api, targets: list[tuple[str, str]], seconds: float, seed: int
) -> tuple[dict[str, list[float]], Counter[tuple[str, int]]]:
    rng = random.Random(seed)
    names = list(ROUTES)
    weights = [ROUTES[n][1] for n in names]
    latencies: dict[str, list[float]] = defaultdict(list)
    answers: Counter[tuple[str, int]] = Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        name = rng.choices(names, weights)[0]
        campaign_id, group = rng.choice(targets)
        body: dict[str, object] = {"campaign_id": campaign_id}
        if name == "initiate":
            body["new_customer_group_id"] = group
        began = time.perf_counter()
        try:
            status = api.post(ROUTES[name][0], body).status_code
        except httpx.HTTPError:
            status = 0  # transport failure, reported with the errors
        latencies[name].append(time.perf_counter() - began)
        answers[(name, status)] += 1
    return latencies, answers


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(
    latencies: dict[str, list[float]], answers: Counter[tuple[str, int]], seconds: float
) -> int:
    total = sum(len(v) for v in latencies.values())
    print(f"\n{total} requests in {seconds:.0f} s: {total / seconds:.0f} requests/s")
    print(f"{'route':<10} {'count':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  answers")
    for name in ROUTES:
        values = latencies.get(name, [])
        if not values:
            continue
        statuses = {s: c for (n, s), c in sorted(answers.items()) if n == name}
        print(
            f"{name:<10} {len(values):>7} {len(values) / seconds:>7.0f} "
            f"{percentile(values, 0.5) * 1000:>8.1f} {percentile(values, 0.99) * 1000:>8.1f}  "
            f"{statuses}"
        )
    every = [v for values in latencies.values() for v in values]
    print(
        f"{'all':<10} {total:>7} {total / seconds:>7.0f} {statistics.median(every) * 1000:>8.1f} "
        f"{percentile(every, 0.99) * 1000:>8.1f}"
    )
    errors = sum(c for (_, s), c in answers.items() if s >= 500 or s == 0)
    print(f"server errors (5xx or no answer): {errors}")
    return 1 if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--campaigns", type=int, default=8)
    parser.add_argument("--hostile", action="store_true", help="the hostile mix instead")
    parser.add_argument("--segments", type=int, default=20_000, help="(hostile)")
    parser.add_argument("--initiates", type=int, default=50, help="(hostile)")
    parser.add_argument("--uploads", type=int, default=5, help="(hostile)")
    parser.add_argument(
        "--processor-apart",
        action="store_true",
        help="the processor in its own process (serve --no-processor), as docker-compose runs it",
    )
    args = parser.parse_args()
    where = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded server"
    with (
        tempfile.TemporaryDirectory(prefix="nudgescribe-load-") as tmp,
        server_url() as url,
        throwaway_database(url, prefix="nudgescribe_load") as db,
    ):
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        with serve(db, data_dir, args.processor_apart) as (base_url, process):
            pool = open_pool(db, max_size=1, name="load")
            account = Accounts(pool).create("Load")
            pool.close()
            api_code = (data_dir / "api_code").read_text().strip()
            secret = (data_dir / "jwt_secret").read_text().strip()
            if args.hostile:
                with httpx.Client(base_url=base_url, timeout=600) as http:
                    api = Api(http, api_code, account.account_id, secret)  # type: ignore[arg-type]
                    print(f"load on {where}")
                    return hostile.run(api, process.pid, args)
            limits = httpx.Limits(max_connections=args.clients + 2)
            with httpx.Client(base_url=base_url, timeout=30, limits=limits) as http:
                api = Api(http, api_code, account.account_id, secret)  # type: ignore[arg-type]
                print(f"load on {where}: preparing {args.campaigns} published campaigns")
                targets = prepare(api, args.campaigns)
                print(f"{args.clients} clients for {args.seconds:.0f} s")
                results: list[tuple[dict[str, list[float]], Counter[tuple[str, int]]]] = []
                began = time.monotonic()
                threads = [
                    threading.Thread(
                        target=lambda i=i: results.append(drive(api, targets, args.seconds, i))
                    )
                    for i in range(args.clients)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                took = time.monotonic() - began
    latencies: dict[str, list[float]] = defaultdict(list)
    answers: Counter[tuple[str, int]] = Counter()
    for each_latencies, each_answers in results:
        for name, values in each_latencies.items():
            latencies[name].extend(values)
        answers.update(each_answers)
    return report(latencies, answers, took)


if __name__ == "__main__":
    sys.exit(main())
