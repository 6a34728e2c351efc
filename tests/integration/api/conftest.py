"""The app in this process (TestClient) over a database of these tests' own, with its
processor and projection runner running in-process as ``nudgescribe serve`` runs them."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from application.content.accounts import Accounts
from application.database import ConnectionInfo, open_pool
from application.migrate import migrate
from application.settings import Settings
from projections.schema import READ_MODEL_DDL
from tests.api_client import Api
from tests.dbserver import throwaway_database
from tests.fakes.processes import database_url


@pytest.fixture(scope="package")
def api_db(pg_server_url: str) -> Iterator[ConnectionInfo]:
    """A database of this package's own: the app's processor and projector, which live
    as long as this package's tests, never touch the campaigns other tests drive by hand."""
    with throwaway_database(pg_server_url, prefix="nudgescribe_api") as info:
        yield info


@pytest.fixture(scope="package")
def api_pool(api_db: ConnectionInfo) -> Iterator[Any]:
    pool = open_pool(api_db, max_size=4, name="nudgescribe-api-tests")
    migrate(api_db, pool, extra_ddl=READ_MODEL_DDL)
    yield pool
    pool.close()


@pytest.fixture(scope="package")
def settings(api_db: ConnectionInfo, api_pool: Any) -> Iterator[Settings]:
    # api_pool: the database is migrated before the app starts.
    with tempfile.TemporaryDirectory(prefix="nudgescribe-api-") as data_dir:
        yield Settings(
            DATABASE_URL=database_url(api_db),
            NUDGESCRIBE_DATA_DIR=Path(data_dir),
            NUDGESCRIBE_API_CODE=secrets.token_urlsafe(16),
            NUDGESCRIBE_JWT_SECRET=secrets.token_urlsafe(32),
        )


@pytest.fixture(scope="package")
def http(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, processor=True)) as client:
        yield client


@pytest.fixture(scope="package")
def api_code(settings: Settings) -> str:
    assert settings.api_code is not None
    return settings.api_code.get_secret_value()


@pytest.fixture(scope="package")
def server_secret(settings: Settings) -> str:
    assert settings.jwt_secret is not None
    return settings.jwt_secret.get_secret_value()


@pytest.fixture(scope="package")
def new_api(
    http: TestClient, api_pool: Any, api_code: str, server_secret: str
) -> Callable[..., Api]:
    """A fresh account (optionally with its own JWT secret) and a client acting for it."""

    def make(own_secret: bool = False) -> Api:
        accounts = Accounts(api_pool)
        created = accounts.create("Acme", own_secret=own_secret)
        account = accounts.get(created.account_id)
        assert account is not None
        secret = account.jwt_secret or server_secret
        return Api(http, api_code, created.account_id, secret, api_key=created.api_key)

    return make


@pytest.fixture
def api(new_api: Callable[..., Api]) -> Api:
    return new_api()


@pytest.fixture
def other(new_api: Callable[..., Api]) -> Api:
    return new_api()
