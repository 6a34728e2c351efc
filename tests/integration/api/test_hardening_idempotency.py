"""Idempotency-Key over HTTP, and concurrent initiates racing for one campaign."""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID, uuid4

import pytest

from api.container import Container
from application.idempotency import request_hash
from tests.api_client import TEMPLATE, Api, customers

pytestmark = pytest.mark.integration

INITIATE = "/v1/campaign/rerun/initiate"
CREATE = "/v1/campaign/create"


def container_of(api: Api) -> Container:
    container: Container = api.http.app.state.container  # type: ignore[attr-defined]
    return container


def runs(api: Api, campaign_id: str) -> list[int]:
    history = api.ok("/v1/campaign/rerun/history", {"campaign_id": campaign_id})["data"]
    return [h["run_number"] for h in history]


@pytest.fixture
def published(api: Api) -> tuple[str, str]:
    api.define_fields("plan", "region")
    return api.published_campaign(f"idem-{uuid4().hex[:6]}")


def keyed(key: str) -> dict[str, Any]:
    return {"headers": {"Idempotency-Key": key}}


# ------------------------------------------------------------------ Idempotency-Key
@pytest.mark.parametrize("variables", [["plan", "region"], ["region", "plan"]])
def test_same_key_and_body_replays_the_first_initiate_and_starts_nothing(
    api: Api, variables: list[str]
) -> None:
    api.define_fields("plan", "region")
    group_id = api.group(
        "idem-i", customers(f"idem-{uuid4().hex[:6]}", [("gold", "EU"), ("silver", "US")])
    )
    created = api.ok(
        CREATE,
        {
            "name": "Replay",
            "customer_group_id": group_id,
            "segment_variables": variables,
            "ai_config": TEMPLATE,
        },
    )["data"]
    campaign_id = str(created["campaign_id"])
    api.wait_for_job(str(created["job_uid"]))
    api.approve_and_publish(campaign_id)
    body = {"campaign_id": campaign_id, "new_customer_group_id": group_id}

    first = api.post(INITIATE, body, **keyed("rerun-1"))
    again = api.post(INITIATE, body, **keyed("rerun-1"))

    assert first.status_code == again.status_code == 200, again.text
    assert again.content == first.content
    assert runs(api, campaign_id) == [2, 1]


def test_same_key_and_body_replays_the_first_create(api: Api) -> None:
    api.define_fields("plan", "region")
    group_id = api.group("idem-c", [{"external_id": "c1", "fields": {"plan": "a", "region": "b"}}])
    body = {
        "name": "Once",
        "customer_group_id": group_id,
        "segment_variables": ["plan", "region"],
        "ai_config": TEMPLATE,
    }

    first = api.post(CREATE, body, **keyed("create-1"))
    again = api.post(CREATE, body, **keyed("create-1"))

    assert first.status_code == again.status_code == 200, again.text
    assert again.content == first.content
    listed = api.ok("/v1/campaign/list", {})["data"]
    assert [c["campaign_id"] for c in listed] == [first.json()["data"]["campaign_id"]]


def test_same_key_with_another_body_is_422(api: Api, published: tuple[str, str]) -> None:
    campaign_id, group_id = published
    api.ok(INITIATE, {"campaign_id": campaign_id, "new_customer_group_id": group_id}, **keyed("k"))
    other_group = api.group(
        "idem-o", [{"external_id": "o1", "fields": {"plan": "z", "region": "y"}}]
    )

    response = api.post(
        INITIATE, {"campaign_id": campaign_id, "new_customer_group_id": other_group}, **keyed("k")
    )

    assert response.status_code == 422
    assert response.json()["message"] == "Idempotency-Key was already used with a different request"
    assert runs(api, campaign_id) == [2, 1]


def test_request_still_in_flight_with_the_key_is_409(api: Api, published: tuple[str, str]) -> None:
    campaign_id, group_id = published
    idempotency = container_of(api).commands.idempotency
    fingerprint = request_hash(
        "campaign.rerun.initiate",
        campaign_id=UUID(campaign_id),
        new_customer_group_id=UUID(group_id),
    )
    claim = idempotency.claim(api.account_id, "busy", fingerprint)  # as a request in progress
    body = {"campaign_id": campaign_id, "new_customer_group_id": group_id}

    response = api.post(INITIATE, body, **keyed("busy"))

    assert response.status_code == 409
    assert response.json()["message"] == "A request with this Idempotency-Key is still in progress"
    assert runs(api, campaign_id) == [1]
    idempotency.release(claim)  # the first request failed: the key may be used again
    assert api.post(INITIATE, body, **keyed("busy")).status_code == 200


def test_keys_are_scoped_per_account(api: Api, other: Api, published: tuple[str, str]) -> None:
    other.define_fields("plan", "region")
    their_campaign, their_group = other.published_campaign(f"idem-b-{uuid4().hex[:6]}")
    campaign_id, group_id = published

    mine = api.post(
        INITIATE, {"campaign_id": campaign_id, "new_customer_group_id": group_id}, **keyed("shared")
    )
    theirs = other.post(
        INITIATE,
        {"campaign_id": their_campaign, "new_customer_group_id": their_group},
        **keyed("shared"),
    )

    assert (mine.status_code, theirs.status_code) == (200, 200), theirs.text
    assert theirs.json()["data"]["campaign_id"] == their_campaign
    assert runs(api, campaign_id) == runs(other, their_campaign) == [2, 1]


def test_failed_command_frees_its_key(api: Api) -> None:
    body = {"campaign_id": str(uuid4()), "new_customer_group_id": str(uuid4())}
    assert api.post(INITIATE, body, **keyed("missing")).status_code == 404
    assert api.post(INITIATE, body, **keyed("missing")).status_code == 404  # not 409


def test_over_long_key_is_400(api: Api, published: tuple[str, str]) -> None:
    body = {"campaign_id": published[0], "new_customer_group_id": published[1]}
    response = api.post(INITIATE, body, **keyed("k" * 256))
    assert response.status_code == 400
    assert runs(api, published[0]) == [1]


# ------------------------------------------------------------------ races
@pytest.mark.parametrize("keys", [False, True])
def test_concurrent_initiates_start_exactly_one_run(
    api: Api, published: tuple[str, str], keys: bool
) -> None:
    campaign_id, group_id = published
    body = {"campaign_id": campaign_id, "new_customer_group_id": group_id}
    answers: list[tuple[int, str]] = []
    barrier = threading.Barrier(8)

    def initiate(index: int) -> None:
        extra = keyed(f"race-{index}") if keys else {}
        barrier.wait()
        response = api.post(INITIATE, body, **extra)
        answers.append((response.status_code, response.json().get("message", "")))

    threads = [threading.Thread(target=initiate, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(status for status, _ in answers).count(200) == 1, answers
    for status, message in answers:
        assert (status, message) in {
            (200, ""),
            (400, "Only Published campaigns can be rerun"),
            (409, "Campaign was modified concurrently, retry"),
        }, answers
    assert runs(api, campaign_id) == [2, 1]
