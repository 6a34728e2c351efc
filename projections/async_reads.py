"""The two hot reads, run history and a page of run messages, awaited on an asyncio pool:
the statements and rows of ``projections.queries``, without a worker thread per request.

The pool is autocommit (each read opens its own transaction, the account's, see
``enter_account``) and plans its
statements once: PostgreSQL would otherwise keep re-planning the page statement for
each call, while its generic plan is the same index walk whatever the parameters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import orjson
from psycopg import AsyncConnection, sql
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool

from projections.queries import (
    HISTORY,
    RUN_PAGE,
    history_of,
    history_params,
    page_of,
    page_params,
)
from projections.rows import MessageRow, Page, RunHistoryRow


class AsyncReadModels:
    def __init__(self, pool: AsyncConnectionPool[Any], enter_account: sql.Composable) -> None:
        self.pool = pool
        # The statement that makes a transaction the account's own (row-level security).
        self.enter_account = enter_account

    @asynccontextmanager
    async def _reading(self, account_id: UUID) -> AsyncIterator[AsyncConnection[Any]]:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(self.enter_account, (str(account_id),))
            yield conn

    async def close(self) -> None:
        await self.pool.close()

    async def run_history(self, account_id: UUID, campaign_id: UUID) -> list[RunHistoryRow] | None:
        """Newest run first; None for another account's or no campaign."""
        async with self._reading(account_id) as conn:
            cur = await conn.execute(HISTORY, history_params(account_id, campaign_id))
            return history_of(await cur.fetchall())

    async def run_messages(
        self,
        account_id: UUID,
        campaign_id: UUID,
        *,
        run_number: int | None,
        include_archived: bool,
        page: int,
        page_size: int,
    ) -> Page[MessageRow] | None:
        """As ``ReadModels.run_messages``."""
        params = page_params(
            account_id,
            campaign_id,
            run=run_number,
            archived=include_archived or run_number is not None,
            live=False,
            page=page,
            page_size=page_size,
        )
        async with self._reading(account_id) as conn:
            cur = await conn.execute(RUN_PAGE, params)
            return page_of(await cur.fetchall(), campaign_id, page=page, page_size=page_size)


async def _configure(conn: AsyncConnection[Any]) -> None:
    # A page holds one jsonb segment per message: orjson parses them several times faster
    # than the standard library, and reads numbers as the request bodies they came from
    # were read (api.body), so a segment value answers as it was given.
    set_json_loads(orjson.loads, conn)


async def open_async_read_models(
    conninfo: str, enter_account: sql.Composable, *, max_size: int
) -> AsyncReadModels:
    """Open the pool in the running event loop (an asyncio pool belongs to one loop)."""
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=max_size,
        name="nudgescribe-reads",
        timeout=3.0,  # as the sync pool: a down database answers 503 within it
        kwargs={
            "autocommit": True,
            "connect_timeout": 3,
            "application_name": "nudgescribe-reads",
            "options": "-c plan_cache_mode=force_generic_plan",
        },
        configure=_configure,
        # Every checkout is checked (one round trip): after the database restarts, no
        # request is handed a dead connection.
        check=AsyncConnectionPool.check_connection,
        open=False,
    )
    await pool.open(wait=True, timeout=10.0)
    return AsyncReadModels(pool, enter_account)
