"""Every success answer of every route is valid against the route's declared response
model, so /openapi.json describes what the API sends.

One account's life drives every route at least once with valid requests; each 2xx body
recorded on the way is validated, strictly (no "5" for an int), with pydantic against the
``response_model`` of the route that answered it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError

from api.models.responses import Counted, Envelope
from api.openapi import api_routes
from application.webhooks.outbox import Outbox, Result
from tests.api_client import Api, customers, wait_until

pytestmark = pytest.mark.integration

UNMODELLED = {("GET", "/metrics")}  # Prometheus text, not JSON


def declared(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """The routes /openapi.json documents (the review console's HTML pages are not)."""
    return {
        (m, route.path): route
        for route in api_routes(app.routes)
        if route.include_in_schema
        for m in route.methods
    }


def invalid_answers(app: FastAPI, answers: list[httpx.Response]) -> list[str]:
    """What is wrong with each 2xx answer, checked against its route's response model."""
    routes, found = declared(app), []
    for answer in answers:
        key = (answer.request.method, answer.request.url.path)
        if not answer.is_success or key in UNMODELLED:
            continue
        try:
            TypeAdapter(routes[key].response_model).validate_json(answer.content, strict=True)
        except ValidationError as error:
            found.append(f"{key}: {error}")
    return found


@pytest.fixture
def recorded(http: TestClient) -> Iterator[list[httpx.Response]]:
    """Every answer ``http`` gives while the test runs."""
    answers: list[httpx.Response] = []

    def record(response: httpx.Response) -> None:
        response.read()
        answers.append(response)

    http.event_hooks["response"].append(record)
    try:
        yield answers
    finally:
        http.event_hooks["response"].remove(record)


def live_every_route(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    http = api.http
    assert http.get("/health").is_success
    assert http.get("/ready").is_success
    assert http.get("/metrics").is_success
    body = {"api_key": api.api_key, "user_id": "user-1"}
    api.ok("/v1/auth/authenticate", body)
    assert http.get("/v1/auth/reauthenticate", headers=api.headers()).is_success

    api.define_fields("plan", "region")
    extra = api.ok("/v1/customer-fields/create", {"name": "extra", "type": "number"})["data"]
    api.ok("/v1/customer-fields/update", {"field_id": extra["field_id"], "required": False})
    api.ok("/v1/customer-fields/list", {})
    api.ok("/v1/customer-fields/delete", {"field_id": extra["field_id"]})

    rows = customers("rm", [("gold", "EU"), ("silver", "EU")])
    group_id = api.group("all", rows)
    api.ok("/v1/customers/list", {})
    api.ok("/v1/customers/pages", {"page_size": 1})
    spare = api.group("spare", customers("spare", [("gold", "US")], each=1))
    api.ok("/v1/customer-groups/update", {"customer_group_id": spare, "name": "spare 2"})
    api.ok("/v1/customer-groups/list", {})
    api.ok("/v1/customer-groups/delete", {"customer_group_id": spare})
    api.ok("/v1/customers/delete", {"external_ids": ["spare-gold-US-0"]})

    campaign_id = str(api.create_campaign(group_id)["campaign_id"])
    ref = {"campaign_id": campaign_id}
    api.ok("/v1/campaign/list", {})
    api.ok("/v1/campaign/get", {**ref, "as_of_run": 1})
    api.ok("/v1/campaign/get", {**ref, "as_of": datetime.now(UTC).isoformat()})
    first = api.ok("/v1/campaign/rerun/messages", ref)["data"][0]
    message = {**ref, "message_id": first["message_id"]}
    api.ok("/v1/campaign/messages/edit", {**message, "content": "Edited"})
    regenerated = api.ok("/v1/campaign/messages/regenerate", message)["data"]
    api.wait_for_job(str(regenerated["job_uid"]))
    api.approve_and_publish(campaign_id)  # review, publish, get
    api.ok("/v1/campaign/messages/pages", {**ref, "page_size": 1})
    api.ok("/v1/campaign/messages/published", ref)
    body = {**ref, "new_customer_group_id": group_id}
    api.ok("/v1/campaign/rerun/preview", body)
    started = api.ok("/v1/campaign/rerun/initiate", body)["data"]
    api.wait_for_job(str(started["job_uid"]))  # job
    api.ok("/v1/campaign/rerun/history", ref)
    api.ok("/v1/campaign/rerun/messages", {**ref, "run_number": 1, "page_size": 2})

    # An "openai" campaign created while the server had an endpoint, run after it lost it
    # (this server has none, so create is told it has): its run fails, and can be retried.
    commands = api.http.app.state.container.commands  # type: ignore[attr-defined]
    monkeypatch.setattr(commands, "providers", commands.providers | {"openai"})
    failing = {
        "name": "Failing",
        "customer_group_id": group_id,
        "segment_variables": ["plan"],
        "ai_config": {"provider": "openai", "prompt": "Hi {{plan}}"},
    }
    created = api.ok("/v1/campaign/create", failing)["data"]
    assert api.wait_for_job(str(created["job_uid"]))["phase"] == "Failed"
    failed = {"campaign_id": str(created["campaign_id"])}
    wait_until(lambda: api.campaign(failed["campaign_id"])["status"], "Failed".__eq__, 30.0)
    api.ok("/v1/campaign/rerun/retry", failed)

    hook = {"url": "https://93.184.215.14/hook", "events": ["run.completed"]}
    webhook = {"webhook_id": api.ok("/v1/webhooks/create", hook)["data"]["webhook_id"]}
    api.ok("/v1/webhooks/list", {})
    api.ok("/v1/webhooks/update", {**webhook, "description": "CRM"})
    api.ok("/v1/webhooks/rotate-secret", webhook)
    ping = api.ok("/v1/webhooks/test", webhook)["data"]["message_id"]
    # An attempt recorded as the dispatcher records it (this app runs none).
    Outbox(api.http.app.state.container.pool).record(  # type: ignore[attr-defined]
        [Result(ping, UUID(webhook["webhook_id"]), 500, 1.0, "HTTP 500", datetime.now(UTC), False)]
    )
    assert api.ok("/v1/webhooks/deliveries", webhook)["data"]
    api.ok("/v1/webhooks/redeliver", {**webhook, "message_id": ping})
    api.ok("/v1/webhooks/delete", webhook)


def test_every_success_answer_is_valid_against_its_response_model(
    api: Api, recorded: list[httpx.Response], monkeypatch: pytest.MonkeyPatch
) -> None:
    live_every_route(api, monkeypatch)

    app: FastAPI = api.http.app  # type: ignore[attr-defined]
    answered = {(a.request.method, a.request.url.path) for a in recorded if a.is_success}
    assert sorted(declared(app).keys() - answered) == []
    assert invalid_answers(app, recorded) == []


def test_an_answer_with_a_field_of_the_wrong_type_is_found() -> None:
    """The check above can fail: a route answering "3" where its model has an int."""
    app = FastAPI()

    @app.post("/count", response_model=Envelope[Counted])
    def count() -> JSONResponse:  # a Response: FastAPI sends it unvalidated
        return JSONResponse({"data": {"total": "3", "total_pages": 1}})

    with TestClient(app) as client:
        answer = client.post("/count")

    assert answer.status_code == 200
    (problem,) = invalid_answers(app, [answer])
    assert "data.total" in problem
