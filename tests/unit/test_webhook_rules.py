"""The webhooks' rules without a database: which URLs may be called, when a failed
delivery is tried again, the signature receivers verify, the stable webhook-id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from application.webhooks.errors import InvalidWebhook
from application.webhooks.follower import message_id
from application.webhooks.outbox import Claimed
from application.webhooks.sender import (
    MAX_BACKOFF_SECONDS,
    next_attempt,
    retry_after_seconds,
)
from application.webhooks.signing import new_secret, signed_headers
from application.webhooks.slots import Slots
from application.webhooks.urls import check_addresses, check_shape, check_url

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
DAY = NOW + timedelta(days=1)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.0.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "::1", "fe80::1", "fd00:ec2::254", "::ffff:127.0.0.1", "224.0.0.1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(InvalidWebhook, match="non-public"):
        check_addresses("example.com", ["93.184.215.14", address], allow_private=False)
    assert check_addresses("h", [address], allow_private=True) == address


def test_a_public_address_is_the_one_connected_to() -> None:
    assert check_addresses("h", ["93.184.215.14"], allow_private=False) == "93.184.215.14"
    assert check_url("https://93.184.215.14:8443/x", allow_private=False).port == 8443


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://example.com/hook", "https"),
        ("ftp://example.com/", "https"),
        ("https:///nohost", "no host"),
        ("https://u:p@example.com/", "credentials"),
        ("https://example.com/#frag", "fragment"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://example.com/" + "a" * 2000, "longer"),
    ],
)
def test_malformed_urls_are_refused(url: str, fragment: str) -> None:
    with pytest.raises(InvalidWebhook, match=fragment):
        check_shape(url, allow_private=False)


def test_allow_private_also_allows_http() -> None:
    assert check_shape("http://127.0.0.1:8080/h", allow_private=True) == ("127.0.0.1", 8080)


def test_an_unresolvable_host_is_refused() -> None:
    with pytest.raises(InvalidWebhook, match="does not resolve"):
        check_url("https://no-such-host.invalid/", allow_private=False)


def test_backoff_doubles_with_jitter_and_ends_with_the_window() -> None:
    for attempts in range(12):
        delay = (next_attempt(attempts, None, NOW, DAY, 5.0) - NOW).total_seconds()  # type: ignore[operator]
        full = min(5.0 * 2**attempts, MAX_BACKOFF_SECONDS)
        assert full / 2 <= delay <= full
    almost = DAY - timedelta(seconds=1)
    assert next_attempt(20, None, almost, DAY, 5.0) == DAY  # the last try at the window's end
    assert next_attempt(20, None, DAY, DAY, 5.0) is None  # then given up


def test_retry_after_is_honoured_when_longer() -> None:
    assert next_attempt(0, 120.0, NOW, DAY, 5.0) == NOW + timedelta(seconds=120)
    assert retry_after_seconds("30", NOW) == 30.0
    assert retry_after_seconds("Fri, 04 Dec 2026 12:01:00 GMT", NOW) == 60.0
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None


def test_receivers_verify_with_either_secret_during_a_rotation() -> None:
    old, new = new_secret(), new_secret()
    assert old.startswith("whsec_")
    body = '{"type":"ping"}'
    headers = signed_headers([new, old], "msg_1", datetime.now(UTC), body)
    assert headers["webhook-signature"].count("v1,") == 2
    for secret in (old, new):
        assert Webhook(secret).verify(body, headers) == {"type": "ping"}
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body + " ", headers)


def test_the_webhook_id_is_stable_per_endpoint_and_event() -> None:
    one, two = uuid4(), uuid4()
    assert message_id(one, 7) == message_id(one, 7)
    assert len({message_id(one, 7), message_id(one, 8), message_id(two, 7)}) == 3


def claimed(webhook_id: UUID, n: int) -> list[Claimed]:
    return [
        Claimed(f"msg_{webhook_id.hex[:4]}_{i}", webhook_id, "ping", "{}", 0, "https://h/", (), DAY)
        for i in range(n)
    ]


def test_slots_cap_each_endpoint_and_the_total_and_refill_at_once() -> None:
    started: list[Claimed] = []
    slots = Slots(total=3, per_endpoint=2, start=started.append)
    slow, fast = uuid4(), uuid4()
    assert slots.claimable() == (6, 4)
    slots.add(claimed(slow, 4) + claimed(fast, 2))
    assert [s.webhook_id for s in started] == [slow, slow, fast]  # 2 per endpoint, 3 in all
    assert slots.held() == {slow: 4, fast: 2}
    assert slots.claimable() == (0, 4)
    slots.done(fast)  # the freed slot goes to fast's next, not to slow's waiting third
    assert [s.webhook_id for s in started[3:]] == [fast]
    slots.done(fast)
    assert [s.webhook_id for s in started[4:]] == []  # slow is at its own cap
    slots.done(slow)
    assert [s.webhook_id for s in started[4:]] == [slow]
    assert slots.held() == {slow: 3}  # fast has nothing left
