"""A real webhook receiver on loopback: verifies every delivery with ``standardwebhooks``.

Each route (the URL path) has its secret(s) and a behaviour: answer 500 to the first
``fail_first`` attempts of each ``webhook-id``, never answer (``hang``: the request is
held until the receiver stops), or ``hold`` the first attempt until ``release`` (a
dispatcher can be killed meanwhile). Every attempt is logged with its verified payload.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass
class Route:
    secret: str = ""
    fail_first: int = 0
    hang: bool = False
    hold: bool = False


@dataclass(frozen=True)
class Received:
    path: str
    webhook_id: str
    payload: dict[str, Any] | None  # None: the signature did not verify
    status: int  # what the receiver answered (0: never answered)


@dataclass
class Receiver:
    url: str
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)  # set once one is held
    release: threading.Event = field(default_factory=threading.Event)
    hanging: int = 0  # requests held open now

    def route(self, path: str, **behaviour: Any) -> str:
        self.routes[path] = Route(**behaviour)
        return f"{self.url}/{path}"

    def accepted(self, path: str) -> Counter[str]:
        """Per webhook-id, how many deliveries to ``path`` were verified and answered 2xx."""
        with self.lock:
            return Counter(
                r.webhook_id
                for r in self.log
                if r.path == path and r.status == 200 and r.payload is not None
            )

    def attempts(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.log if r.path == path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        receiver = self.server.receiver
        path = self.path.strip("/")
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        route = receiver.routes.get(path)
        webhook_id = self.headers.get("webhook-id", "")
        payload = None
        if route is not None:
            try:
                payload = Webhook(route.secret).verify(body, dict(self.headers.items()))
            except Exception:
                payload = None
        if route is None or payload is None:
            self._answer(receiver, path, webhook_id, None, 401)
            return
        with receiver.lock:
            seen = sum(1 for r in receiver.log if r.webhook_id == webhook_id and r.path == path)
        if route.hang:
            with receiver.lock:
                receiver.hanging += 1
                receiver.log.append(Received(path, webhook_id, payload, 0))
            receiver.stopping.wait(120)
            with receiver.lock:
                receiver.hanging -= 1
            return
        if route.hold and seen == 0:
            receiver.held.set()
            receiver.release.wait(120)
            with receiver.lock:
                receiver.log.append(Received(path, webhook_id, payload, 0))
            return  # the sender is gone: nobody reads an answer
        status = 500 if seen < route.fail_first else 200
        self._answer(receiver, path, webhook_id, payload, status)

    def _answer(
        self, receiver: Receiver, path: str, webhook_id: str, payload: Any, status: int
    ) -> None:
        with receiver.lock:
            receiver.log.append(Received(path, webhook_id, payload, status))
        answer = json.dumps({"ok": status == 200}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    server = _Server(("127.0.0.1", 0), _Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    server.receiver = receiver
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stopping.set()
        receiver.release.set()
        server.shutdown()
        server.server_close()
