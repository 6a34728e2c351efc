"""uvicorn's httptools protocol with bounds on the request head, for ``nudgescribe serve``.

* A head must arrive whole within ``head_timeout`` seconds of its first byte (of the
  connection, for a new one), else 408 and the connection is closed: a client that sends
  half a request, or one byte at a time, holds a connection that long and no longer.
  The idle time between requests of a kept-alive connection is uvicorn's keep-alive
  timeout, and a request's body is the app's to read.
* Each header (name and value) is at most ``max_header`` bytes, and the head (request
  line and headers) at most ``max_head`` bytes, else 431; the bytes of an unfinished
  head are counted as they arrive, so an endless header is refused, never buffered.
* A request the parser cannot read is a 400, in the same JSON error shape as the app's.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

log = logging.getLogger("nudgescribe.api")


@dataclass(frozen=True)
class HeadLimits:
    head_timeout: float
    max_header: int
    max_head: int


class HeadTooLarge(Exception):
    """Raised inside a parser callback: the parser stops and reports a callback error."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HeadLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self.in_head = True  # the next bytes belong to a request head
        self.head_bytes = 0  # of the unfinished head, as received
        self.parsed_bytes = 0  # of the head, as the parser hands it over
        self.refusal: tuple[int, str, str] | None = None
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.in_head:
            self.head_bytes += len(data)
        super().data_received(data)
        if self.in_head and self.head_bytes > self.limits.max_head:
            self._refuse(*_TOO_LARGE)

    # Parser callbacks
    def on_message_begin(self) -> None:
        self.parsed_bytes = 0
        self._start_head_timer()
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value)
        if size > self.limits.max_header:
            self._too_large()
        self._count(size + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        self.in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.in_head, self.head_bytes = True, 0
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to any parser error, a refusal from a callback included."""
        self._refuse(*(self.refusal or (400, "Invalid HTTP request", "invalid_http_request")))

    # Bounds
    def _count(self, size: int) -> None:
        self.parsed_bytes += size
        if self.parsed_bytes > self.limits.max_head:
            self._too_large()

    def _too_large(self) -> None:
        self.refusal = _TOO_LARGE
        raise HeadTooLarge

    def _start_head_timer(self) -> None:
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        self._refuse(408, "Request headers not received in time", "request_timeout")

    def _refuse(self, status: int, message: str, code: str) -> None:
        """Answer ``status`` in the app's error shape and close the connection."""
        self._stop_head_timer()
        if self.transport.is_closing():
            return
        if status != 408:
            log.warning("request refused before the app: %s %s", status, message)
        body = orjson.dumps({"message": message, "code": code})
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()


_TOO_LARGE = (431, "Request header fields too large", "request_header_fields_too_large")
