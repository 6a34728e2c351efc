"""One upload is read at a time: a client that stops sending its body mid-way is refused
at the body timeout, and the uploads queued behind it go ahead."""

from __future__ import annotations

import json
import socket
import tempfile
import threading
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


def test_a_stalled_upload_body_is_408_and_the_next_upload_goes_ahead(server: Server) -> None:
    headers = api_headers(server)
    url = urlparse(server.url)
    stalled = socket.create_connection((url.hostname, url.port), timeout=30)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    stalled.sendall(
        b"POST /v1/customers/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
        + head.encode()
        + b'\r\n{"customers": [{"external_id": "c1", "fields": {}},'
    )
    # Sent while the stalled body holds the one upload slot: it waits for its turn.
    behind: list[httpx.Response] = []
    sender = threading.Thread(
        target=lambda: behind.append(
            httpx.post(
                server.url + "/v1/customers/upload",
                content=b'{"customers": [{"external_id": "c2", "fields": {}}]}',
                headers=headers,
                timeout=60,
            )
        )
    )
    sender.start()

    received = b""
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
    assert [r.status_code for r in behind] == [200], [r.text for r in behind]
    assert behind[0].json()["data"]["accepted"] == 1
