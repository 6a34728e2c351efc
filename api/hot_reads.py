"""A fast path for the two hot reads: POST /v1/campaign/rerun/history and /messages.

FastAPI matches each request against the routes of every included router in turn and
solves the dependency graph per request; for these reads that cost more CPU than the
query (profiled: about 60 % of a history request). This ASGI middleware, inside
``RequestMiddleware`` (request id, metrics, access log), answers exactly those two paths
by calling what their routes call: ``authenticate_request``, ``JsonBody`` and the route's
answer function (``api.routers.reruns``).

Only a plain success is answered here. A refusal (a header or token refused, a bad or
oversized body, a missing campaign or run) or an account not yet in memory goes to the
full FastAPI pipeline with the body replayed, so every error answer, its status, message
and order, keeps its one implementation. Any other failure (the database gone, a bug)
propagates as it would from the route, to ``RequestMiddleware``'s 503/500: retrying it
through the pipeline would only double the wait of a request the database cannot answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import AccountNotCached, Principal, authenticate_request
from api.body import JSON_LIMIT, JsonBody
from api.errors import ApiError
from api.models.campaigns import CampaignRef, RunMessages
from api.routers.reruns import history_answer, messages_answer
from domain.errors import DomainError

Answer = Callable[[Any, Principal, Any], Awaitable[bytes]]

HOT: dict[str, tuple[type[BaseModel], Answer]] = {
    "/v1/campaign/rerun/history": (CampaignRef, history_answer),
    "/v1/campaign/rerun/messages": (RunMessages, messages_answer),
}


class HotReads:
    def __init__(self, app: ASGIApp, routes: dict[str, Any]) -> None:
        self.app = app
        self.routes = routes  # path -> its APIRoute, for the metrics' route label
        self.bodies = {path: JsonBody(model) for path, (model, _) in HOT.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hot = HOT.get(scope["path"]) if scope["type"] == "http" else None
        if hot is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        received, complete = await read_body(receive, JSON_LIMIT)
        answer = None
        if complete:
            try:
                answer = await self.answer(scope, replay(received, None), hot[1])
            except (ApiError, DomainError, AccountNotCached):
                answer = None  # answered by the full pipeline, through its error handlers
        if answer is None:
            await self.app(scope, replay(received, receive), send)
            return
        scope["route"] = self.routes.get(scope["path"])
        await Response(answer, media_type="application/json")(scope, receive, send)

    async def answer(self, scope: Scope, receive: Receive, answer: Answer) -> bytes:
        request = Request(scope, receive)
        state = scope["app"].state
        container = state.container
        principal = authenticate_request(
            request,
            container.account_cache.cached,
            container.api_code,
            container.jwt_secret,
            container.verified_tokens,
        )
        payload = await self.bodies[scope["path"]](request)
        return await answer(state.pages, principal, payload)


async def read_body(receive: Receive, limit: int) -> tuple[list[Message], bool]:
    """The request's messages until its body ends (True) or passes ``limit`` (False)."""
    received: list[Message] = []
    size = 0
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            return received, False
        size += len(message.get("body", b""))
        if size > limit:
            return received, False
        if not message.get("more_body", False):
            return received, True


def replay(received: list[Message], then: Receive | None) -> Receive:
    """A ``receive`` that gives ``received`` again, then (if any) the rest from ``then``."""
    pending = list(received)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive
