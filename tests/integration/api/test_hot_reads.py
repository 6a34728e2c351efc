"""The hot reads (run history, run messages): their answers are the read models' rows as
JSON (timestamps, escapes and numbers as the other routes write them), and their refusals,
metrics, account lookup and token rules are those of every route."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.auth import AccountNotCached
from api.container import Container
from api.responses import OPTIONS
from projections.queries import ReadModels
from tests.api_client import Api, wait_until

pytestmark = pytest.mark.integration

HISTORY = "/v1/campaign/rerun/history"
MESSAGES = "/v1/campaign/rerun/messages"
CONTENT = 'Quote " back\\slash\nnew\tline \x01 \u2028 é 😀 </script>'


def container_of(api: Api) -> Container:
    container: Container = api.http.app.state.container  # type: ignore[attr-defined]
    return container


def as_json(value: Any) -> Any:
    """``value`` as orjson writes it (UTC times with Z), read back."""
    return orjson.loads(orjson.dumps(value, option=OPTIONS))


def expected_history(views: ReadModels, api: Api, campaign_id: str) -> Any:
    rows = views.run_history(api.account_id, UUID(campaign_id))
    return as_json({"data": rows})


def expected_page(views: ReadModels, api: Api, campaign_id: str, **body: Any) -> Any:
    run_number = body.get("run_number")
    found = views.run_messages(
        api.account_id,
        UUID(campaign_id),
        run_number=run_number,
        include_archived=body.get("include_archived", False) or run_number is not None,
        page=body.get("page", 1),
        page_size=body.get("page_size", 100),
    )
    assert found is not None
    pagination = {
        "page": found.page,
        "page_size": found.page_size,
        "total": found.total,
        "total_pages": found.total_pages,
    }
    return as_json({"data": found.items, "pagination": pagination})


@pytest.fixture
def rerun_campaign(api: Api) -> str:
    """Two runs (so archived messages and a finished run), numeric and odd text segment
    values, an edited message whose content needs every JSON escape."""
    api.ok("/v1/customer-fields/create", {"name": "plan", "type": "number"})
    api.ok("/v1/customer-fields/create", {"name": "region", "type": "string"})
    values = [(1, "EU"), (2.5, 'Nord "Ost"'), (1e-7, "Zürich\n"), (12345678901, "")]
    rows = [
        {"external_id": f"c{i}", "fields": {"plan": plan, "region": region}}
        for i, (plan, region) in enumerate(values)
    ]
    group_id = api.group("all", rows)
    campaign_id = str(api.create_campaign(group_id)["campaign_id"])
    first = api.ok(MESSAGES, {"campaign_id": campaign_id, "page_size": 1})["data"][0]
    body = {"campaign_id": campaign_id, "message_id": first["message_id"], "content": CONTENT}
    api.ok("/v1/campaign/messages/edit", body)
    api.approve_and_publish(campaign_id)
    started = api.ok(
        "/v1/campaign/rerun/initiate",
        {"campaign_id": campaign_id, "new_customer_group_id": group_id},
    )["data"]
    api.wait_for_job(str(started["job_uid"]))
    return campaign_id


def test_answers_are_the_read_models_rows(api: Api, rerun_campaign: str) -> None:
    views = container_of(api).read_models
    history = api.post(HISTORY, {"campaign_id": rerun_campaign})
    assert history.status_code == 200
    assert history.headers["content-type"] == "application/json"
    assert history.json() == expected_history(views, api, rerun_campaign)
    assert [run["run_number"] for run in history.json()["data"]] == [2, 1]

    pages: list[dict[str, Any]] = [
        {},
        {"include_archived": True},
        {"run_number": 1},
        {"run_number": 1, "page": 2, "page_size": 3},
        {"page": 2, "page_size": 1},
        {"page": 50, "page_size": 3},  # past the end: no data, the count still there
    ]
    for extra in pages:
        body = {"campaign_id": rerun_campaign, **extra}
        answer = api.post(MESSAGES, body)
        assert answer.status_code == 200, (extra, answer.text)
        assert answer.json() == expected_page(views, api, rerun_campaign, **extra), extra
    run_one = api.ok(MESSAGES, {"campaign_id": rerun_campaign, "run_number": 1})["data"]
    assert CONTENT in [message["content"] for message in run_one]
    assert all(message["is_archived"] for message in run_one)


def test_missing_campaign_and_run_keep_their_answers(
    api: Api, other: Api, rerun_campaign: str
) -> None:
    for who in (api, other):
        missing = who.post(HISTORY, {"campaign_id": str(UUID(int=7))})
        assert (missing.status_code, missing.json()["message"]) == (404, "Campaign not found")
    stranger = other.post(MESSAGES, {"campaign_id": rerun_campaign})
    assert (stranger.status_code, stranger.json()["message"]) == (404, "Campaign not found")
    no_run = api.post(MESSAGES, {"campaign_id": rerun_campaign, "run_number": 9})
    assert (no_run.status_code, no_run.json()["message"]) == (404, "Run not found")


def answered(api: Api, route: str) -> float:
    """The requests_total sample of ``route`` answered 200 (the label is the route's path)."""
    text = api.http.get("/metrics").text
    labels = {"method": "POST", "route": route, "status": "200"}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "nudgescribe_http_requests_total" and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_answers_carry_route_metrics_and_request_id(api: Api, rerun_campaign: str) -> None:
    before = answered(api, HISTORY), answered(api, MESSAGES)
    history = api.post(HISTORY, {"campaign_id": rerun_campaign})
    page = api.post(MESSAGES, {"campaign_id": rerun_campaign})
    assert history.status_code == page.status_code == 200
    assert history.headers["x-request-id"] != page.headers["x-request-id"]
    assert (answered(api, HISTORY), answered(api, MESSAGES)) == (before[0] + 1, before[1] + 1)


def test_first_request_of_an_account_not_in_memory_is_answered(api: Api) -> None:
    """The account is looked up once (in a thread), then it is in memory."""
    cache = container_of(api).account_cache
    with pytest.raises(AccountNotCached):
        cache.cached(api.account_id)
    missing = str(UUID(int=3))
    for _ in range(2):
        answer = api.post(HISTORY, {"campaign_id": missing})
        assert (answer.status_code, answer.json()["message"]) == (404, "Campaign not found")
    assert cache.cached(api.account_id).account_id == api.account_id


def test_a_token_accepted_once_is_refused_once_expired(api: Api) -> None:
    token = api.token(ttl_seconds=4)  # whole seconds: it lives 3-4 s
    headers = {**api.headers(), "authorization": f"Bearer {token}"}
    body = {"campaign_id": str(UUID(int=5))}
    first = api.http.post(HISTORY, json=body, headers=headers)
    assert first.status_code == 404  # verified (and remembered), then no such campaign
    expired = wait_until(
        lambda: api.http.post(HISTORY, json=body, headers=headers),
        lambda response: response.status_code != 404,
        15.0,
    )
    assert (expired.status_code, expired.json()["message"]) == (403, "auth error")
    # still checked first: a wrong api code is "Unauthorized", whatever the token
    bad_code = {**headers, "x-auth-context": '{"api_access": true, "api_code": "nope"}'}
    refused = api.http.post(HISTORY, json=body, headers=bad_code)
    assert (refused.status_code, refused.json()["message"]) == (403, "Unauthorized")


def test_a_token_tampered_after_a_good_one_is_refused(api: Api) -> None:
    good = api.token()
    body = {"campaign_id": str(UUID(int=5))}
    headers = {**api.headers(), "authorization": f"Bearer {good}"}
    assert api.http.post(HISTORY, json=body, headers=headers).status_code == 404
    head, claims, signature = good.split(".")
    tampered = f"{head}.{claims}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    headers["authorization"] = f"Bearer {tampered}"
    refused = api.http.post(HISTORY, json=body, headers=headers)
    assert (refused.status_code, refused.json()["message"]) == (403, "auth error")


def test_oversized_bodies_are_refused_and_chunked_ones_answered(
    api: Api, rerun_campaign: str
) -> None:
    big = {"campaign_id": rerun_campaign, "padding": "x" * (1 << 20)}
    assert api.post(HISTORY, big).status_code == 413

    def chunks() -> Any:
        yield b'{"campaign_id": "'
        yield rerun_campaign.encode()
        yield b'"}'

    headers = {**api.headers(), "content-type": "application/json"}
    answer = api.http.post(HISTORY, content=chunks(), headers=headers)
    assert answer.status_code == 200
    assert answer.json() == expected_history(container_of(api).read_models, api, rerun_campaign)
