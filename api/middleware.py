"""Outermost ASGI middleware: request id, metrics, access log, and the last-resort error answer.

Anything no handler mapped becomes 503 "Service unavailable" (database unreachable) or
500 "Internal server error"; the log carries the request id and the trace, the body never.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from uuid import uuid4

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import INTERNAL, UNAVAILABLE, error_code_of, error_response
from api.metrics import Metrics
from api.observability import request_scope
from application.errors import is_database_unavailable

log = logging.getLogger("nudgescribe.api")
access = logging.getLogger("nudgescribe.access")


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid4().hex
        state: dict[str, Any] = {"status": 500, "started": False, "error_code": None}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"], state["started"] = message["status"], True
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        began = time.perf_counter()
        with request_scope(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                # The request id is in the text too, for logs read as plain lines.
                if is_database_unavailable(exc):
                    log.warning("request %s: database unavailable: %s", request_id, exc)
                    state["error_code"] = "service_unavailable"
                    response = error_response(503, UNAVAILABLE, "service_unavailable")
                else:
                    log.exception("request %s failed", request_id)
                    state["error_code"] = "internal_error"
                    response = error_response(500, INTERNAL, "internal_error")
                if not state["started"]:
                    await response(scope, receive, send_with_id)
            finally:
                self._record(scope, state, time.perf_counter() - began)

    def _record(self, scope: Scope, state: dict[str, Any], seconds: float) -> None:
        route = getattr(scope.get("route"), "path", "unmatched")
        method, status = scope.get("method", ""), state["status"]
        self.metrics.observe(method, route, status, seconds)
        if status >= 400:
            self.metrics.count_error(state["error_code"] or error_code_of(scope), status)
        access.info(
            "%s %s %s",
            method,
            scope.get("path", ""),
            status,
            extra={"route": route, "status": status, "duration_ms": round(seconds * 1000, 2)},
        )
