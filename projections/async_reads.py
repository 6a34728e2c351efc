"""The two hot reads, run history and a page of run messages, awaited on an asyncio pool:
the statements and rows of ``projections.queries``, without a worker thread per request.

The pool is autocommit (each read opens its own transaction, the account's, see
``enter_account``) and plans its
statements once: PostgreSQL would otherwise keep re-planning the page statement for
each call, while its generic plan is the same index walk whatever the parameters.
"""

from __future__ import annotations

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

    async def _read(self, account_id: UUID, query: sql.Composed, params: Any) -> list[Any]:
        """``query``'s rows, read in a transaction of the account's own. They are fetched
        (made Python objects) after the commit has answered, when no other request can
        run before the answer is rendered: held across that await instead, a page's rows
        outlived young collections under load and filled the old generation, whose full
        collections (tens of ms over the server's heap) stalled every request."""
        async with self.pool.connection() as conn:
            async with conn.transaction():
                await conn.execute(self.enter_account, (str(account_id),))
                cur = await conn.execute(query, params)
            rows: list[Any] = await cur.fetchall()
        return rows

    async def close(self) -> None:
        await self.pool.close()

    async def run_history(self, account_id: UUID, campaign_id: UUID) -> list[RunHistoryRow] | None:
        """Newest run first; None for another account's or no campaign."""
        return history_of(
            await self._read(account_id, HISTORY, history_params(account_id, campaign_id))
        )

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
        rows = await self._read(account_id, RUN_PAGE, params)
        return page_of(rows, campaign_id, page=page, page_size=page_size)


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
