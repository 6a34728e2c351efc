"""Another account's campaign, group, message, job, field or customer is answered exactly
as one that does not exist."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from tests.api_client import Api, customers

pytestmark = pytest.mark.integration


@pytest.fixture
def owned(api: Api) -> dict[str, str]:
    """Account A's published campaign, its group, a message, a job and a field."""
    api.define_fields("plan", "region")
    campaign_id, group_id = api.published_campaign("iso")
    message = api.ok("/v1/campaign/rerun/messages", {"campaign_id": campaign_id})["data"][0]
    history = api.ok("/v1/campaign/rerun/history", {"campaign_id": campaign_id})["data"]
    field = api.ok("/v1/customer-fields/list", {})["data"][0]
    return {
        "campaign_id": campaign_id,
        "customer_group_id": group_id,
        "message_id": str(message["message_id"]),
        "job_uid": str(history[0]["job_uid"]),
        "field_id": str(field["field_id"]),
    }


def answer(api: Api, path: str, body: dict[str, Any]) -> tuple[int, str]:
    response = api.post(path, body)
    return response.status_code, response.json().get("message", "")


def foreign_and_missing(other: Api, path: str, body: dict[str, Any], key: str) -> None:
    """The foreign id and a random one get the same answer: 404 with the same message."""
    foreign = answer(other, path, body)
    missing = answer(other, path, {**body, key: str(uuid4())})
    assert foreign[0] == 404, (path, foreign)
    assert foreign == missing


CAMPAIGN_ENDPOINTS = [
    ("/v1/campaign/rerun/history", {}),
    ("/v1/campaign/rerun/messages", {}),
    ("/v1/campaign/rerun/messages", {"run_number": 1}),
    ("/v1/campaign/rerun/retry", {}),
    ("/v1/campaign/get", {}),
    ("/v1/campaign/messages/review", {"all": True, "decision": "approve"}),
    ("/v1/campaign/messages/publish", {}),
    ("/v1/campaign/messages/pages", {"page_size": 10}),
    ("/v1/campaign/messages/published", {}),
]


@pytest.mark.parametrize(("path", "extra"), CAMPAIGN_ENDPOINTS)
def test_foreign_campaign_is_not_found(
    other: Api, owned: dict[str, str], path: str, extra: dict[str, Any]
) -> None:
    body = {"campaign_id": owned["campaign_id"], **extra}
    foreign_and_missing(other, path, body, "campaign_id")


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/v1/campaign/messages/edit", {"content": "mine now"}),
        ("/v1/campaign/messages/regenerate", {}),
        ("/v1/campaign/messages/review", {"decision": "approve"}),
    ],
)
def test_foreign_message_is_not_found(
    other: Api, owned: dict[str, str], path: str, extra: dict[str, Any]
) -> None:
    body = {"campaign_id": owned["campaign_id"], "message_id": owned["message_id"], **extra}
    if path.endswith("review"):
        body["message_ids"] = [body.pop("message_id")]
    foreign_and_missing(other, path, body, "campaign_id")


def test_foreign_message_in_own_campaign_is_not_found(
    api: Api, other: Api, owned: dict[str, str]
) -> None:
    other.define_fields("plan", "region")
    own_campaign, _ = other.published_campaign("own")
    body = {"campaign_id": own_campaign, "message_id": owned["message_id"], "content": "x"}
    assert answer(other, "/v1/campaign/messages/edit", body) == (404, "Message not found")


def test_initiate_on_foreign_campaign_or_with_foreign_group_is_not_found(
    other: Api, owned: dict[str, str]
) -> None:
    other.define_fields("plan", "region")
    own_campaign, own_group = other.published_campaign("own")
    initiate = "/v1/campaign/rerun/initiate"

    body = {"campaign_id": owned["campaign_id"], "new_customer_group_id": own_group}
    foreign_and_missing(other, initiate, body, "campaign_id")
    body = {"campaign_id": own_campaign, "new_customer_group_id": owned["customer_group_id"]}
    foreign_and_missing(other, initiate, body, "new_customer_group_id")


def test_foreign_job_is_not_found(other: Api, owned: dict[str, str]) -> None:
    foreign_and_missing(other, "/v1/campaign/rerun/job", {"job_uid": owned["job_uid"]}, "job_uid")


@pytest.mark.parametrize(
    ("path", "extra"),
    [("/v1/customer-groups/update", {"name": "stolen"}), ("/v1/customer-groups/delete", {})],
)
def test_foreign_group_is_not_found(
    other: Api, owned: dict[str, str], path: str, extra: dict[str, Any]
) -> None:
    body = {"customer_group_id": owned["customer_group_id"], **extra}
    foreign_and_missing(other, path, body, "customer_group_id")


def test_campaign_create_with_foreign_group_is_not_found(other: Api, owned: dict[str, str]) -> None:
    other.define_fields("plan", "region")
    body = {
        "name": "x",
        "customer_group_id": owned["customer_group_id"],
        "segment_variables": ["plan"],
        "ai_config": {"provider": "template", "template": "Hi {{plan}}"},
    }
    foreign_and_missing(other, "/v1/campaign/create", body, "customer_group_id")


@pytest.mark.parametrize(
    ("path", "extra"),
    [("/v1/customer-fields/update", {"name": "stolen"}), ("/v1/customer-fields/delete", {})],
)
def test_foreign_field_is_not_found(
    other: Api, owned: dict[str, str], path: str, extra: dict[str, Any]
) -> None:
    foreign_and_missing(other, path, {"field_id": owned["field_id"], **extra}, "field_id")


def test_lists_show_only_the_own_account(api: Api, other: Api, owned: dict[str, str]) -> None:
    for path in (
        "/v1/campaign/list",
        "/v1/customer-groups/list",
        "/v1/customer-fields/list",
        "/v1/customers/list",
    ):
        listed = other.ok(path, {})
        assert listed["data"] == [], path
        assert listed["pagination"]["total"] == 0
    assert other.ok("/v1/customers/pages", {})["data"] == {"total": 0, "total_pages": 0}


def test_foreign_customers_can_be_neither_deleted_nor_grouped(
    api: Api, other: Api, owned: dict[str, str]
) -> None:
    theirs = [c["external_id"] for c in customers("iso", [("gold", "EU")])]

    deleted = other.ok("/v1/customers/delete", {"external_ids": theirs})["data"]
    grouped = other.ok("/v1/customer-groups/create", {"name": "g", "external_ids": theirs})

    assert deleted == {"deleted": 0}
    assert grouped["data"]["customer_count"] == 0
    assert api.ok("/v1/customers/pages", {})["data"]["total"] == 4
