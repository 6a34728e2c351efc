"""/ready: 503 while the read models lag past the threshold or the database is gone."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container, build_container
from application.database import ConnectionInfo
from application.metadata import CommandContext
from application.migrate import migrate
from application.settings import Settings
from projections.schema import READ_MODEL_DDL
from tests.content_fixtures import define_fields, make_group
from tests.dbserver import throwaway_database
from tests.fakes.processes import database_url

pytestmark = pytest.mark.integration


@pytest.fixture
def app_over(pg_server_url: str) -> Iterator[tuple[TestClient, Container, ConnectionInfo]]:
    """An app whose projection runner is NOT running (the test moves it by hand), over a
    database of its own, that tolerates no lag at all."""
    with (
        throwaway_database(pg_server_url, prefix="nudgescribe_ready") as db,
        tempfile.TemporaryDirectory(prefix="nudgescribe-ready-") as data_dir,
    ):
        settings = Settings(
            DATABASE_URL=database_url(db),
            NUDGESCRIBE_DATA_DIR=Path(data_dir),
            NUDGESCRIBE_API_CODE=secrets.token_urlsafe(16),
            NUDGESCRIBE_JWT_SECRET=secrets.token_urlsafe(32),
            NUDGESCRIBE_READY_MAX_LAG_SECONDS=0,
        )
        container = build_container(settings)
        try:
            migrate(container.connection, container.pool, extra_ddl=READ_MODEL_DDL)
            with TestClient(create_app(container=container)) as client:
                yield client, container, db
        finally:
            container.close()


def start_campaign(container: Container) -> Any:
    account_id = container.accounts.create("Ready").account_id
    define_fields(container.pool, account_id, ["plan"])
    group = make_group(container.pool, account_id, [{"plan": "gold"}])
    context = CommandContext.for_request(user_id="u", account_id=account_id, ip="10.0.0.1")
    return container.commands.create(
        context=context,
        account_id=account_id,
        name="ready",
        customer_group_id=group,
        segment_variables=["plan"],
        ai_config={"provider": "template", "template": "Hi {{plan}}"},
    )


def test_ready_while_read_models_are_caught_up(app_over) -> None:  # type: ignore[no-untyped-def]
    client, container, _ = app_over
    container.runner.catch_up()

    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json()["data"]["status"] == "ready"


def test_not_ready_while_read_models_lag_past_the_threshold(app_over) -> None:  # type: ignore[no-untyped-def]
    client, container, _ = app_over
    container.runner.catch_up()
    start_campaign(container)  # an event the (stopped) runner has not projected

    lagging = client.get("/ready")
    container.runner.catch_up()
    caught_up = client.get("/ready")

    assert lagging.status_code == 503
    assert lagging.json() == {"message": "Service unavailable", "code": "projections_lagging"}
    assert caught_up.status_code == 200


def test_not_ready_while_the_database_is_unreachable(app_over, pg_server_url: str) -> None:  # type: ignore[no-untyped-def]
    client, _, db = app_over
    admin = ConnectionInfo.from_url(pg_server_url)
    with psycopg.connect(admin.conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{db.dbname}" WITH (FORCE)')

    ready = client.get("/ready")
    metrics = client.get("/metrics")

    assert ready.status_code == 503
    assert ready.json() == {"message": "Service unavailable", "code": "service_unavailable"}
    assert metrics.status_code == 200
    assert "nudgescribe_database_up 0.0" in metrics.text
