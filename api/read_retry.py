"""A read that fails on a broken database connection runs once more.

After the database restarts, every pooled connection is dead, and a pool may hand one out
before it knows (the hot-read pool skips its check for a connection used moments ago).
Such a read fails although the database is back. It changes nothing, so it is run once
more, after the hot-read pool has dropped its broken connections; the sync pool checks
every connection it hands out. A database out of reach (no connection to be had within
the pool's wait) is answered 503 at once: another try would only double the wait.
Writes are never run again here: one may have committed before its connection broke
(commands settle that by re-reading their stream).
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.body import JSON_LIMIT
from api.hot_reads import read_body, replay
from application.errors import is_broken_connection

log = logging.getLogger("nudgescribe.api")

# Every endpoint that only reads (issuing a token stores nothing).
READS = frozenset(
    {
        "/v1/auth/authenticate",
        "/v1/auth/reauthenticate",
        "/v1/customer-fields/list",
        "/v1/customers/list",
        "/v1/customers/pages",
        "/v1/customer-groups/list",
        "/v1/campaign/list",
        "/v1/campaign/get",
        "/v1/campaign/messages/pages",
        "/v1/campaign/messages/published",
        "/v1/campaign/rerun/history",
        "/v1/campaign/rerun/messages",
        "/v1/campaign/rerun/job",
    }
)


class RetryReads:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in READS:
            await self.app(scope, receive, send)
            return
        received, complete = await read_body(receive, JSON_LIMIT)
        if not complete:  # over the limit: answered 413, nothing to run again
            await self.app(scope, replay(received, receive), send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, replay(received, None), watched)
        except Exception as error:
            if started or not is_broken_connection(error):
                raise
            log.info("read %s lost its database connection; running it once more", scope["path"])
            await scope["app"].state.pages.pool.check()
            await self.app(scope, replay(received, None), send)
