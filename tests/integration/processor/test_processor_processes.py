"""Real processor processes: two on one database never process a run twice, and a
processor SIGKILLed mid-generation and restarted completes the run exactly once."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from uuid import UUID

import pytest

from domain.statuses import CampaignStatus
from tests.fakes.chat_server import ChatServer, chat_server
from tests.fakes.processes import ROOT, clean_env, database_url, spawn_processor, wait_until
from tests.processing import (
    OPENAI,
    create_campaign,
    customers,
    per_segment,
    stored_events,
)

pytestmark = pytest.mark.integration

KILLS = 4


@pytest.fixture
def spawn(db, tmp_path: Path) -> Iterator:  # type: ignore[no-untyped-def, type-arg]
    started: list[subprocess.Popen[bytes]] = []

    def start(partition: str, server: ChatServer, concurrency: int = 4) -> subprocess.Popen[bytes]:
        process = spawn_processor(
            db,
            partition,
            tmp_path / "data",
            generator_url=server.url,
            concurrency=concurrency,
            log_path=tmp_path / f"processor-{len(started)}.log",
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def finished(store, campaign_ids: list[UUID]) -> bool:  # type: ignore[no-untyped-def]
    return all(
        store.get_campaign(c).status == CampaignStatus.READY_FOR_REVIEW for c in campaign_ids
    )


def assert_each_segment_generated_once(store, pool, campaign_id: UUID) -> None:  # type: ignore[no-untyped-def]
    run = store.get_campaign(campaign_id).current_run
    assert run is not None
    assert sorted(run.messages) == sorted(run.segments)
    events = stored_events(pool, campaign_id)
    generated = per_segment(events, "MessageGenerated", run.number)
    assert set(generated) == set(run.segments)
    assert set(generated.values()) == {1}
    finals = [e for _, name, e in events if name == "RunFinalised"]
    assert len(finals) == 1


@pytest.mark.parametrize("partitions", [("0/1", "0/1"), ("0/2", "1/2")])
def test_two_processors_never_process_a_run_twice(
    commands, store, pool, account_id, spawn, partitions
):  # type: ignore[no-untyped-def]
    with chat_server(latency=0.01) as server:
        campaign_ids = [
            create_campaign(
                commands, pool, account_id, customers(range(30), region=f"R{i}"), OPENAI
            )
            for i in range(6)
        ]
        for partition in partitions:
            spawn(partition, server)

        assert wait_until(lambda: finished(store, campaign_ids), timeout=120)

    for campaign_id in campaign_ids:
        assert_each_segment_generated_once(store, pool, campaign_id)
    prompts = Counter(r.prompt for r in server.log)
    assert len(prompts) == 6 * 30
    assert set(prompts.values()) == {1}


def recorded_at(pool, campaign_id: UUID) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Segment key -> when its MessageGenerated event was recorded (epoch seconds)."""
    return {
        event["segment_key"]: datetime.fromisoformat(event["timestamp"]["_data_"]).timestamp()
        for _, name, event in stored_events(pool, campaign_id)
        if name == "MessageGenerated"
    }


def test_processor_killed_mid_generation_completes_the_run_exactly_once(
    commands, store, pool, account_id, spawn
):  # type: ignore[no-untyped-def]
    # Slow enough that all four kills land before the 500 segments are done, even when
    # this process is late each cycle on a loaded machine.
    with chat_server(latency=0.15) as server:
        campaign_id = create_campaign(commands, pool, account_id, customers(range(500)), OPENAI)
        kills = []
        for _ in range(KILLS):
            seen = len(recorded_at(pool, campaign_id))
            process = spawn("0/1", server)
            progressed = wait_until(
                lambda seen=seen: len(recorded_at(pool, campaign_id)) > seen, timeout=60
            )
            if not progressed or store.get_campaign(campaign_id).status != "Processing":
                break
            wait_until(lambda: False, timeout=random.uniform(0.0, 0.6))  # land anywhere
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills.append(len(recorded_at(pool, campaign_id)))
        spawn("0/1", server)

        assert wait_until(lambda: finished(store, [campaign_id]), timeout=120)

    assert len(kills) == KILLS  # every kill landed while segments were still pending
    assert kills[-1] < 500
    assert_each_segment_generated_once(store, pool, campaign_id)
    run = store.get_campaign(campaign_id).current_run
    assert run is not None
    prompt_of = {
        key: f"Offer for plan {segment.values['plan']} in EU"
        for key, segment in run.segments.items()
    }
    recorded = recorded_at(pool, campaign_id)
    asked_after_recorded = [
        key
        for key, at in recorded.items()
        if any(r.prompt == prompt_of[key] and r.at > at for r in server.log)
    ]
    assert asked_after_recorded == []
    with pool.connection() as conn:
        queued = conn.execute(
            "SELECT count(*) FROM processor_queue WHERE campaign_id = %s", (campaign_id,)
        ).fetchone()
    assert queued == (0,)


def test_processor_killed_mid_generation_against_a_flaky_provider_completes_the_run(
    commands, store, pool, db, account_id, spawn, tmp_path: Path
):  # type: ignore[no-untyped-def]
    # A busy provider (every third call a 503) and a crash: neither may cost a segment.
    with chat_server(latency=0.02, fail_every=3, failure="503") as server:
        campaign_id = create_campaign(commands, pool, account_id, customers(range(1200)), OPENAI)
        process = spawn("0/1", server, concurrency=8)
        assert wait_until(lambda: len(recorded_at(pool, campaign_id)) >= 200, timeout=120)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert len(recorded_at(pool, campaign_id)) < 1200  # killed mid-generation
        spawn("0/1", server, concurrency=8)

        assert wait_until(lambda: finished(store, [campaign_id]), timeout=300)

    assert_each_segment_generated_once(store, pool, campaign_id)
    run = store.get_campaign(campaign_id).current_run
    assert run is not None
    assert len({message.content for message in run.messages.values()}) == 1200
    with pool.connection() as conn:
        queued = conn.execute(
            "SELECT count(*) FROM processor_queue WHERE campaign_id = %s", (campaign_id,)
        ).fetchone()
    assert queued == (0,)  # the job is done
    env = clean_env(DATABASE_URL=database_url(db), NUDGESCRIBE_DATA_DIR=str(tmp_path / "data"))
    for command in ("migrate", "verify"):  # migrate: the read models verify compares with
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", command],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
