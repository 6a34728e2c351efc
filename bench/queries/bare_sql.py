"""The same-SQL baseline: a bare FastAPI endpoint per hot read that awaits the very query
the route awaits (``projections.async_reads``, on a pool opened as the app opens its own)
and answers the rows with orjson. No authentication, body model, response model or
request middleware: what is left is the framework's floor plus the query.

Environment: ``DATABASE_URL``, ``BENCH_ACCOUNT_ID`` (whose campaign is read).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from application.database import ConnectionInfo
from application.row_security import ENTER_ACCOUNT
from application.settings import Settings
from projections.async_reads import AsyncReadModels, open_async_read_models

ACCOUNT = UUID(os.environ.get("BENCH_ACCOUNT_ID", "00000000-0000-0000-0000-000000000000"))
reads: dict[str, AsyncReadModels] = {}


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    conninfo = ConnectionInfo.from_url(os.environ["DATABASE_URL"]).conninfo()
    reads["app"] = await open_async_read_models(
        conninfo, ENTER_ACCOUNT, max_size=Settings().pool_size
    )
    yield
    await reads["app"].close()


app = FastAPI(lifespan=lifespan)


def answer(value: Any) -> Response:
    return Response(orjson.dumps(value, option=orjson.OPT_UTC_Z), media_type="application/json")


@app.post("/v1/campaign/rerun/history")
async def history(request: Request) -> Response:
    body = orjson.loads(await request.body())
    return answer({"data": await reads["app"].run_history(ACCOUNT, UUID(body["campaign_id"]))})


@app.post("/v1/campaign/rerun/messages")
async def messages(request: Request) -> Response:
    body = orjson.loads(await request.body())
    page = await reads["app"].run_messages(
        ACCOUNT,
        UUID(body["campaign_id"]),
        run_number=body.get("run_number"),
        include_archived=body.get("include_archived", False),
        page=body.get("page", 1),
        page_size=body.get("page_size", 20),
    )
    return answer({"data": page.items, "total": page.total} if page else None)


@app.post("/up")
async def up() -> Response:
    return answer(None)
