"""Each benchmark runs to the end at a tiny size and prints its same-run ratio (no timing is
asserted: benchmarks never fail a build on time)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

SMOKE = {
    "append": ["--runs", "1", "--batches", "1,10", "--events", "5,20"],
    "console": ["--segments", "20", "--runs", "1"],
    "export": ["--events", "300", "--runs", "1"],
    "initiate": ["--customers", "400", "--segments", "16", "--upload", "200", "--chunk", "100",
                 "--runs", "1"],
    "queries": ["--segments", "20", "--reruns", "0", "--page-size", "5", "--connections", "2",
                "--seconds", "0.3", "--runs", "1"],
    "webhooks": ["--events", "20", "--endpoints", "2", "--runs", "1", "--latency-runs", "2"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SMOKE))
def test_benchmark_runs_and_prints_its_ratio(name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", name, "--", *SMOKE[name]],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ratio" in done.stdout, done.stdout
