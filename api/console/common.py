"""What every console route shares: the signed-in user, checked forms, and running an
action through the API's own command path with its refusal shown as a notice."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Request
from pydantic import ValidationError
from starlette.responses import Response

from api.auth import Principal
from api.console.forms import Form, FormTooLarge, read_form
from api.console.pages import redirect
from api.console.session import csrf_ok, csrf_token, principal_of, same_origin
from api.container import Container
from api.errors import ApiError
from api.gate import Gate
from domain.errors import DomainError

BASE = "/console"


async def console_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ConsoleContainer = Annotated[Container, Depends(console_container)]


async def console_gate(request: Request) -> Gate:
    gate: Gate = request.app.state.gate
    return gate


ConsoleGate = Annotated[Gate, Depends(console_gate)]


async def signed_in(request: Request, container: ConsoleContainer) -> Principal:
    return await principal_of(request, container)


SignedIn = Annotated[Principal, Depends(signed_in)]


class FormRefused(Exception):
    """A state-changing form without this session's CSRF token, or from another site."""


async def session_form(request: Request, container: ConsoleContainer) -> Form:
    """The form of a signed-in user's action: refused unless it carries the session's
    CSRF token and (when the browser names one) comes from this origin."""
    try:
        form = await read_form(request)
    except FormTooLarge:
        raise FormRefused from None
    if not same_origin(request) or not csrf_ok(csrf_token(request, container), form.get("csrf")):
        raise FormRefused
    return form


SessionForm = Annotated[Form, Depends(session_form)]


def url(path: str, **query: object) -> str:
    shown = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{BASE}{path}" + (f"?{urlencode(shown)}" if shown else "")


def refusal(error: Exception) -> str:
    """The words a person reads for a refused action: the API's own message."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    if isinstance(error, ApiError | DomainError):
        return str(error.message)
    return str(error)


async def act(request: Request, back: str, action: Callable[[], Awaitable[str]]) -> Response:
    """Run ``action`` (it answers the notice of its success), then back to ``back``; a
    refusal (the API's 4xx) is shown there instead."""
    try:
        done = await action()
    except (ValidationError, ApiError, DomainError) as error:
        return redirect(request, back, error=refusal(error))
    return redirect(request, back, ok=done)
