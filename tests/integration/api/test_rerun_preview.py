"""POST /v1/campaign/rerun/preview: what initiate would answer now, without writing."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from tests.api_client import Api, customers

pytestmark = pytest.mark.integration

PREVIEW = "/v1/campaign/rerun/preview"
INITIATE = "/v1/campaign/rerun/initiate"


def without_run_facts(started: dict[str, Any]) -> dict[str, Any]:
    """An initiate answer without what only a started run has (its job, time, status)."""
    return {k: v for k, v in started.items() if k not in ("job_uid", "status", "started_at")}


def test_preview_answers_what_initiate_then_answers_and_writes_nothing(api: Api) -> None:
    api.define_fields("plan", "region")
    campaign_id, _ = api.published_campaign("pv")
    second = api.group("pv-2", customers("pv2", [("gold", "EU"), ("bronze", "US")], each=3))
    body = {"campaign_id": campaign_id, "new_customer_group_id": second}
    history_before = api.ok("/v1/campaign/rerun/history", {"campaign_id": campaign_id})

    preview = api.ok(PREVIEW, body)["data"]

    assert preview["expected_campaign_status"] == "Ready for review"
    assert [s["segment"] for s in preview["comparison"]["orphaned"]["segments"]] == [
        {"plan": "silver", "region": "EU"}
    ]
    assert api.ok("/v1/campaign/rerun/history", {"campaign_id": campaign_id}) == history_before
    assert api.campaign(campaign_id)["status"] == "Published"
    started = api.ok(INITIATE, body)["data"]
    assert preview == without_run_facts(started)


def test_preview_of_a_campaign_under_review_needs_no_publish(api: Api) -> None:
    api.define_fields("plan", "region")
    first = api.group("rv-1", customers("rv", [("gold", "EU")]))
    campaign_id = str(api.create_campaign(first)["campaign_id"])
    same = api.group("rv-2", customers("rv2", [("gold", "EU")]))
    body = {"campaign_id": campaign_id, "new_customer_group_id": same}

    preview = api.ok(PREVIEW, body)["data"]

    assert preview["expected_campaign_status"] == "Ready to publish"
    assert preview["comparison"]["matched"]["count"] == 1
    assert preview["comparison"]["new"]["count"] == 0
    refused = api.post(INITIATE, body)
    assert refused.status_code == 400
    assert refused.json()["message"] == "Only Published campaigns can be rerun"


def test_preview_refuses_like_initiate(api: Api, other: Api) -> None:
    api.define_fields("plan", "region")
    campaign_id, group_id = api.published_campaign("nf")
    missing_group = str(uuid4())
    cases = [
        ({"campaign_id": str(uuid4()), "new_customer_group_id": group_id}, "Campaign not found"),
        (
            {"campaign_id": campaign_id, "new_customer_group_id": missing_group},
            "Customer group not found",
        ),
        ({"campaign_id": "not-a-uuid", "new_customer_group_id": group_id}, "Campaign not found"),
    ]
    for body, message in cases:
        for path in (PREVIEW, INITIATE):
            answer = api.post(path, body)
            assert (answer.status_code, answer.json()["message"]) == (404, message), path
    foreign = other.post(PREVIEW, {"campaign_id": campaign_id, "new_customer_group_id": group_id})
    assert (foreign.status_code, foreign.json()["message"]) == (404, "Campaign not found")
    missing = api.post(PREVIEW, {"campaign_id": campaign_id})
    assert (missing.status_code, missing.json()["message"]) == (401, "Missing required fields")
    no_token = api.http.post(
        PREVIEW,
        json={"campaign_id": campaign_id, "new_customer_group_id": group_id},
        headers={k: v for k, v in api.headers().items() if k != "authorization"},
    )
    assert (no_token.status_code, no_token.json()["message"]) == (403, "auth error")
