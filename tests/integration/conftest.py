"""An app in this process (TestClient) over a database of its own, without a processor."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from application.content.accounts import Accounts
from application.database import open_pool
from application.migrate import migrate
from application.settings import Settings
from projections.schema import READ_MODEL_DDL
from tests.api_client import Api
from tests.dbserver import throwaway_database
from tests.fakes.processes import database_url

ACCOUNT_CACHE_SECONDS = 0.5


@dataclass
class Served:
    client: TestClient
    settings: Settings
    pool: Any

    def new_api(self) -> Api:
        assert self.settings.api_code is not None
        assert self.settings.jwt_secret is not None
        created = Accounts(self.pool).create("Acme")
        return Api(
            self.client,
            self.settings.api_code.get_secret_value(),
            created.account_id,
            self.settings.jwt_secret.get_secret_value(),
            api_key=created.api_key,
        )


@pytest.fixture(scope="package")
def served(pg_server_url: str) -> Iterator[Served]:
    """Its own database: the app's projector never touches the rows other tests drive."""
    with (
        throwaway_database(pg_server_url, prefix="nudgescribe_app") as db,
        tempfile.TemporaryDirectory(prefix="nudgescribe-app-") as data_dir,
    ):
        pool = open_pool(db, max_size=2, name="nudgescribe-app-tests")
        try:
            migrate(db, pool, extra_ddl=READ_MODEL_DDL)
            settings = Settings(
                DATABASE_URL=database_url(db),
                NUDGESCRIBE_DATA_DIR=Path(data_dir),
                NUDGESCRIBE_API_CODE=secrets.token_urlsafe(16),
                NUDGESCRIBE_JWT_SECRET=secrets.token_urlsafe(32),
                NUDGESCRIBE_ACCOUNT_CACHE_SECONDS=ACCOUNT_CACHE_SECONDS,
            )
            with TestClient(create_app(settings)) as client:
                yield Served(client, settings, pool)
        finally:
            pool.close()


@pytest.fixture
def api(served: Served) -> Api:
    return served.new_api()
