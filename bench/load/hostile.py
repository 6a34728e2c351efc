"""The hostile mix: concurrent initiates on one large campaign, large uploads and reads.

``python -m bench.load --hostile [--segments 20000] [--initiates 50] [--uploads 5]``

Against a real ``nudgescribe serve``: publishes one campaign of ``--segments`` segments,
then at once sends ``--initiates`` initiates of a rerun of it, ``--uploads`` customer
uploads of just under 32 MiB each, and reads (history, a page of messages, the campaign)
from a few clients until the others are answered. Reports the answers by status (5xx
must be none), how many runs the campaign has (exactly one more: the one-run
guarantee), the reads' p50/p99 and the server's RSS: before, its peak (sampled every
50 ms) and a few seconds after. Exits 1 on any 5xx or a broken one-run guarantee.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.api_client import Api

UPLOAD_BYTES = (32 << 20) - 4096  # just under the upload limit
READERS = 4


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.05)


def large_campaign(api: Api, segments: int) -> tuple[str, str]:
    """A published campaign with ``segments`` segments (one customer each)."""
    api.define_fields("plan", "region")
    rows = [
        {"external_id": f"big-{i:06d}", "fields": {"plan": f"p{i // 100}", "region": f"r{i % 100}"}}
        for i in range(segments)
    ]
    api.upload(rows)
    group = api.ok(
        "/v1/customer-groups/create",
        {"name": "big", "external_ids": [r["external_id"] for r in rows]},
    )["data"]["customer_group_id"]
    campaign_id = str(api.create_campaign(str(group), name="Large")["campaign_id"])
    api.approve_and_publish(campaign_id)
    return campaign_id, str(group)


def upload_body(tag: int) -> bytes:
    """A valid upload of just under 32 MiB: rows of defined fields."""
    row_bytes = len(
        orjson.dumps({"external_id": f"u{tag}-0000000", "fields": {"plan": "p1", "region": "r1"}})
    )
    count = (UPLOAD_BYTES - 64) // (row_bytes + 1)
    rows = [
        {"external_id": f"u{tag}-{i:07d}", "fields": {"plan": f"p{i % 7}", "region": "r1"}}
        for i in range(count)
    ]
    return orjson.dumps({"customers": rows})


def timed(call: Callable[[], httpx.Response]) -> tuple[int, float]:
    began = time.perf_counter()
    try:
        status = call().status_code
    except httpx.HTTPError:
        status = 0  # no answer: counted with the server errors
    return status, time.perf_counter() - began


def hostile(api: Api, pid: int, *, segments: int, initiates: int, uploads: int) -> int:
    print(f"hostile mix: preparing a published campaign of {segments} segments")
    began = time.monotonic()
    campaign_id, group = large_campaign(api, segments)
    print(f"  ready in {time.monotonic() - began:.0f} s; building {uploads} upload bodies")
    bodies = [upload_body(tag) for tag in range(uploads)]
    print(f"  {max(map(len, bodies), default=0) / (1 << 20):.1f} MiB each")
    headers = {**api.headers(), "content-type": "application/json"}
    initiate = {"campaign_id": campaign_id, "new_customer_group_id": group}
    reads = [
        ("/v1/campaign/rerun/history", {"campaign_id": campaign_id}),
        ("/v1/campaign/rerun/messages", {"campaign_id": campaign_id, "page_size": 100}),
        ("/v1/campaign/get", {"campaign_id": campaign_id}),
    ]
    before = rss_mb(pid)
    sampler = RssSampler(pid)
    sampler.start()
    answers: Counter[tuple[str, int]] = Counter()
    read_latencies: list[float] = []
    timeline: list[tuple[float, str, float]] = []  # (started, path, took)
    writers_done = threading.Event()

    def reader(seed: int) -> None:
        n = seed
        while not writers_done.is_set():
            path, body = reads[n % len(reads)]
            started = time.monotonic() - began
            status, took = timed(lambda p=path, b=body: api.post(p, b))  # type: ignore[misc]
            answers[("read", status)] += 1
            read_latencies.append(took)
            timeline.append((started, path, took))
            n += 1

    def write(kind: str, call: Callable[[], httpx.Response]) -> float:
        status, took = timed(call)
        answers[(kind, status)] += 1
        return took

    began = time.monotonic()
    with ThreadPoolExecutor(READERS + initiates + uploads) as pool:
        readers = [pool.submit(reader, i) for i in range(READERS)]
        writers = [
            pool.submit(
                write, "initiate", lambda: api.post("/v1/campaign/rerun/initiate", initiate)
            )
            for _ in range(initiates)
        ] + [
            pool.submit(
                write,
                "upload",
                lambda b=b: api.http.post("/v1/customers/upload", content=b, headers=headers),  # type: ignore[misc]
            )
            for b in bodies
        ]
        slowest = max(w.result() for w in writers)
        writers_done.set()
        for r in readers:
            r.result()
    took = time.monotonic() - began
    time.sleep(5)
    sampler.done.set()
    after = rss_mb(pid)
    runs = len(api.ok("/v1/campaign/rerun/history", {"campaign_id": campaign_id})["data"])
    slow_reads(timeline)
    return report(answers, read_latencies, took, slowest, runs, (before, sampler.peak, after))


def slow_reads(timeline: list[tuple[float, str, float]]) -> None:
    """Where the slowest reads fell: p99 per path and per 5-second slice of the mix."""
    for path in sorted({p for _, p, _ in timeline}):
        took = [t for _, p, t in timeline if p == path]
        print(f"  {path:<30} p99 {percentile(took, 0.99) * 1000:.1f} ms")
    slices: dict[int, list[float]] = {}
    for started, _, took in timeline:
        slices.setdefault(int(started // 5) * 5, []).append(took)
    print(
        "  by time: "
        + ", ".join(f"{at}s {percentile(t, 0.99) * 1000:.0f}" for at, t in sorted(slices.items()))
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def report(
    answers: Counter[tuple[str, int]],
    read_latencies: list[float],
    took: float,
    slowest: float,
    runs: int,
    rss: tuple[float, float, float],
) -> int:
    print(f"\nmix answered in {took:.1f} s (slowest write {slowest:.1f} s)")
    for kind in ("initiate", "upload", "read"):
        statuses = {s: c for (k, s), c in sorted(answers.items()) if k == kind}
        print(f"  {kind:<9} {statuses}")
    errors = sum(c for (_, s), c in answers.items() if s >= 500 or s == 0)
    started = answers[("initiate", 200)]
    print(f"5xx or no answer: {errors}")
    print(f"runs: {runs} (run 1 and {started} started by the initiates; expected 2)")
    print(
        f"reads: {len(read_latencies)}, p50 {percentile(read_latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(read_latencies, 0.99) * 1000:.1f} ms"
    )
    before, peak, after = rss
    print(f"server RSS: {before:.0f} MB before, {peak:.0f} MB peak, {after:.0f} MB 5 s after")
    return 1 if errors or runs != 2 or started != 1 else 0


def run(api: Api, pid: int, args: Any) -> int:
    return hostile(api, pid, segments=args.segments, initiates=args.initiates, uploads=args.uploads)
