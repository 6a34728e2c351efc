"""What the benchmarks share: a database, a real ``nudgescribe serve``, an account, medians.

Each benchmark runs on a throwaway database of ``DATABASE_URL``'s server (unset: an
embedded server in a temporary folder), dropped afterwards.
"""

from __future__ import annotations

import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.tokens import issue_token  # noqa: E402
from application.content.accounts import Accounts  # noqa: E402
from application.database import ConnectionInfo, open_pool  # noqa: E402
from application.migrate import migrate  # noqa: E402
from projections.schema import READ_MODEL_DDL  # noqa: E402
from tests.dbserver import server_url, throwaway_database  # noqa: E402
from tests.fakes.processes import database_url, spawn_processor  # noqa: E402


def where() -> str:
    return "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded server"


@contextmanager
def bench_database() -> Iterator[tuple[ConnectionInfo, Any]]:
    """A migrated throwaway database and a small pool on it."""
    with server_url() as url, throwaway_database(url, prefix="nudgescribe_bench") as db:
        pool = open_pool(db, max_size=4, name="bench")
        try:
            migrate(db, pool, extra_ddl=READ_MODEL_DDL)
            yield db, pool
        finally:
            pool.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Served:
    url: str
    api_code: str
    jwt_secret: str
    process: subprocess.Popen[bytes]


@contextmanager
def serve(
    db: ConnectionInfo, *, processor: bool = True, extra_env: dict[str, str] | None = None
) -> Iterator[Served]:
    """``nudgescribe serve`` (uvicorn, uvloop, httptools) on ``db`` in its own process."""
    with tempfile.TemporaryDirectory(prefix="nudgescribe-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUDGESCRIBE_")}
        api_code, jwt_secret = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
        env.update(
            DATABASE_URL=database_url(db),
            NUDGESCRIBE_DATA_DIR=tmp,
            NUDGESCRIBE_API_CODE=api_code,
            NUDGESCRIBE_JWT_SECRET=jwt_secret,
            PYTHONPATH=str(ROOT),
            **(extra_env or {}),
        )
        port = free_port()
        args = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
        log = Path(tmp) / "serve.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [*args, *([] if processor else ["--no-processor"])],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process, log)
            yield Served(url, api_code, jwt_secret, process)
        finally:
            process.terminate()
            process.wait(timeout=60)


@contextmanager
def processor_process(db: ConnectionInfo) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m application.processor`` on ``db``, as a deployment runs the worker."""
    with tempfile.TemporaryDirectory(prefix="nudgescribe-bench-p-") as tmp:
        process = spawn_processor(db, Path(tmp))
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=60)


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited:\n" + log.read_text())
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not become healthy:\n" + log.read_text())


def new_account(pool: Any, served: Served, user_id: str = "bench") -> tuple[UUID, dict[str, str]]:
    """A fresh account and the headers of a request made on its behalf."""
    account_id = Accounts(pool).create("Bench").account_id
    token = issue_token(served.jwt_secret, account_id=account_id, user_id=user_id)
    return account_id, {
        "authorization": f"Bearer {token}",
        "x-auth-context": f'{{"api_access": true, "api_code": "{served.api_code}"}}',
        "x-ip": "127.0.0.1",
    }


def ok(client: httpx.Client, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = client.post(path, json=body, headers=headers)
    if response.status_code != 200:
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:500]}")
    return response.json()


def wait_job(client: httpx.Client, headers: dict[str, str], job_uid: str) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job = ok(client, "/v1/campaign/rerun/job", {"job_uid": job_uid}, headers)["data"]
        if job["phase"] == "Completed":
            return
        if job["phase"] == "Failed":
            raise RuntimeError(f"job failed: {job}")
        time.sleep(0.1)
    raise RuntimeError("job did not complete")


def approve_and_publish(client: httpx.Client, headers: dict[str, str], campaign_id: str) -> None:
    body = {"campaign_id": campaign_id, "all": True, "decision": "approve"}
    ok(client, "/v1/campaign/messages/review", body, headers)
    ok(client, "/v1/campaign/messages/publish", {"campaign_id": campaign_id}, headers)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of a process, in MiB (Linux /proc)."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) / 1024
    return found.get("VmRSS", 0.0), found.get("VmHWM", 0.0)


def ratio_line(label: str, ours: float, baseline: float, unit: str, target: str) -> str:
    return (
        f"{label}: {ours:,.1f} {unit} vs baseline {baseline:,.1f} {unit} "
        f"-> ratio {ours / baseline:.2f}  ({target})"
    )
