"""POST /v1/campaign/get with as_of_run or as_of: the Campaign Object as it was then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.api_client import Api, customers

pytestmark = pytest.mark.integration

CAMPAIGN_KEYS = {
    "campaign_id",
    "name",
    "status",
    "current_run_number",
    "customer_group_id",
    "segment_variables",
    "ai_config",
    "message_counts",
    "created_at",
    "updated_at",
}


def get(api: Api, campaign_id: str, **extra: object):  # type: ignore[no-untyped-def]
    return api.post("/v1/campaign/get", {"campaign_id": campaign_id, **extra})


def published(api: Api, prefix: str) -> tuple[str, str]:
    api.define_fields("plan", "region")
    return api.published_campaign(prefix)


def rerun_once(api: Api, prefix: str) -> tuple[str, str, str, datetime]:
    """A published run 1, then run 2 (one new segment) processed but not reviewed.
    Returns (campaign, first group, second group, a moment between the two runs)."""
    campaign_id, first_group = published(api, prefix)
    between = datetime.now(UTC)
    second_group = api.group(
        f"{prefix}-2", customers(f"{prefix}-b", [("gold", "EU"), ("gold", "US")])
    )
    started = api.ok(
        "/v1/campaign/rerun/initiate",
        {"campaign_id": campaign_id, "new_customer_group_id": second_group},
    )["data"]
    api.wait_for_job(str(started["job_uid"]))
    return campaign_id, first_group, second_group, between


def test_as_of_run_answers_the_campaign_at_the_end_of_that_run(api: Api) -> None:
    campaign_id, first_group, second_group, _ = rerun_once(api, "tt-run")

    then = get(api, campaign_id, as_of_run=1)
    latest = get(api, campaign_id, as_of_run=2)

    assert then.status_code == 200, then.text
    run1 = then.json()["data"]
    assert set(run1) == CAMPAIGN_KEYS
    assert run1["status"] == "Published"
    assert run1["current_run_number"] == 1
    assert run1["customer_group_id"] == first_group
    assert run1["message_counts"] == {
        "Ready for review": 0,
        "Approved": 0,
        "Rejected": 0,
        "Published": 2,
        "Generation failed": 0,
    }
    assert latest.status_code == 200
    run2 = latest.json()["data"]
    now = api.campaign(campaign_id)
    assert run2["current_run_number"] == 2 == now["current_run_number"]
    assert run2["customer_group_id"] == second_group
    assert run2["status"] == now["status"] == "Ready for review"
    assert run2["message_counts"] == now["message_counts"]


def test_as_of_answers_the_campaign_at_that_moment(api: Api) -> None:
    campaign_id, first_group, _, between = rerun_once(api, "tt-at")

    then = get(api, campaign_id, as_of=between.isoformat())
    later = get(api, campaign_id, as_of=(datetime.now(UTC) + timedelta(hours=1)).isoformat())

    assert then.status_code == 200, then.text
    assert then.json()["data"]["current_run_number"] == 1
    assert then.json()["data"]["status"] == "Published"
    assert then.json()["data"]["customer_group_id"] == first_group
    assert later.json()["data"]["current_run_number"] == 2
    offset = between.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert get(api, campaign_id, as_of=offset).json()["data"]["current_run_number"] == 1


def test_unknown_run_is_not_found(api: Api) -> None:
    campaign_id, _ = published(api, "tt-unknown")

    response = get(api, campaign_id, as_of_run=2)

    assert response.status_code == 404
    assert response.json() == {"message": "Run not found", "code": "run_not_found"}


def test_a_moment_before_the_campaign_existed_is_not_found(api: Api) -> None:
    before = datetime.now(UTC) - timedelta(days=1)
    campaign_id, _ = published(api, "tt-before")

    response = get(api, campaign_id, as_of=before.isoformat())

    assert response.status_code == 404
    assert response.json()["message"] == "Campaign not found"


def test_another_accounts_campaign_is_not_found_at_any_time(api: Api, other: Api) -> None:
    campaign_id, _ = published(api, "tt-other")

    by_run = get(other, campaign_id, as_of_run=1)
    by_moment = get(other, campaign_id, as_of=datetime.now(UTC).isoformat())
    unknown = get(api, "3b0c1f4e-0000-4000-8000-000000000000", as_of_run=1)

    for response in (by_run, by_moment, unknown):
        assert response.status_code == 404
        assert response.json()["message"] == "Campaign not found"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"as_of_run": 1, "as_of": "2026-01-01T00:00:00Z"}, "as_of_run or as_of"),
        ({"as_of_run": 0}, "as_of_run"),
        ({"as_of_run": "1"}, "as_of_run"),
        ({"as_of": "2026-01-01T00:00:00"}, "as_of"),  # no timezone
        ({"as_of": "yesterday"}, "as_of"),
    ],
)
def test_bad_moments_are_rejected(api: Api, extra: dict[str, object], field: str) -> None:
    campaign_id, _ = published(api, f"tt-bad-{len(str(extra))}")

    response = get(api, campaign_id, **extra)

    assert response.status_code == 400, response.text
    assert field in response.json()["message"]
