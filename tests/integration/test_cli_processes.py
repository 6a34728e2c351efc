"""The operator commands as real processes, on the embedded database of a fresh data dir."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.processes import ROOT, clean_env

pytestmark = pytest.mark.integration


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
    # Not pytest's tmp_path: the embedded server may run as another user (see
    # tests/e2e/test_server.py).
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
