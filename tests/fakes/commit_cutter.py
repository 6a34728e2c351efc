"""A loopback TCP proxy to a PostgreSQL unix socket that can cut a connection at COMMIT.

Armed ``after``: the COMMIT reaches the server (the transaction commits), its answer is
dropped and the connection closed, so the client cannot know whether it committed.
Armed ``before``: the COMMIT is dropped and the connection closed (the server rolls back).
Each arming cuts one COMMIT.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class CommitCutter:
    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.mode: str | None = None
        self.cuts = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="commit-cutter").start()

    def arm(self, mode: str) -> None:
        assert mode in ("before", "after")
        with self._lock:
            self.mode = mode

    def close(self) -> None:
        self.listener.close()

    def _take(self) -> str | None:
        with self._lock:
            mode, self.mode = self.mode, None
            if mode:
                self.cuts += 1
            return mode

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.socket_path)
            cut = threading.Event()
            threading.Thread(
                target=self._to_server, args=(client, upstream, cut), daemon=True
            ).start()
            threading.Thread(
                target=self._to_client, args=(upstream, client, cut), daemon=True
            ).start()

    def _to_server(
        self, client: socket.socket, upstream: socket.socket, cut: threading.Event
    ) -> None:
        while data := _recv(client):
            is_commit = data[:1] == b"Q" and b"COMMIT" in data.upper()
            mode = self._take() if is_commit and self.mode else None
            if mode == "before":
                break
            if mode == "after":
                cut.set()  # the client already read every earlier answer (no pipelining)
            upstream.sendall(data)
        _close(client, upstream)

    def _to_client(
        self, upstream: socket.socket, client: socket.socket, cut: threading.Event
    ) -> None:
        while (data := _recv(upstream)) and not cut.is_set():
            client.sendall(data)
        _close(client, upstream)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@contextmanager
def commit_cutter(socket_path: str) -> Iterator[CommitCutter]:
    cutter = CommitCutter(socket_path)
    try:
        yield cutter
    finally:
        cutter.close()
