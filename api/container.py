"""Composition root: settings → database → pool, store, commands, read models, runners,
time travel.

Nothing here runs at import; ``build_container`` is called from the app's lifespan and
from the CLI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from api.auth import AccountCache, VerifiedTokens
from application.campaigns import CampaignCommands
from application.content.accounts import Accounts
from application.content.customer_groups import CustomerGroups
from application.content.customers import Customers
from application.content.fields import CustomerFields
from application.content.groups import GroupSegments
from application.database import ConnectionInfo, open_pool, resolve_database_url
from application.errors import is_database_unavailable
from application.generators import configured_providers
from application.idempotency_records import IdempotencyRecords
from application.row_security import account_connection
from application.settings import Settings
from application.store import CampaignStore, store_env
from application.time_travel import TimeTravel
from application.webhooks.endpoints import Webhooks
from projections.queries import ReadModels
from projections.runner import ProjectionRunner

log = logging.getLogger("nudgescribe.api")


@dataclass
class Container:
    settings: Settings
    connection: ConnectionInfo
    pool: Any  # psycopg_pool.ConnectionPool; the api layer does not import psycopg
    store: CampaignStore
    commands: CampaignCommands
    read_models: ReadModels
    runner: ProjectionRunner
    accounts: Accounts
    fields: CustomerFields
    customers: Customers
    groups: CustomerGroups
    account_cache: AccountCache
    time_travel: TimeTravel
    webhooks: Webhooks
    processor: Any = None  # application.processor.Processor when this process runs one
    verified_tokens: VerifiedTokens = field(default_factory=VerifiedTokens)
    _started: list[Any] = field(default_factory=list)

    @property
    def api_code(self) -> str:
        assert self.settings.api_code is not None
        return self.settings.api_code.get_secret_value()

    @property
    def jwt_secret(self) -> str:
        assert self.settings.jwt_secret is not None
        return self.settings.jwt_secret.get_secret_value()

    def start(self) -> None:
        for worker in (self.runner, self.processor):
            if worker is not None:
                worker.start()
                self._started.append(worker)

    def wait_for(self, position: int | None) -> None:
        """Read-your-writes: answer once the read models include ``position``."""
        if position is None:
            return
        try:
            reached = self.runner.wait_for(position, self.settings.read_your_writes_timeout)
        except Exception as error:
            if not is_database_unavailable(error):
                raise
            # The command is committed: answer it, never 503 ("changed nothing").
            log.warning("database lost while waiting for position %s: %s", position, error)
            return
        if not reached:
            log.warning("read models did not reach position %s in time", position)

    def close(self) -> None:
        for worker in reversed(self._started):
            worker.stop()
        self._started.clear()
        self.store.close()
        self.pool.close()


def connection_info(settings: Settings) -> ConnectionInfo:
    return ConnectionInfo.from_url(resolve_database_url(settings.database_url, settings.data_dir))


def build_processor(container: Container) -> Any:
    from application.generators import build_generators
    from application.processor import Processor

    return Processor(
        container.store,
        container.pool,
        container.connection,
        build_generators(container.settings),
        container.settings,
    )


def build_container(settings: Settings, *, processor: bool = False) -> Container:
    connection = connection_info(settings)
    pool = open_pool(connection, max_size=settings.pool_size * 2)
    store = CampaignStore(
        store_env(
            connection,
            pool_size=settings.pool_size,
            lock_timeout_seconds=settings.lock_timeout_seconds,
        ),
        snapshot_every=settings.snapshot_every,
    )
    accounts = Accounts(pool)
    container = Container(
        settings=settings,
        connection=connection,
        pool=pool,
        store=store,
        commands=CampaignCommands(
            store,
            GroupSegments(pool),
            IdempotencyRecords(pool),
            providers=configured_providers(settings),
        ),
        read_models=ReadModels(partial(account_connection, pool)),
        runner=ProjectionRunner(pool, connection.conninfo()),
        accounts=accounts,
        fields=CustomerFields(pool),
        customers=Customers(pool),
        groups=CustomerGroups(pool),
        account_cache=AccountCache(accounts, ttl=settings.account_cache_seconds),
        time_travel=TimeTravel(store, pool),
        webhooks=Webhooks(
            pool,
            allow_private=settings.webhook_allow_private,
            retry_seconds=settings.webhook_retry_seconds,
        ),
    )
    if processor:
        container.processor = build_processor(container)
    return container
