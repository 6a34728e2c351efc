"""FastAPI dependencies: the container, the authenticated principal, bodies, commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Depends, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.auth import AccountNotCached, Principal, authenticate_request
from api.body import JSON_LIMIT, json_body
from api.container import Container
from api.gate import Gate
from api.observability import correlation_scope
from application.metadata import CommandContext
from projections.async_reads import AsyncReadModels

M = TypeVar("M", bound=BaseModel)


# The dependencies are ``async def``: FastAPI runs a sync one in the thread pool, a hop
# (and GIL hand-over) per dependency per request.
async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_reads(request: Request) -> AsyncReadModels:
    reads: AsyncReadModels = request.app.state.reads
    return reads


ReadsDep = Annotated[AsyncReadModels, Depends(get_reads)]


async def get_gate(request: Request) -> Gate:
    gate: Gate = request.app.state.gate
    return gate


GateDep = Annotated[Gate, Depends(get_gate)]


async def get_principal(request: Request) -> Principal:
    """On the event loop while the account is in memory; its first lookup goes to a thread.
    The container is read from the app, not depended on: every dependency FastAPI solves
    costs each request of the hot reads ≈ 20 µs."""
    container: Container = request.app.state.container
    cache, code, secret = container.account_cache, container.api_code, container.jwt_secret
    tokens = container.verified_tokens
    try:
        return authenticate_request(request, cache.cached, code, secret, tokens)
    except AccountNotCached as miss:
        account = await run_in_threadpool(cache.get, miss.account_id)
    return authenticate_request(request, lambda _: account, code, secret, tokens)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def body(model: type[M], limit: int = JSON_LIMIT) -> Any:
    """``payload: Annotated[Model, body(Model)]``: parsed after authentication."""
    return Depends(json_body(model, limit))


T = TypeVar("T")


def command(container: Container, principal: Principal, run: Callable[[CommandContext], T]) -> T:
    """Run a command as the principal, then wait until the read models include it.

    ``run`` is given the command's context (who, from where, a correlation id) to pass
    to the application, which stores it with the command's events; log lines written
    meanwhile carry the same correlation id."""
    context = principal.context()
    with correlation_scope(context.correlation_id):
        result = run(context)
    container.wait_for(getattr(result, "position", None))
    return result


async def campaign_command(
    container: Container,
    gate: Gate,
    principal: Principal,
    campaign_id: UUID,
    run: Callable[[CommandContext, str | None], T],
) -> T:
    """``command`` in the campaign's turn (``api.gate``): ``run`` is also given the status
    the read models show once the previous command on the campaign was answered (None
    when they do not show the campaign), to refuse from it before loading the aggregate."""

    def settled_status() -> str | None:
        row = container.read_models.campaign(principal.account_id, campaign_id)
        return row.status if row else None

    def decide(status: str | None) -> T:
        with correlation_scope(context.correlation_id):
            return run(context, status)

    context = principal.context()
    # Read once before the turn too: with the database down, every command queued on
    # the campaign would otherwise wait out the pool's timeout in turn (3 s each), where
    # this answers each 503 within one timeout, in parallel.
    await run_in_threadpool(settled_status)
    async with gate.campaign(campaign_id):
        status = await run_in_threadpool(settled_status)
        async with gate.heavy():
            result = await run_in_threadpool(decide, status)
        # Still in the campaign's turn: the next command reads a status that includes this one.
        await run_in_threadpool(container.wait_for, getattr(result, "position", None))
    return result
