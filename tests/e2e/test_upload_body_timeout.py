"""One large body (an upload, a group's membership lists) is read at a time: a client that
stops sending its body mid-way is refused at the body timeout, and the large bodies queued
behind it go ahead."""

from __future__ import annotations

import json
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from tests.api_client import auth_context
from tests.dbserver import throwaway_database
from tests.e2e.serving import Server, serve
from tests.fakes.processes import database_url

pytestmark = pytest.mark.e2e

BODY_TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(pg_server_url: str) -> Iterator[Server]:
    with (
        throwaway_database(pg_server_url, prefix="nudgescribe_body") as db,
        tempfile.TemporaryDirectory(prefix="nudgescribe-body-") as tmp,
    ):
        yield from serve(
            Path(tmp) / "data",
            DATABASE_URL=database_url(db),
            NUDGESCRIBE_BODY_TIMEOUT=str(BODY_TIMEOUT),
        )


def api_headers(server: Server) -> dict[str, str]:
    account = json.loads(server.cli("accounts", "create", "Slow", "--json"))
    token = server.cli("token", "--account-id", account["account_id"], "--user-id", "u").strip()
    api_code = (server.data_dir / "api_code").read_text().strip()
    return {
        "x-auth-context": auth_context(api_code),
        "x-ip": "10.0.0.1",
        "authorization": f"Bearer {token}",
        "content-type": "application/json",
    }


# (path, the start of a body that stalls), (path, a whole body queued behind it)
UPLOAD = ("/v1/customers/upload", b'{"customers": [{"external_id": "c1", "fields": {}},')
QUEUED_UPLOAD = ("/v1/customers/upload", b'{"customers": [{"external_id": "c2", "fields": {}}]}')
GROUP = ("/v1/customer-groups/create", b'{"name": "Slow", "external_ids": ["c1",')
QUEUED_GROUP = ("/v1/customer-groups/create", b'{"name": "Queued", "external_ids": ["c2"]}')


@pytest.mark.parametrize(
    ("stalled_body", "queued_body"),
    [(UPLOAD, QUEUED_UPLOAD), (UPLOAD, QUEUED_GROUP), (GROUP, QUEUED_UPLOAD)],
    ids=["upload-then-upload", "upload-then-group", "group-then-upload"],
)
def test_a_stalled_large_body_is_408_and_the_next_goes_ahead(
    server: Server, stalled_body: tuple[str, bytes], queued_body: tuple[str, bytes]
) -> None:
    headers = api_headers(server)
    url = urlparse(server.url)
    stalled = socket.create_connection((url.hostname, url.port), timeout=30)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    path, start = stalled_body
    stalled.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n".encode()
        + head.encode()
        + b"\r\n"
        + start
    )
    # Sent while the stalled body holds the one turn for large bodies: it waits for it.
    behind: list[tuple[httpx.Response, float]] = []
    queued_path, queued = queued_body

    def send_queued() -> None:
        answer = httpx.post(server.url + queued_path, content=queued, headers=headers, timeout=60)
        behind.append((answer, time.monotonic()))

    sender = threading.Thread(target=send_queued)
    sender.start()

    received = stalled.recv(65536)
    refused_at = time.monotonic()
    while chunk := stalled.recv(65536):
        received += chunk
    stalled.close()
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line.split()[1] == b"408", received
    assert json.loads(rest.partition(b"\r\n\r\n")[2]) == {
        "message": "Request body not received in time",
        "code": "request_timeout",
    }

    sender.join(timeout=60)
    assert [r.status_code for r, _ in behind] == [200], [r.text for r, _ in behind]
    response, answered_at = behind[0]
    assert answered_at > refused_at, "the queued body went ahead of the one holding the turn"
    answer = response.json()["data"]
    if queued_path == QUEUED_UPLOAD[0]:
        assert answer["accepted"] == 1
    else:
        assert answer["name"] == "Queued"
