"""Shared fixtures: a real PostgreSQL database per test session, migrated once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, settings

from application.campaigns import CampaignCommands
from application.content.groups import GroupSegments
from application.database import ConnectionInfo, open_pool
from application.idempotency_records import IdempotencyRecords
from application.migrate import migrate
from application.store import CampaignStore, store_env
from tests.dbserver import server_url, throwaway_database
from tests.markers import MISMARKED, kinds, mismarked

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    with server_url() as url:
        yield url


@pytest.fixture(scope="session")
def db(pg_server_url: str) -> Iterator[ConnectionInfo]:
    with throwaway_database(pg_server_url) as info:
        yield info


@pytest.fixture(scope="session")
def pool(db: ConnectionInfo):  # type: ignore[no-untyped-def]
    pool = open_pool(db, max_size=8, name="nudgescribe-tests")
    migrate(db, pool, extra_ddl=_read_model_ddl())
    yield pool
    pool.close()


def _read_model_ddl() -> list:  # type: ignore[type-arg]
    try:
        from projections.schema import READ_MODEL_DDL
    except ImportError:  # projections not built yet
        return []
    return list(READ_MODEL_DDL)


@pytest.fixture(scope="session")
def store(db: ConnectionInfo, pool) -> Iterator[CampaignStore]:  # type: ignore[no-untyped-def]
    app = CampaignStore(store_env(db, pool_size=4), snapshot_every=500)
    yield app
    app.close()


@pytest.fixture(scope="session")
def commands(store: CampaignStore, pool) -> CampaignCommands:  # type: ignore[no-untyped-def]
    return CampaignCommands(store, GroupSegments(pool), IdempotencyRecords(pool))


@pytest.fixture
def account_id() -> UUID:
    return uuid4()


_RUN_ORDER = {"unit": 0, "integration": 1, "e2e": 2}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Check every test's kind, then run the kinds cheapest first.

    Runs before ``-m`` deselects anything, so the unit test that asserts no test is
    mismarked (tests/unit/test_markers.py) sees every collected test, whatever the run
    selects. The order (a stable sort: file order is kept within each kind) gives the
    seconds-long unit tests' answer first and starts real server processes last; no test
    depends on it, since every app that runs a processor or projector in the test process
    does so on a database of its own.
    """
    config.stash[MISMARKED] = mismarked(items)

    def rank(item: pytest.Item) -> int:
        return min((_RUN_ORDER[kind] for kind in kinds(item)), default=1)

    items.sort(key=rank)
