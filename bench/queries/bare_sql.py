"""The same-SQL baseline: a bare FastAPI endpoint per hot read that calls the very query
the route calls (``projections.queries.ReadModels`` on a pool opened as the app opens its
own) and answers the rows with orjson. No authentication, body model, response model or
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
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from application.database import ConnectionInfo, open_pool
from application.settings import Settings
from projections.queries import ReadModels

ACCOUNT = UUID(os.environ.get("BENCH_ACCOUNT_ID", "00000000-0000-0000-0000-000000000000"))
views: dict[str, ReadModels] = {}


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    connection = ConnectionInfo.from_url(os.environ["DATABASE_URL"])
    pool = open_pool(connection, max_size=Settings().pool_size * 2)  # as build_container
    views["read"] = ReadModels(pool)
    yield
    pool.close()


app = FastAPI(lifespan=lifespan)


def answer(value: Any) -> Response:
    return Response(orjson.dumps(value, option=orjson.OPT_UTC_Z), media_type="application/json")


@app.post("/v1/campaign/rerun/history")
async def history(request: Request) -> Response:
    body = orjson.loads(await request.body())
    rows = await run_in_threadpool(views["read"].run_history, ACCOUNT, UUID(body["campaign_id"]))
    return answer({"data": rows})


@app.post("/v1/campaign/rerun/messages")
async def messages(request: Request) -> Response:
    body = orjson.loads(await request.body())
    page = await run_in_threadpool(
        views["read"].run_messages,
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
