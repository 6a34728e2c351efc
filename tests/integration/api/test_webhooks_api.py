"""The webhook endpoints over HTTP: the life of an endpoint, the URL and event rules, and
another account's webhook answered exactly as one that does not exist."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from standardwebhooks.webhooks import Webhook

from tests.api_client import Api

pytestmark = pytest.mark.integration

PUBLIC = "https://93.184.215.14/hooks/nudgescribe"  # a public address: no DNS lookup needed


def create(api: Api, **body: Any) -> dict[str, Any]:
    created: dict[str, Any] = api.ok(
        "/v1/webhooks/create", {"url": PUBLIC, "events": ["run.completed"], **body}
    )["data"]
    return created


def test_an_endpoint_from_create_to_delete(api: Api) -> None:
    created = create(api, description="CRM sync", events=["run.completed", "run.failed"])
    webhook_id = created["webhook_id"]
    assert created["secret"].startswith("whsec_")
    Webhook(created["secret"])  # a secret the receivers' library takes
    assert created["events"] == ["run.completed", "run.failed"]
    assert created["enabled"] is True

    listed = api.ok("/v1/webhooks/list", {})
    assert [w["webhook_id"] for w in listed["data"]] == [webhook_id]
    assert "secret" not in listed["data"][0]
    assert listed["pagination"]["total"] == 1

    updated = api.ok(
        "/v1/webhooks/update",
        {"webhook_id": webhook_id, "events": ["campaign.published"], "enabled": False},
    )["data"]
    assert updated["events"] == ["campaign.published"]
    assert updated["enabled"] is False
    assert updated["description"] == "CRM sync"
    refused = api.post("/v1/webhooks/test", {"webhook_id": webhook_id})
    assert refused.status_code == 400
    api.ok("/v1/webhooks/update", {"webhook_id": webhook_id, "enabled": True})

    rotated = api.ok("/v1/webhooks/rotate-secret", {"webhook_id": webhook_id})["data"]
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]

    ping = api.ok("/v1/webhooks/test", {"webhook_id": webhook_id})["data"]
    assert ping["message_id"].startswith("msg_")
    # No dispatcher runs here: the ping waits in the outbox, with no attempt yet.
    attempts = api.ok("/v1/webhooks/deliveries", {"webhook_id": webhook_id})
    assert attempts["data"] == []
    api.ok("/v1/webhooks/redeliver", {"webhook_id": webhook_id, "message_id": ping["message_id"]})
    missing = api.post("/v1/webhooks/redeliver", {"webhook_id": webhook_id, "message_id": "msg_x"})
    assert missing.status_code == 404
    assert missing.json()["code"] == "delivery_not_found"

    assert api.ok("/v1/webhooks/delete", {"webhook_id": webhook_id})["data"]["deleted"] is True
    assert api.ok("/v1/webhooks/list", {})["data"] == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"url": "http://93.184.215.14/hook"}, "https"),
        ({"url": "https://127.0.0.1/hook"}, "non-public"),
        ({"url": "https://10.1.2.3/hook"}, "non-public"),
        ({"url": "https://169.254.169.254/latest/meta-data"}, "non-public"),
        ({"url": "https://[::1]/hook"}, "non-public"),
        ({"url": "https://localhost/hook"}, "non-public"),
        ({"url": "https://user:pw@93.184.215.14/hook"}, "credentials"),
        ({"url": "ftp://93.184.215.14/"}, "https"),
        ({"url": "not a url"}, "https"),
        ({"events": ["run.exploded"]}, "unknown run.exploded"),
        ({"events": []}, ""),
    ],
)
def test_refused_urls_and_events_are_400(api: Api, body: dict[str, Any], fragment: str) -> None:
    response = api.post("/v1/webhooks/create", {"url": PUBLIC, "events": ["run.failed"], **body})
    assert response.status_code == 400, response.text
    assert fragment in response.json()["message"]


def test_an_update_to_a_private_url_is_refused(api: Api) -> None:
    webhook_id = create(api)["webhook_id"]
    response = api.post(
        "/v1/webhooks/update", {"webhook_id": webhook_id, "url": "https://192.168.1.1/"}
    )
    assert response.status_code == 400
    assert api.ok("/v1/webhooks/list", {})["data"][0]["url"] == PUBLIC


FOREIGN = [
    ("/v1/webhooks/update", {"enabled": False}),
    ("/v1/webhooks/delete", {}),
    ("/v1/webhooks/rotate-secret", {}),
    ("/v1/webhooks/test", {}),
    ("/v1/webhooks/deliveries", {}),
    ("/v1/webhooks/redeliver", {"message_id": "msg_anything"}),
]


@pytest.mark.parametrize(("path", "extra"), FOREIGN)
def test_a_foreign_webhook_is_not_found(
    api: Api, other: Api, path: str, extra: dict[str, Any]
) -> None:
    webhook_id = create(api)["webhook_id"]
    foreign = other.post(path, {"webhook_id": webhook_id, **extra})
    missing = other.post(path, {"webhook_id": str(uuid4()), **extra})
    assert foreign.status_code == 404, foreign.text
    assert (
        foreign.json()
        == missing.json()
        == {
            "message": "Webhook not found",
            "code": "webhook_not_found",
        }
    )
    assert other.ok("/v1/webhooks/list", {})["data"] == []
    # The owner's endpoint is untouched.
    assert api.ok("/v1/webhooks/list", {})["data"][0]["enabled"] is True


def test_an_account_has_at_most_twenty_webhooks(api: Api) -> None:
    for _ in range(20):
        create(api)
    refused = api.post("/v1/webhooks/create", {"url": PUBLIC, "events": ["run.failed"]})
    assert refused.status_code == 400
    assert refused.json() == {
        "message": "an account has at most 20 webhooks",
        "code": "invalid_webhook",
    }
