"""The app over the session's throwaway database, with the processor in-process."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from application.content.accounts import Accounts
from application.database import ConnectionInfo
from application.settings import Settings
from tests.e2e.client import Api, database_url

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def settings(db: ConnectionInfo, pool, tmp_path_factory: pytest.TempPathFactory) -> Settings:  # type: ignore[no-untyped-def]
    # ``pool`` has migrated the database (read models included).
    data_dir: Path = tmp_path_factory.mktemp("data")
    return Settings(
        DATABASE_URL=database_url(db),
        NUDGESCRIBE_DATA_DIR=data_dir,
        NUDGESCRIBE_API_CODE=secrets.token_urlsafe(16),
        NUDGESCRIBE_JWT_SECRET=secrets.token_urlsafe(32),
    )


@pytest.fixture(scope="session")
def http(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, processor=True)) as client:
        yield client


@pytest.fixture(scope="session")
def api_code(settings: Settings) -> str:
    assert settings.api_code is not None
    return settings.api_code.get_secret_value()


@pytest.fixture(scope="session")
def server_secret(settings: Settings) -> str:
    assert settings.jwt_secret is not None
    return settings.jwt_secret.get_secret_value()


@pytest.fixture(scope="session")
def new_api(http: TestClient, pool, api_code: str, server_secret: str) -> Callable[..., Api]:  # type: ignore[no-untyped-def]
    """A fresh account (optionally with its own JWT secret) and a client acting for it."""

    def make(own_secret: bool = False) -> Api:
        accounts = Accounts(pool)
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
