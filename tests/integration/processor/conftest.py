"""Processor tests get a database of their own (per module).

A processor these tests start takes every due job of its database and holds its slot's
lock: on the session database it would take the jobs of campaigns other tests drive by
hand, and they its. These fixtures shadow the session-wide ``db``, ``pool``, ``store`` and
``commands`` of tests/conftest.py. ``spawn`` starts processor processes on that database.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from psycopg_pool import ConnectionPool

from application.campaigns import CampaignCommands
from application.content.groups import GroupSegments
from application.database import ConnectionInfo, open_pool
from application.idempotency_records import IdempotencyRecords
from application.migrate import migrate
from application.store import CampaignStore, store_env
from tests.dbserver import throwaway_database
from tests.fakes.chat_server import ChatServer
from tests.fakes.processes import spawn_processor

Spawn = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
def db(pg_server_url: str) -> Iterator[ConnectionInfo]:
    with throwaway_database(pg_server_url, prefix="nudgescribe_proc") as info:
        yield info


@pytest.fixture(scope="module")
def pool(db: ConnectionInfo) -> Iterator[ConnectionPool]:
    opened = open_pool(db, max_size=8, name="nudgescribe-processor-tests")
    migrate(db, opened)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def store(db: ConnectionInfo, pool: ConnectionPool) -> Iterator[CampaignStore]:
    app = CampaignStore(store_env(db, pool_size=4), snapshot_every=500)
    yield app
    app.close()


@pytest.fixture(scope="module")
def commands(store: CampaignStore, pool: ConnectionPool) -> CampaignCommands:
    return CampaignCommands(store, GroupSegments(pool), IdempotencyRecords(pool))


@pytest.fixture
def spawn(db: ConnectionInfo, tmp_path: Path) -> Iterator[Spawn]:
    """``spawn(server, concurrency=4, lease_seconds=30.0)``: a processor process generating
    against ``server``, stopped (SIGTERM, then SIGKILL) at the end of the test."""
    started: list[subprocess.Popen[bytes]] = []

    def start(
        server: ChatServer, concurrency: int = 4, lease_seconds: float = 30.0
    ) -> subprocess.Popen[bytes]:
        process = spawn_processor(
            db,
            tmp_path / "data",
            generator_url=server.url,
            concurrency=concurrency,
            lease_seconds=lease_seconds,
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
