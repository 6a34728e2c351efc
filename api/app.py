"""The FastAPI application factory. Nothing connects at import: the lifespan builds it all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api.console import install_console
from api.container import Container, build_container
from api.errors import install_error_handlers
from api.gate import Gate
from api.metrics import Metrics
from api.middleware import RequestMiddleware
from api.openapi import install_openapi
from api.routers import ROUTERS
from application.row_security import ENTER_ACCOUNT
from application.settings import Settings
from projections.async_reads import open_async_read_models

# Each holds its body (up to 32 MiB) while it is read, parsed and written; parsing is
# Python work under the GIL, so a second one at once would only add its memory.
UPLOADS_AT_ONCE = 1


def create_app(
    settings: Settings | None = None,
    *,
    container: Container | None = None,
    processor: bool = False,
) -> FastAPI:
    """An app over ``container`` (kept open) or over one built from ``settings``.

    ``processor``: also run the background processor inside this process.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if container is not None:
            app.state.container = container
            async with hot_reads(app, container):
                yield
            return
        built = await run_in_threadpool(
            build_container,
            (settings or Settings()).with_generated_secrets(),
            processor=processor,
        )
        app.state.container = built
        await run_in_threadpool(built.start)
        try:
            async with hot_reads(app, built):
                yield
        finally:
            await run_in_threadpool(built.close)

    app = FastAPI(
        title="Nudgescribe Reruns",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.metrics = Metrics()
    install_error_handlers(app)
    install_openapi(app)
    for router in ROUTERS:
        app.include_router(router)
    install_console(app)
    app.add_middleware(RequestMiddleware, metrics=app.state.metrics)
    return app


@asynccontextmanager
async def hot_reads(app: FastAPI, container: Container) -> AsyncIterator[None]:
    """The asyncio pool of the hot reads: opened in this app's event loop (an asyncio pool
    belongs to one loop), so it lives on the app, not on the shared container; so does
    the gate of the heavy requests. At most ``pool_size`` heavy commands run at once:
    each holds at most one connection of the event store's pool (twice that size) and
    one of the content pool (twice that size), leaving the rest to reads."""
    app.state.gate = Gate(heavy=container.settings.pool_size, uploads=UPLOADS_AT_ONCE)
    app.state.reads = await open_async_read_models(
        container.connection.conninfo(),
        ENTER_ACCOUNT,
        max_size=container.settings.pool_size,
    )
    try:
        yield
    finally:
        await app.state.reads.close()


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory``: settings from the environment, processor run elsewhere."""
    return create_app(Settings())
