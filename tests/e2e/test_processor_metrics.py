"""A real processor process: its JSON log lines, and the metrics it serves over HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.dbserver import throwaway_database
from tests.e2e.serving import free_port
from tests.fakes.processes import ROOT, clean_env, database_url, wait_until

pytestmark = pytest.mark.e2e

LOG_KEYS = {"time", "level", "logger", "message", "request_id", "correlation_id"}


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
