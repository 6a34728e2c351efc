"""A real processor process (``python -m application.processor``, which runs the
dispatcher) SIGKILLed after sending a delivery and before recording it: once restarted,
the same ``webhook-id`` is delivered again and no event is lost."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fakes.processes import ROOT, clean_env, database_url, wait_until
from tests.fakes.webhook_receiver import Receiver

pytestmark = pytest.mark.integration


@pytest.fixture
def spawn(db, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:  # type: ignore[no-untyped-def]
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        env = clean_env(
            DATABASE_URL=database_url(db),
            NUDGESCRIBE_DATA_DIR=str(tmp_path),
            NUDGESCRIBE_WEBHOOK_ALLOW_PRIVATE="1",
            NUDGESCRIBE_WEBHOOK_BACKOFF_SECONDS="0.05",
            NUDGESCRIBE_WEBHOOK_ENDPOINT_CONCURRENCY="1",
        )
        log = open(tmp_path / "processor.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "application.processor"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_a_dispatcher_killed_between_send_and_record_delivers_again_with_the_same_id(  # type: ignore[no-untyped-def]
    subscribe, finish_runs, spawn, receiver: Receiver
) -> None:
    subscribe("held", hold=True)  # the first attempt of each webhook-id is never answered
    campaign_ids = finish_runs(3)
    first = spawn()
    assert receiver.held.wait(60), "the dispatcher never sent"
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    receiver.release.set()
    held = wait_until(lambda: any(a.status == 0 for a in receiver.attempts("held")), 10)
    assert held
    (held_id,) = {a.webhook_id for a in receiver.attempts("held") if a.status == 0}

    spawn()  # its rows are due again once the dead one's lease passes

    assert wait_until(lambda: len(receiver.accepted("held")) == 3, timeout=90)
    accepted = receiver.accepted("held")
    assert held_id in accepted  # delivered again under the same webhook-id
    assert set(accepted.values()) == {1}
    delivered = {
        a.payload["data"]["campaign_id"]  # type: ignore[index]
        for a in receiver.attempts("held")
        if a.status == 200
    }
    assert delivered == {str(c) for c in campaign_ids}  # none lost
