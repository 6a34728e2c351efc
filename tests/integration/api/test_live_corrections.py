"""Correcting a live campaign: a published message is edited or regenerated as a draft while
its published text stays live, and a rerun waits until the draft is published in its turn."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api_client import Api, customers, wait_until

pytestmark = pytest.mark.integration

RUN_MESSAGES = "/v1/campaign/rerun/messages"
PUBLISHED = "/v1/campaign/messages/published"
INITIATE = "/v1/campaign/rerun/initiate"
RERUN_REFUSED = "All campaign messages must be published before initiating a rerun"


def by_segment(page: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["segment"]["plan"], m["segment"]["region"]): m for m in page["data"]}


def live(api: Api, campaign_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    return by_segment(api.ok(PUBLISHED, {"campaign_id": campaign_id}))


def current(api: Api, campaign_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    return by_segment(api.ok(RUN_MESSAGES, {"campaign_id": campaign_id}))


@pytest.fixture
def campaign(api: Api) -> str:
    api.define_fields("plan", "region")
    campaign_id, _ = api.published_campaign("live")
    return campaign_id


def test_an_edited_published_message_is_a_draft_until_it_is_published(
    api: Api, campaign: str
) -> None:
    gold = current(api, campaign)["gold", "EU"]
    assert gold["published_content"] == gold["content"] == "Hi gold member in EU!"

    api.ok(
        "/v1/campaign/messages/edit",
        {"campaign_id": campaign, "message_id": gold["message_id"], "content": "Hi, gold!"},
    )

    draft = current(api, campaign)["gold", "EU"]
    assert (draft["content"], draft["status"]) == ("Hi, gold!", "Ready for review")
    assert draft["published_content"] == "Hi gold member in EU!"
    # Recipients still get the published text, and the campaign stays live.
    served = live(api, campaign)
    assert served["gold", "EU"]["content"] == "Hi gold member in EU!"
    assert served["gold", "EU"]["status"] == "Published"
    assert len(served) == 2
    assert api.campaign(campaign)["status"] == "Published"

    group = api.group("live-2", customers("live2", [("gold", "EU")]))
    refused = api.post(INITIATE, {"campaign_id": campaign, "new_customer_group_id": group})
    assert (refused.status_code, refused.json()["message"]) == (400, RERUN_REFUSED)

    api.approve_and_publish(campaign)
    assert live(api, campaign)["gold", "EU"]["content"] == "Hi, gold!"
    published = current(api, campaign)["gold", "EU"]
    assert (published["status"], published["published_content"]) == ("Published", "Hi, gold!")
    rerun = api.ok(INITIATE, {"campaign_id": campaign, "new_customer_group_id": group})["data"]
    assert rerun["run_number"] == 2
    # The matched segment keeps the corrected text.
    api.wait_for_job(str(rerun["job_uid"]))
    assert current(api, campaign)["gold", "EU"]["content"] == "Hi, gold!"


def test_a_regenerated_published_message_keeps_its_live_text_while_reviewed(
    api: Api, campaign: str
) -> None:
    silver = current(api, campaign)["silver", "EU"]
    api.ok(
        "/v1/campaign/messages/regenerate",
        {"campaign_id": campaign, "message_id": silver["message_id"]},
    )
    # The processor generates the draft; the published text is served meanwhile.
    draft = wait_until(
        lambda: current(api, campaign)["silver", "EU"],
        lambda m: m["status"] == "Ready for review" and m["origin"] == "generated",
        30.0,
    )
    assert draft["published_content"] == "Hi silver member in EU!"
    assert live(api, campaign)["silver", "EU"]["content"] == "Hi silver member in EU!"
    assert api.campaign(campaign)["status"] == "Published"

    # A rejected draft changes nothing live either.
    api.ok(
        "/v1/campaign/messages/review",
        {"campaign_id": campaign, "message_ids": [draft["message_id"]], "decision": "reject"},
    )
    assert current(api, campaign)["silver", "EU"]["status"] == "Rejected"
    assert live(api, campaign)["silver", "EU"]["content"] == "Hi silver member in EU!"
    history = api.ok("/v1/campaign/rerun/history", {"campaign_id": campaign})["data"]
    assert history[0]["status"] == "Published"
