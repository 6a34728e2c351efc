"""Processor subprocesses (``python -m application.processor``) for crash and scale-out tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from application.database import ConnectionInfo

ROOT = Path(__file__).resolve().parents[2]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any setting of ours, plus ``extra``: a child process
    configured by its test alone."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("NUDGESCRIBE_", "DATABASE_URL"))
    }
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


def database_url(db: ConnectionInfo) -> str:
    user = quote(db.user, safe="")
    password = quote(db.password, safe="")
    host = quote(db.host, safe="")
    return f"postgresql://{user}:{password}@/{db.dbname}?host={host}&port={db.port}"


def spawn_processor(
    db: ConnectionInfo,
    data_dir: Path,
    *,
    generator_url: str | None = None,
    concurrency: int = 4,
    lease_seconds: float = 30.0,
    log_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url(db),
        NUDGESCRIBE_DATA_DIR=str(data_dir),
        NUDGESCRIBE_GENERATOR_CONCURRENCY=str(concurrency),
        NUDGESCRIBE_PROCESSOR_LEASE_SECONDS=str(lease_seconds),
        PYTHONPATH=str(ROOT),
    )
    if generator_url:
        env.update(
            NUDGESCRIBE_GENERATOR_BASE_URL=generator_url,
            NUDGESCRIBE_GENERATOR_API_KEY="test-key",
        )
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "application.processor"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """A deadline for work done by another process, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
