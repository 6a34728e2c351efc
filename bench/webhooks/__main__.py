"""Webhook deliveries from the log to a loopback receiver, beside a bare httpx client.

On a throwaway database, with ``--endpoints`` endpoints of one account at a receiver in a
process of its own (``bench/webhooks/receiver.py``) and a ``WebhookDispatcher`` running
in this process (what the processor runs), ``--runs`` times, interleaved:

* ours: a campaign's ``--events`` MessageGenerationFailed events are saved in one commit;
  timed from that commit until the receiver has every delivery (events x endpoints):
  follow the log, write the outbox, claim, sign, POST, record;
* baselines: the very same bodies, already signed, POSTed by one ``httpx.AsyncClient``
  with as many requests in flight as the dispatcher allows (``webhook_concurrency``, or
  ``webhook_endpoint_concurrency`` x endpoints when fewer); and by one client per
  endpoint, ``webhook_endpoint_concurrency`` in flight each, as the dispatcher keeps them
  (httpcore checks every idle connection of a pool on each request, so small pools cost
  less). The ratio is to the faster of the two.

Then latency: ``--latency-runs`` campaigns' runs finalised one after another; each
``run.completed`` timed from the commit of ``RunFinalised`` to its arrival. Prints
deliveries/s for both, the ratio (target >= 0.7 and >= 500/s) and the median latency
(target < 1 s).

    python -m bench webhooks [-- --events 2000 --endpoints 4 --runs 3 --latency-runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx

from application.settings import Settings
from application.store import CampaignStore, store_env
from application.webhooks.dispatcher import WebhookDispatcher
from application.webhooks.endpoints import Webhooks
from application.webhooks.signing import signed_headers
from bench.append.run import CONTENT, TEMPLATE
from bench.common import ROOT, bench_database, free_port, median, where
from domain.campaign import Campaign
from domain.segments import Segment

EVENTS = ["message.generation_failed", "run.completed"]


def started(account_id: UUID, segments: int) -> Campaign:
    campaign = Campaign.create(
        account_id=account_id,
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
    return campaign


def received(client: httpx.Client) -> dict[str, Any]:
    answer: dict[str, Any] = client.get("/stats").json()
    return answer


def wait_count(client: httpx.Client, count: int, timeout: float = 600) -> float:
    """Poll the receiver until it has ``count`` POSTs; return the time.perf_counter()."""
    deadline = time.monotonic() + timeout
    while received(client)["count"] < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the receiver got {received(client)['count']} of {count}")
        time.sleep(0.05)  # seldom: this process also runs the dispatcher
    return time.perf_counter()


def ours(
    store: CampaignStore, stats: httpx.Client, account_id: UUID, events: int, expect: int
) -> tuple[float, UUID]:
    """Deliveries/s of one campaign's ``events`` failures to every endpoint."""
    campaign = started(account_id, events)
    store.save_campaign(campaign)
    for key in campaign.pending_generations():
        campaign.record_generation_failure(1, key, "the provider refused it")
    base = received(stats)["count"]
    began = time.perf_counter()
    store.save_campaign(campaign)
    ended = wait_count(stats, base + expect)
    return expect / (ended - began), campaign.id


async def bare(url: str, requests: list[tuple[str, dict[str, str], str]], in_flight: int) -> float:
    """One client for every endpoint, ``in_flight`` requests at once."""
    gate = asyncio.Semaphore(in_flight)
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(follow_redirects=False, timeout=10.0, limits=limits) as client:

        async def post(target: str, headers: dict[str, str], body: str) -> None:
            async with gate:
                response = await client.post(url + target, content=body.encode(), headers=headers)
                response.raise_for_status()

        began = time.perf_counter()
        await asyncio.gather(*(post(t, h, b) for t, h, b in requests))
        return len(requests) / (time.perf_counter() - began)


async def bare_per_endpoint(
    url: str, requests: list[tuple[str, dict[str, str], str]], per_endpoint: int
) -> float:
    """A client per endpoint (as the dispatcher keeps them), ``per_endpoint`` at once each."""
    limits = httpx.Limits(max_connections=per_endpoint, max_keepalive_connections=per_endpoint)
    targets = sorted({t for t, _, _ in requests})
    clients = {
        t: httpx.AsyncClient(follow_redirects=False, timeout=10.0, limits=limits) for t in targets
    }
    gates = {t: asyncio.Semaphore(per_endpoint) for t in targets}

    async def post(target: str, headers: dict[str, str], body: str) -> None:
        async with gates[target]:
            response = await clients[target].post(
                url + target, content=body.encode(), headers=headers
            )
            response.raise_for_status()

    try:
        began = time.perf_counter()
        await asyncio.gather(*(post(t, h, b) for t, h, b in requests))
        return len(requests) / (time.perf_counter() - began)
    finally:
        for client in clients.values():
            await client.aclose()


def baseline_requests(
    pool: Any, secrets: dict[UUID, str], campaign_id: UUID
) -> list[tuple[str, dict[str, str], str]]:
    """The deliveries of one campaign's events, signed as the dispatcher signs them."""
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT d.message_id, d.webhook_id, d.body, e.url FROM webhook_deliveries d"
            " JOIN webhook_endpoints e USING (webhook_id) WHERE d.position IN"
            " (SELECT notification_id FROM nudgescribe_events WHERE originator_id = %s)",
            (campaign_id,),
        ).fetchall()
    found = []
    for message_id, webhook_id, body, url in rows:
        headers = signed_headers([secrets[webhook_id]], message_id, datetime.now(UTC), body)
        found.append(("/" + url.rsplit("/", 1)[1], headers, body))
    return found


def latency(store: CampaignStore, stats: httpx.Client, account_id: UUID) -> float:
    campaign = started(account_id, 1)
    for key in campaign.pending_generations():
        campaign.record_generated_message(
            1, key, CONTENT, generator="template", model=None, prompt_digest="bench"
        )
    store.save_campaign(campaign)
    campaign.finalise_run(1)
    store.save_campaign(campaign)
    committed = time.time()
    campaign_id = str(campaign.id)
    deadline = time.monotonic() + 60
    while True:
        arrived = received(stats)["completed"].get(campaign_id)
        if arrived is not None:
            return float(arrived) - committed
        if time.monotonic() > deadline:
            raise RuntimeError("run.completed never arrived")
        time.sleep(0.002)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-runs", type=int, default=20)
    args = parser.parse_args(argv)
    print(f"webhooks benchmark on {where()}; median of {args.runs} runs", flush=True)
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, "-m", "bench.webhooks.receiver", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    assert receiver.stdout is not None
    receiver.stdout.readline()  # "ready"
    url = f"http://127.0.0.1:{port}"
    settings = Settings().model_copy(update={"webhook_allow_private": True})
    per_endpoint = settings.webhook_endpoint_concurrency
    in_flight = min(settings.webhook_concurrency, per_endpoint * args.endpoints)
    try:
        with bench_database() as (db, pool), httpx.Client(base_url=url) as stats:
            account_id = uuid4()
            webhooks = Webhooks(pool, allow_private=True, retry_seconds=86_400)
            secrets = {}
            for i in range(args.endpoints):
                endpoint, secret = webhooks.create(account_id, f"{url}/e{i}", EVENTS, None)
                secrets[endpoint.webhook_id] = secret
            store = CampaignStore(store_env(db, pool_size=2), snapshot_every=10**9)
            dispatcher = WebhookDispatcher(db, settings)
            dispatcher.start()
            try:
                expect = args.events * args.endpoints
                ours(store, stats, account_id, 10, 10 * args.endpoints)  # warm-up
                rates, bare_rates, split_rates = [], [], []
                for _ in range(args.runs):
                    rate, campaign_id = ours(store, stats, account_id, args.events, expect)
                    rates.append(rate)
                    requests = baseline_requests(pool, secrets, campaign_id)
                    assert len(requests) == expect, (len(requests), expect)
                    bare_rates.append(asyncio.run(bare(url, requests, in_flight)))
                    split_rates.append(asyncio.run(bare_per_endpoint(url, requests, per_endpoint)))
                latencies = [latency(store, stats, account_id) for _ in range(args.latency_runs)]
            finally:
                dispatcher.stop()
                store.close()
    finally:
        receiver.terminate()
        receiver.wait()
    mine, one, split = median(rates), median(bare_rates), median(split_rates)
    base = max(one, split)  # the stronger baseline
    print(
        f"deliveries ({args.events:,} events x {args.endpoints} endpoints, {in_flight} in flight):"
        f" {mine:,.0f}/s   bare httpx {one:,.0f}/s (one client),"
        f" {split:,.0f}/s (a client per endpoint)   ratio {mine / base:.2f} to the faster"
        "   (target >= 0.7 and >= 500/s)",
        flush=True,
    )
    print(
        f"RunFinalised commit -> receiver: median {median(latencies) * 1000:,.0f} ms"
        f" over {len(latencies)} runs   (target < 1 s)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
