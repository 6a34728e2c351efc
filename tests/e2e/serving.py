"""A real ``nudgescribe serve`` process, for the tests that speak to it over HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.fakes.processes import ROOT, clean_env, wait_until


@dataclass
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]
    log: Path

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(data_dir: Path, **settings: str) -> Iterator[Server]:
    """``nudgescribe serve`` configured by ``settings`` alone (environment variables) and
    a fresh data dir: on its embedded database unless ``DATABASE_URL`` is one of them."""
    env = clean_env(NUDGESCRIBE_DATA_DIR=str(data_dir), **settings)
    port = free_port()
    log = data_dir.parent / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(url + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None

    try:
        wait_until(healthy, timeout=120)
        assert process.poll() is None, log.read_text()
        yield Server(url, data_dir, env, log)
    finally:
        process.terminate()
        process.wait(timeout=60)
    if "DATABASE_URL" in settings:
        return
    # serve was the embedded server's last user: the server stops with it.
    postmaster = data_dir / "pg" / "postmaster.pid"
    assert wait_until(lambda: not postmaster.exists(), timeout=60), "embedded server left running"
