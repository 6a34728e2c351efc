"""Webhook endpoints on the session database, a real receiver, campaigns run to an end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest

from application.settings import Settings
from application.webhooks.dispatcher import WebhookDispatcher
from application.webhooks.endpoints import Webhooks
from tests.fakes.webhook_receiver import Receiver, webhook_receiver
from tests.processing import create_campaign, customers, generators, make_processor

BACKOFF = 0.05  # seconds before the first retry: tests need not wait for the real ones


def webhook_settings(**changes: Any) -> Settings:
    return Settings().model_copy(
        update={"webhook_allow_private": True, "webhook_backoff_seconds": BACKOFF, **changes}
    )


@pytest.fixture
def webhooks(pool) -> Webhooks:  # type: ignore[no-untyped-def]
    return Webhooks(pool, allow_private=True, retry_seconds=3600)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as found:
        yield found


@pytest.fixture
def subscribe(webhooks: Webhooks, receiver: Receiver, account_id: UUID) -> Callable[..., UUID]:
    """An endpoint of the account at a receiver route; the route verifies with its secret."""

    def make(path: str, events: list[str] | None = None, **behaviour: Any) -> UUID:
        url = receiver.route(path, **behaviour)
        endpoint, secret = webhooks.create(account_id, url, events or ["run.completed"], None)
        receiver.routes[path].secret = secret
        return endpoint.webhook_id

    return make


@pytest.fixture
def finish_runs(commands, store, pool, db, account_id: UUID) -> Callable[[int], list[UUID]]:  # type: ignore[no-untyped-def]
    """``n`` campaigns of the account created and processed to their RunFinalised."""

    def run(n: int) -> list[UUID]:
        ids = [
            create_campaign(commands, pool, account_id, customers(range(3), region=f"R{i}"))
            for i in range(n)
        ]
        make_processor(store, pool, db, generators()).run_until_idle()
        return ids

    return run


@pytest.fixture
def dispatch(db) -> Iterator[Callable[..., WebhookDispatcher]]:  # type: ignore[no-untyped-def]
    started: list[WebhookDispatcher] = []

    def start(**changes: Any) -> WebhookDispatcher:
        dispatcher = WebhookDispatcher(db, webhook_settings(**changes), poll_interval=0.1)
        dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    yield start
    for dispatcher in started:
        dispatcher.stop()
