"""The HTTP layer of a real ``nudgescribe serve`` against slow, oversized and malformed
requests: a request head must arrive within the header timeout and within its size
limits, and every refusal is the usual JSON error."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.dbserver import throwaway_database
from tests.e2e.serving import free_port
from tests.fakes.processes import ROOT, clean_env, database_url, wait_until

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 1.0
MAX_HEADER = 1024
MAX_HEAD = 4096


@dataclass(frozen=True)
class Served:
    port: int

    def connect(self) -> socket.socket:
        conn = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        conn.settimeout(30)
        return conn


@pytest.fixture(scope="module")
def served(pg_server_url: str) -> Iterator[Served]:
    with (
        throwaway_database(pg_server_url, prefix="nudgescribe_http") as db,
        tempfile.TemporaryDirectory(prefix="nudgescribe-http-") as data_dir,
        open(f"{data_dir}/serve.log", "wb") as log,
    ):
        port = free_port()
        env = clean_env(
            DATABASE_URL=database_url(db),
            NUDGESCRIBE_DATA_DIR=data_dir,
            NUDGESCRIBE_HEADER_TIMEOUT=str(HEADER_TIMEOUT),
            NUDGESCRIBE_MAX_HEADER_BYTES=str(MAX_HEADER),
            NUDGESCRIBE_MAX_HEADER_SECTION_BYTES=str(MAX_HEAD),
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--no-processor", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).is_success
            except httpx.HTTPError:
                return process.poll() is not None

        try:
            assert wait_until(healthy, timeout=120)
            assert process.poll() is None
            yield Served(port)
        finally:
            process.terminate()
            process.wait(timeout=60)


def read_until_closed(conn: socket.socket) -> bytes:
    received = b""
    try:
        while chunk := conn.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def answer(raw: bytes) -> tuple[int, dict[str, str], object]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.mark.parametrize(
    "sent",
    [
        b"",
        b"POST /v1/auth/authenticate HTTP/1.1\r\nHost: x\r\nx-ip: 10.0",
        b"GET /health HTTP/1.1\r\n",
    ],
)
def test_a_connection_that_never_completes_its_head_is_closed(served: Served, sent: bytes) -> None:
    with served.connect() as conn:
        began = time.monotonic()
        conn.sendall(sent)
        raw = read_until_closed(conn)
        took = time.monotonic() - began

    assert took < 3 * HEADER_TIMEOUT + 2  # a deadline on the server, not a speed assertion
    assert answer(raw) == (
        408,
        answer(raw)[1],
        {"message": "Request headers not received in time", "code": "request_timeout"},
    )


def test_a_head_sent_a_byte_at_a_time_is_closed_at_the_timeout_all_the_same(
    served: Served,
) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"x-slow: " + b"a" * 100
    with served.connect() as conn:
        began = time.monotonic()
        try:
            for byte in request:
                conn.sendall(bytes([byte]))
                time.sleep(0.1)
        except OSError:
            pass  # closed under us: what is wanted
        read_until_closed(conn)
        took = time.monotonic() - began

    assert took < 3 * HEADER_TIMEOUT + 2


def test_a_complete_request_within_the_limits_is_served_and_kept_alive(served: Served) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{served.port}") as client:
        first = client.get("/health", headers={"x-fill": "a" * (MAX_HEADER - 100)})
        time.sleep(HEADER_TIMEOUT * 1.5)  # idle between requests is the keep-alive's to bound
        second = client.get("/health")

    assert (first.status_code, second.status_code) == (200, 200)


TOO_LARGE = {
    "message": "Request header fields too large",
    "code": "request_header_fields_too_large",
}


@pytest.mark.parametrize(
    "head",
    [
        b"GET /health HTTP/1.1\r\nHost: x\r\nx-big: " + b"a" * MAX_HEADER + b"\r\n\r\n",
        b"GET /health HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"x-%d: %s\r\n" % (i, b"a" * 200) for i in range(MAX_HEAD // 200))
        + b"\r\n",
        b"GET /health?" + b"q" * MAX_HEAD + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
)
def test_a_header_or_a_head_over_its_limit_is_431(served: Served, head: bytes) -> None:
    assert len(head) < 3 * MAX_HEAD  # sent whole, read whole: the answer is not cut by a reset
    with served.connect() as conn:
        conn.sendall(head)
        status, headers, body = answer(read_until_closed(conn))

    assert (status, body) == (431, TOO_LARGE)
    assert headers["content-type"] == "application/json"


def test_a_huge_header_is_refused_without_being_read_whole(served: Served) -> None:
    with served.connect() as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nx-ip: ")
        sent = 0
        try:
            while sent < 8 << 20:
                conn.sendall(b"1" * 65536)
                sent += 65536
        except OSError:
            pass  # refused and closed: the server stopped reading
        raw = read_until_closed(conn)

    assert sent < 8 << 20
    assert raw == b"" or answer(raw)[0] == 431
    assert httpx.get(f"http://127.0.0.1:{served.port}/health").status_code == 200


def test_a_malformed_request_is_a_json_400(served: Served) -> None:
    with served.connect() as conn:
        conn.sendall(b"GARBAGE\x01 / HTTP/1.1\r\n\r\n")
        status, headers, body = answer(read_until_closed(conn))

    assert (status, body) == (
        400,
        {"message": "Invalid HTTP request", "code": "invalid_http_request"},
    )
    assert headers["content-type"] == "application/json"
