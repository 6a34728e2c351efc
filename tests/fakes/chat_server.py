"""A real OpenAI-compatible chat-completions server on loopback, for tests and benchmarks.

It answers ``POST /v1/chat/completions`` after a configurable latency, fails every k-th
call in a chosen way (429, 500, 503, 400, 401, a content-policy refusal, garbage, empty or
over-long content), can fail every call whose prompt contains a marker, can fail a random
share of calls with 503, can admit only ``rate`` calls a second (a token bucket: a call
above it is answered 429 with ``Retry-After`` and ``x-ratelimit-reset-requests``), and logs
every request (time, prompt, answer status).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "test-key"
FAILURES = ("429", "500", "503", "garbage", "empty", "long", "400", "401", "policy")
# What OpenAI answers a prompt its safety system refuses.
POLICY_REFUSAL = {
    "error": {
        "message": "Your request was rejected as a result of our safety system.",
        "type": "invalid_request_error",
        "param": None,
        "code": "content_policy_violation",
    }
}


@dataclass(frozen=True)
class LoggedRequest:
    at: float  # time.time() when the request arrived (before its latency)
    prompt: str  # the user message
    model: str
    status: str  # "ok" or the failure it was answered with


@dataclass
class ChatServerConfig:
    latency: float = 0.0
    fail_every: int = 0  # 0: never; k: every k-th call fails
    failure: str = "500"
    fail_marker: str | None = None  # prompts containing it always fail (with `failure`)
    random_503: float = 0.0  # share of admitted calls answered 503 at random
    failure_retry_after: str | None = None  # a Retry-After on the chosen failures' answers
    rate: float = 0.0  # 0: unlimited; R: a token bucket of R calls/s (burst: 1 s of calls)


@dataclass
class ChatServerState:
    config: ChatServerConfig
    log: list[LoggedRequest] = field(default_factory=list)
    calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: float = 0.0
    refilled_at: float = field(default_factory=time.monotonic)

    def take_token(self) -> float:
        """0 when the bucket admits the call, else seconds until it would (hold the lock)."""
        rate = self.config.rate
        now = time.monotonic()
        self.tokens = min(rate, self.tokens + (now - self.refilled_at) * rate)
        self.refilled_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / rate


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_POST(self) -> None:
        state = self.server.state
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send(404, {"error": "not found"})
        if self.headers.get("authorization") != f"Bearer {API_KEY}":
            return self._send(401, {"error": {"message": "bad key"}})
        prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
        arrived = time.time()
        config = state.config
        with state.lock:
            state.calls += 1
            number = state.calls
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            wait = state.take_token() if config.rate else 0.0
        try:
            if wait:
                state.log.append(LoggedRequest(arrived, prompt, body.get("model", ""), "429"))
                return self._send_limited(wait)
            if config.latency:
                time.sleep(config.latency)
            failing = (config.fail_every and number % config.fail_every == 0) or (
                config.fail_marker is not None and config.fail_marker in prompt
            )
            status = config.failure if failing else "ok"
            if status == "ok" and random.random() < config.random_503:
                status = "503"
            state.log.append(LoggedRequest(arrived, prompt, body.get("model", ""), status))
            self._answer(status, prompt, f"Dear customer (#{number}): {prompt}")
        finally:
            with state.lock:
                state.in_flight -= 1

    def _answer(self, status: str, prompt: str, content: str) -> None:
        if status in ("429", "500", "503", "400", "401"):
            wait = self.server.state.config.failure_retry_after
            headers = {"retry-after": wait} if wait is not None else None
            self._send(int(status), {"error": {"message": f"failing with {status}"}}, headers)
        elif status == "policy":
            self._send(400, POLICY_REFUSAL)
        elif status == "garbage":
            self._send_raw(200, b"<html>not json", "text/html")
        else:
            if status == "empty":
                content = ""
            elif status == "long":
                content = "x" * 5000
            choice = {"index": 0, "message": {"role": "assistant", "content": content}}
            self._send(200, {"choices": [choice], "usage": _usage(prompt, content)})

    def _send_limited(self, wait: float) -> None:
        """Over the rate: 429 with the wait as OpenAI states it (``retry-after`` in
        seconds, ``x-ratelimit-reset-requests`` as a duration such as ``20ms``)."""
        headers = {
            "retry-after": f"{wait:.3f}",
            "x-ratelimit-reset-requests": f"{max(1, round(wait * 1000))}ms",
        }
        self._send(429, {"error": {"message": "rate limit reached"}}, headers)

    def _send(
        self, code: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_raw(code, json.dumps(payload).encode(), "application/json", headers)

    def _send_raw(
        self, code: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        if code == 429 and headers is None:
            headers = {"retry-after": "0"}
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _usage(prompt: str, content: str) -> dict[str, int]:
    """Token counts as a provider reports them (here: words)."""
    prompt_tokens, completion_tokens = len(prompt.split()), len(content.split())
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, state: ChatServerState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that timed out and hung up is part of the tests


class ChatServer:
    def __init__(self, server: _Server) -> None:
        self._server = server

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def state(self) -> ChatServerState:
        return self._server.state

    @property
    def config(self) -> ChatServerConfig:
        return self._server.state.config

    @property
    def log(self) -> list[LoggedRequest]:
        return self._server.state.log


@contextmanager
def chat_server(**config: Any) -> Iterator[ChatServer]:
    server = _Server(ChatServerState(ChatServerConfig(**config)))
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-chat", daemon=True
    )
    thread.start()
    try:
        yield ChatServer(server)
    finally:
        server.shutdown()
        server.server_close()
