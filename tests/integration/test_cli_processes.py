"""The operator commands as real processes: on the embedded database of a fresh data dir,
and the processor's JSON logs and metrics endpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.dbserver import throwaway_database
from tests.e2e.test_server import free_port
from tests.fakes.processes import ROOT, database_url, wait_until

pytestmark = pytest.mark.integration

LOG_KEYS = {"time", "level", "logger", "message", "request_id", "correlation_id"}


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("NUDGESCRIBE_", "DATABASE_URL"))
    }
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


def nudgescribe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def embedded_data_dir() -> Iterator[Path]:
    # Not pytest's tmp_path: the embedded server may run as another user (see test_server).
    with tempfile.TemporaryDirectory(prefix="nudgescribe-cli-embedded-") as tmp:
        yield Path(tmp) / "data"


def test_operator_commands_on_the_embedded_database(embedded_data_dir: Path) -> None:
    env = clean_env(NUDGESCRIBE_DATA_DIR=str(embedded_data_dir))

    demo = nudgescribe(env, "demo")
    assert demo.returncode == 0, demo.stderr
    assert "Run history" in demo.stdout
    assert "2/1/1" in demo.stdout
    assert (embedded_data_dir / "pg").is_dir()  # the embedded server's data

    export = nudgescribe(env, "events", "export")
    assert export.returncode == 0, export.stderr
    records = [json.loads(line) for line in export.stdout.splitlines()]
    assert records[0]["type"] == "CampaignCreated"
    assert records[-1]["type"] == "CampaignPublished"

    anchors = nudgescribe(env, "anchors", "export")
    assert anchors.returncode == 0, anchors.stderr
    (head,) = [json.loads(line) for line in anchors.stdout.splitlines()]
    assert head == {**head, "stream_id": records[0]["stream_id"], "version": len(records)}

    rebuild = nudgescribe(env, "projections", "rebuild")
    assert rebuild.returncode == 0, rebuild.stderr
    assert "rebuilt" in rebuild.stderr

    verify = nudgescribe(env, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "intact" in verify.stdout


def test_processor_logs_json_lines_and_serves_its_metrics(pg_server_url: str) -> None:
    port = free_port()
    with (
        throwaway_database(pg_server_url, prefix="nudgescribe_proclog") as db,
        tempfile.TemporaryDirectory(prefix="nudgescribe-proclog-") as tmp,
    ):
        log_path = Path(tmp) / "processor.log"
        env = clean_env(DATABASE_URL=database_url(db), NUDGESCRIBE_DATA_DIR=tmp)
        with open(log_path, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "processor", "--metrics-port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:

            def serving() -> bool:
                return "serving" in log_path.read_text() or process.poll() is not None

            assert wait_until(serving, 120)
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(60)

        assert process.returncode == 0
        assert metrics.status_code == 200
        assert "# TYPE nudgescribe_events_appended_total counter" in metrics.text
        assert "# TYPE nudgescribe_generator_duration_seconds histogram" in metrics.text
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
        assert lines
        assert all(set(entry) >= LOG_KEYS for entry in lines)
        assert any("serving" in entry["message"] for entry in lines)
