"""FastAPI dependencies: the container, the authenticated principal, bodies, commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel

from api.auth import Principal, authenticate_request
from api.body import JSON_LIMIT, json_body
from api.container import Container
from application.metadata import command_context

M = TypeVar("M", bound=BaseModel)


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


def get_principal(request: Request, container: ContainerDep) -> Principal:
    return authenticate_request(
        request, container.account_cache, container.api_code, container.jwt_secret
    )


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def body(model: type[M], limit: int = JSON_LIMIT) -> Any:
    """``payload: Annotated[Model, body(Model)]``: parsed after authentication."""
    return Depends(json_body(model, limit))


@contextmanager
def acting_as(principal: Principal) -> Iterator[None]:
    """Every command runs with who, from where and a correlation id for its events."""
    with command_context(principal.context()):
        yield


T = TypeVar("T")


def command(container: Container, principal: Principal, run: Callable[[], T]) -> T:
    """Run a command as the principal, then wait until the read models include it."""
    with acting_as(principal):
        result = run()
    container.wait_for(getattr(result, "position", None))
    return result
