"""One signed delivery attempt, and when the next one is due.

The URL is checked again (``urls``) and the request goes to the address checked, with
the host name kept for TLS (SNI, certificate) and ``Host``: a name that resolves
elsewhere after the check is never followed. No redirects; at most ``TIMEOUT_SECONDS``
for the whole attempt; at most ``MAX_RESPONSE_BYTES`` of the answer is read. A 2xx is
delivered; anything else is retried with exponential backoff and full jitter, or after
``Retry-After`` when the receiver asks for longer.
"""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from uuid import UUID

import httpx

from application.webhooks.errors import InvalidWebhook
from application.webhooks.outbox import Claimed, Result
from application.webhooks.signing import signed_headers
from application.webhooks.urls import check_addresses, check_shape, literal

TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 4096
MAX_BACKOFF_SECONDS = 3600.0
# A claimed row is due again after this (its dispatcher died): it may wait for one attempt
# to its endpoint to end (application.webhooks.slots), then take one itself.
LEASE_SECONDS = 2 * TIMEOUT_SECONDS + 5.0
CLIENTS_KEPT = 256
USER_AGENT = "Nudgescribe-Webhooks/1"


def next_attempt(
    attempts: int, retry_after: float | None, now: datetime, until: datetime, base: float
) -> datetime | None:
    """When attempt number ``attempts + 1`` (just failed) is followed by another, or None
    once the retry window is over. The last retry falls at the window's end."""
    if now >= until:
        return None
    delay = random.uniform(0.5, 1.0) * min(base * 2.0 ** min(attempts, 30), MAX_BACKOFF_SECONDS)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(now + timedelta(seconds=delay), until)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After``: seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


class Clients:
    """One HTTP client per endpoint. Pooled connections are keyed by the address connected
    to, so two names on one address must never share a TLS connection made for the
    other's name; and httpcore checks every idle connection of a pool on each request, so
    small pools (an endpoint's slots) cost less than one large one. The least recently
    used idle client is closed past the bound."""

    def __init__(self, connections: int, limit: int = CLIENTS_KEPT) -> None:
        # As many kept-alive connections as an endpoint has slots: none is closed and
        # opened again between two deliveries.
        self.limits = httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections
        )
        self.limit = limit
        self._clients: OrderedDict[UUID, tuple[httpx.AsyncClient, list[int]]] = OrderedDict()

    @asynccontextmanager
    async def use(self, key: UUID) -> AsyncIterator[httpx.AsyncClient]:
        if key not in self._clients:
            client = httpx.AsyncClient(
                follow_redirects=False,
                timeout=TIMEOUT_SECONDS,
                limits=self.limits,
                headers={"user-agent": USER_AGENT},
                trust_env=False,  # no proxy from the environment: the address is the checked one
            )
            self._clients[key] = (client, [0])
        self._clients.move_to_end(key)
        client, users = self._clients[key]
        users[0] += 1
        try:
            yield client
        finally:
            users[0] -= 1
            await self._trim()

    async def _trim(self) -> None:
        idle = [k for k, (_, users) in self._clients.items() if users[0] == 0]
        for key in idle[: max(0, len(self._clients) - self.limit)]:
            client, _ = self._clients.pop(key)
            await client.aclose()

    async def close(self) -> None:
        for client, _ in self._clients.values():
            await client.aclose()
        self._clients.clear()


async def send(
    clients: Clients, item: Claimed, *, allow_private: bool, backoff_seconds: float
) -> Result:
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    retry_after: str | None = None
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            host, port = check_shape(item.url, allow_private=allow_private)
            address = check_addresses(host, await _resolve(host, port), allow_private=allow_private)
            status, retry_after = await _post(clients, item, host, address)
        if not 200 <= status < 300:
            error = f"HTTP {status}" + (" (redirects are not followed)" if status < 400 else "")
    except InvalidWebhook as refused:
        error = refused.message
    except (TimeoutError, httpx.TimeoutException):
        error = f"timed out after {TIMEOUT_SECONDS:g} s"
    except OSError as failure:  # DNS failures are socket.gaierror, an OSError
        error = f"{type(failure).__name__}: {failure}"
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}"
    duration_ms = (time.monotonic() - started) * 1000
    now = datetime.now(UTC)
    delivered = error is None
    next_at = None
    if not delivered:
        wait = retry_after_seconds(retry_after, now)
        next_at = next_attempt(item.attempts, wait, now, item.retry_until, backoff_seconds)
    return Result(item.message_id, item.webhook_id, status, duration_ms, error, next_at, delivered)


async def _resolve(host: str, port: int) -> list[str]:
    """Every address of ``host``, looked up now (off the event loop); [] when none."""
    found = literal(host)
    if found is not None:
        return found
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _post(clients: Clients, item: Claimed, host: str, address: str) -> tuple[int, str | None]:
    url = httpx.URL(item.url)
    headers = signed_headers(item.secrets, item.message_id, datetime.now(UTC), item.body)
    headers["host"] = url.netloc.decode("ascii")
    # The name as sent (IDNA), for the certificate check and SNI.
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    async with clients.use(item.webhook_id) as client:
        request = client.build_request(
            "POST",
            url.copy_with(host=address),
            content=item.body.encode(),
            headers=headers,
            extensions=extensions,
        )
        response = await client.send(request, stream=True)
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= MAX_RESPONSE_BYTES:
                    break
        finally:
            await response.aclose()
    return response.status_code, response.headers.get("retry-after")
