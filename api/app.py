"""The FastAPI application factory. Nothing connects at import: the lifespan builds it all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api.container import Container, build_container
from api.errors import install_error_handlers
from api.hot_reads import HOT, HotReads
from api.metrics import Metrics
from api.middleware import RequestMiddleware
from api.openapi import api_routes, install_openapi
from api.read_retry import READS, RetryReads
from api.responses import JSONResponse
from api.routers import ROUTERS
from application.settings import Settings
from projections.page_queries import open_page_queries


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
            async with page_queries(app, container):
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
            async with page_queries(app, built):
                yield
        finally:
            await run_in_threadpool(built.close)

    app = FastAPI(
        title="Nudgescribe Reruns",
        lifespan=lifespan,
        default_response_class=JSONResponse,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.metrics = Metrics()
    install_error_handlers(app)
    install_openapi(app)
    for router in ROUTERS:
        app.include_router(router)
    hot = {route.path: route for route in api_routes(app.routes) if route.path in HOT}
    if hot.keys() != HOT.keys():
        raise RuntimeError(f"hot read routes not found: {sorted(HOT.keys() - hot.keys())}")
    paths = {route.path for route in api_routes(app.routes)}
    if READS - paths:
        raise RuntimeError(f"read routes not found: {sorted(READS - paths)}")
    app.add_middleware(HotReads, routes=hot)  # inside RequestMiddleware: added first
    app.add_middleware(RetryReads)  # around the hot reads too
    app.add_middleware(RequestMiddleware, metrics=app.state.metrics)
    return app


@asynccontextmanager
async def page_queries(app: FastAPI, container: Container) -> AsyncIterator[None]:
    """The asyncio pool of the hot read endpoints: opened in this app's event loop (an
    asyncio pool belongs to one loop), so it lives on the app, not the shared container."""
    app.state.pages = await open_page_queries(
        container.connection.conninfo(), max_size=container.settings.pool_size
    )
    try:
        yield
    finally:
        await app.state.pages.close()


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory``: settings from the environment, processor run elsewhere."""
    return create_app(Settings())
